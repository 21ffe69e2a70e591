//! The command line: the original's grammar, its usage text, option errors and the zklist.

use std::path::PathBuf;

/// The zklist when neither `-z` nor `ARCUS_ZKLIST` gives one (the original's default).
pub const DEFAULT_ZKLIST: &str = "127.0.0.1:2181";

/// One subcommand of the grammar, with its argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Deploy(PathBuf),
    Ping(String),
    ZkInit,
    ZkStart,
    ZkStop,
    ZkStat,
    McRegister(PathBuf),
    McUnregister(String),
    McStart(String),
    McStop(String),
    McList(String),
    McListAll,
    QuickSetup(PathBuf),
}

/// A parsed invocation: `-h`, or a command to run.
#[derive(Debug, PartialEq, Eq)]
pub enum Invocation {
    Help,
    Run { zklist: Option<String>, json: bool, command: Command },
}

/// A usage error: printed with the usage text, exit status 1.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    #[error("{0}: unknown option.")]
    UnknownOption(String),
    #[error("The {0} option requires an argument.")]
    MissingValue(String),
    #[error("--json is only for zookeeper stat, memcached list and memcached listall.")]
    JsonNotSupported,
    /// A word the grammar does not know where it stands (after the words before it, if any).
    #[error("{}: unknown command.", .0.join(" "))]
    UnknownCommand(Vec<String>),
    /// A command without its argument: the words given, and what is missing.
    #[error("{}: missing {missing}.", .words.join(" "))]
    MissingArgument { words: Vec<String>, missing: &'static str },
    /// A word after a complete command.
    #[error("{extra}: unexpected argument after `{}`.", .command.join(" "))]
    ExtraArgument { command: Vec<String>, extra: String },
    /// No command at all: only the usage is printed.
    #[error("")]
    NoCommand,
}

/// The usage text, naming the program as invoked.
pub fn usage(prog: &str) -> String {
    let lines = [
        "-h",
        "[-z <zklist>] deploy <conf_file> | ping <service_code>",
        "[-z <zklist>] zookeeper init",
        "[-z <zklist>] zookeeper start|stop|stat",
        "[-z <zklist>] memcached register <conf_file> | unregister <service_code>",
        "[-z <zklist>] memcached start|stop|list <service_code>",
        "[-z <zklist>] memcached listall",
        "[-z <zklist>] quicksetup <conf_file>",
    ];
    let mut text = String::from("Usage:\n");
    for line in lines {
        text.push_str(&format!("  {prog} {line}\n"));
    }
    text
}

/// Parses the arguments after the program name. Options may stand anywhere.
pub fn parse(args: &[String]) -> Result<Invocation, UsageError> {
    let mut zklist = None;
    let mut json = false;
    let mut words: Vec<&str> = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Invocation::Help),
            "-z" | "--zklist" => match it.next() {
                Some(value) if !value.starts_with('-') => zklist = Some(value.clone()),
                _ => return Err(UsageError::MissingValue(arg.clone())),
            },
            "--json" => json = true,
            option if option.starts_with('-') => return Err(UsageError::UnknownOption(option.to_string())),
            word => words.push(word),
        }
    }
    let command = command(&words)?;
    let json_ok = matches!(command, Command::ZkStat | Command::McList(_) | Command::McListAll);
    if json && !json_ok {
        return Err(UsageError::JsonNotSupported);
    }
    Ok(Invocation::Run { zklist, json, command })
}

/// The words that may follow `zookeeper` and `memcached`.
const ZOOKEEPER: &str = "init|start|stop|stat";
const MEMCACHED: &str = "register|unregister|start|stop|list|listall";

/// The words of the grammar as a command; a word out of place is named.
fn command(words: &[&str]) -> Result<Command, UsageError> {
    let owned = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    // how many words make the command: the rest must not be there
    let arity = match words {
        [] => return Err(UsageError::NoCommand),
        ["deploy" | "ping" | "quicksetup", ..] => 2,
        ["zookeeper", "init" | "start" | "stop" | "stat", ..] | ["memcached", "listall", ..] => 2,
        ["memcached", "register" | "unregister" | "start" | "stop" | "list", ..] => 3,
        ["zookeeper" | "memcached"] => {
            let missing = if words[0] == "zookeeper" { ZOOKEEPER } else { MEMCACHED };
            return Err(UsageError::MissingArgument { words: owned(words), missing });
        }
        ["zookeeper" | "memcached", unknown, ..] => {
            return Err(UsageError::UnknownCommand(owned(&[words[0], unknown])))
        }
        [unknown, ..] => return Err(UsageError::UnknownCommand(owned(&[unknown]))),
    };
    if words.len() < arity {
        let missing = match words {
            ["deploy" | "quicksetup"] | ["memcached", "register"] => "<conf_file>",
            _ => "<service_code>",
        };
        return Err(UsageError::MissingArgument { words: owned(words), missing });
    }
    if let Some(extra) = words.get(arity) {
        return Err(UsageError::ExtraArgument { command: owned(&words[..arity]), extra: extra.to_string() });
    }
    Ok(match words {
        ["deploy", conf] => Command::Deploy(PathBuf::from(conf)),
        ["ping", svc] => Command::Ping(svc.to_string()),
        ["zookeeper", "init"] => Command::ZkInit,
        ["zookeeper", "start"] => Command::ZkStart,
        ["zookeeper", "stop"] => Command::ZkStop,
        ["zookeeper", "stat"] => Command::ZkStat,
        ["memcached", "register", conf] => Command::McRegister(PathBuf::from(conf)),
        ["memcached", "unregister", svc] => Command::McUnregister(svc.to_string()),
        ["memcached", "start", svc] => Command::McStart(svc.to_string()),
        ["memcached", "stop", svc] => Command::McStop(svc.to_string()),
        ["memcached", "list", svc] => Command::McList(svc.to_string()),
        ["memcached", "listall"] => Command::McListAll,
        ["quicksetup", conf] => Command::QuickSetup(PathBuf::from(conf)),
        _ => unreachable!("every command of the grammar has its arity above: {words:?}"),
    })
}

/// One ZooKeeper server of the zklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkServer {
    pub host: String,
    pub port: u16,
}

/// A zklist entry that is not `host:port`.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("bad zklist entry {entry:?} in {zklist:?}: expected host:port with a port in 1..65535")]
pub struct ZklistError {
    pub entry: String,
    pub zklist: String,
}

/// Splits a zklist (`host:port,host:port,...`) into its servers; every entry must be `host:port`.
pub fn parse_zklist(zklist: &str) -> Result<Vec<ZkServer>, ZklistError> {
    zklist
        .split(',')
        .map(|entry| {
            let bad = || ZklistError { entry: entry.to_string(), zklist: zklist.to_string() };
            let (host, port) = entry.rsplit_once(':').ok_or_else(bad)?;
            let valid_host = !host.is_empty() && !host.contains(|c: char| c.is_whitespace() || "/:@".contains(c));
            let port = port.parse::<u16>().ok().filter(|p| *p > 0 && valid_host).ok_or_else(bad)?;
            Ok(ZkServer { host: host.to_string(), port })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    fn run(command: Command) -> Invocation {
        Invocation::Run { zklist: None, json: false, command }
    }

    #[test]
    fn every_command_of_the_grammar() {
        let cases = [
            ("deploy conf/ruo91.json", Command::Deploy("conf/ruo91.json".into())),
            ("ping ruo91-cloud", Command::Ping("ruo91-cloud".into())),
            ("zookeeper init", Command::ZkInit),
            ("zookeeper start", Command::ZkStart),
            ("zookeeper stop", Command::ZkStop),
            ("zookeeper stat", Command::ZkStat),
            ("memcached register c.json", Command::McRegister("c.json".into())),
            ("memcached unregister svc", Command::McUnregister("svc".into())),
            ("memcached start svc", Command::McStart("svc".into())),
            ("memcached stop svc", Command::McStop("svc".into())),
            ("memcached list svc", Command::McList("svc".into())),
            ("memcached listall", Command::McListAll),
            ("quicksetup c.json", Command::QuickSetup("c.json".into())),
        ];
        for (line, command) in cases {
            assert_eq!(parse(&args(line)), Ok(run(command)), "{line}");
        }
    }

    #[test]
    fn options() {
        assert_eq!(parse(&args("-h")), Ok(Invocation::Help));
        assert_eq!(parse(&args("memcached listall -h")), Ok(Invocation::Help));
        assert_eq!(
            parse(&args("-z a:1,b:2 memcached listall")),
            Ok(Invocation::Run { zklist: Some("a:1,b:2".into()), json: false, command: Command::McListAll })
        );
        assert_eq!(
            parse(&args("--zklist a:1 memcached list svc --json")),
            Ok(Invocation::Run { zklist: Some("a:1".into()), json: true, command: Command::McList("svc".into()) })
        );
        assert_eq!(
            parse(&args("--json zookeeper stat")),
            Ok(Invocation::Run { zklist: None, json: true, command: Command::ZkStat })
        );
    }

    #[test]
    fn usage_errors() {
        assert_eq!(parse(&args("-x memcached listall")), Err(UsageError::UnknownOption("-x".into())));
        assert_eq!(parse(&args("-z")), Err(UsageError::MissingValue("-z".into())));
        assert_eq!(parse(&args("--zklist -h")), Err(UsageError::MissingValue("--zklist".into())));
        assert_eq!(parse(&args("-z -x zookeeper stat")), Err(UsageError::MissingValue("-z".into())));
        assert_eq!(parse(&args("--json deploy c.json")), Err(UsageError::JsonNotSupported));
        for (line, message) in [
            ("", ""),
            ("deploy", "deploy: missing <conf_file>."),
            ("ping", "ping: missing <service_code>."),
            ("zookeeper", "zookeeper: missing init|start|stop|stat."),
            ("zookeeper restart", "zookeeper restart: unknown command."),
            ("memcached", "memcached: missing register|unregister|start|stop|list|listall."),
            ("memcached register", "memcached register: missing <conf_file>."),
            ("memcached unregister", "memcached unregister: missing <service_code>."),
            ("memcached start", "memcached start: missing <service_code>."),
            ("memcached stop", "memcached stop: missing <service_code>."),
            ("memcached list", "memcached list: missing <service_code>."),
            ("memcached listall extra", "extra: unexpected argument after `memcached listall`."),
            ("memcached drop svc", "memcached drop: unknown command."),
            ("quicksetup", "quicksetup: missing <conf_file>."),
            ("deploy a b", "b: unexpected argument after `deploy a`."),
            ("zookeeper init now", "now: unexpected argument after `zookeeper init`."),
            ("bogus", "bogus: unknown command."),
            ("nosuchcommand memcached listall", "nosuchcommand: unknown command."),
        ] {
            assert_eq!(parse(&args(line)).map_err(|e| e.to_string()), Err(message.to_string()), "{line:?}");
        }
        assert_eq!(UsageError::UnknownOption("-x".into()).to_string(), "-x: unknown option.");
        assert_eq!(
            UsageError::MissingValue("--zklist".into()).to_string(),
            "The --zklist option requires an argument."
        );
    }

    #[test]
    fn usage_names_the_program_as_invoked() {
        let text = usage("./arcus.sh");
        assert!(text.starts_with(
            "Usage:\n  ./arcus.sh -h\n  ./arcus.sh [-z <zklist>] deploy <conf_file> | ping <service_code>\n"
        ));
        assert_eq!(text.lines().count(), 9);
        assert!(text.lines().all(|l| l == l.trim_end()));
    }

    #[test]
    fn zklist_entries() {
        assert_eq!(
            parse_zklist("10.0.0.3:2181,memcached-2:2182").unwrap(),
            vec![ZkServer { host: "10.0.0.3".into(), port: 2181 }, ZkServer { host: "memcached-2".into(), port: 2182 }]
        );
        for bad in ["10.0.0.3", "10.0.0.3:", ":2181", "h:0", "h:65536", "h:21x", "a:1,,b:2", "a:1,", "h h:1", "u@h:1"] {
            let err = parse_zklist(bad).unwrap_err();
            assert_eq!(err.zklist, bad);
        }
        assert_eq!(parse_zklist("a:1,b").unwrap_err().entry, "b");
    }

    #[test]
    fn random_zklists_parse_or_name_the_entry_and_never_panic() {
        const ZKLISTS: usize = 100_000;
        let pieces = ["10.0.0.3", "memcached-2", "h", ":", ",", "2181", "0", "65535", "65536", "-1", "", " ", "@", "/"];
        let mut rng = fastrand::Rng::with_seed(0x0021_1181);
        let (mut parsed, mut refused) = (0, 0);
        for n in 0..ZKLISTS {
            let mut zklist: String = if n % 2 == 0 {
                // entries of the right shape, some of them with a port out of range
                let hosts = ["10.0.0.3", "memcached-2", "h", "::1", ""];
                let ports = ["2181", "1", "65535", "0", "65536", "21x"];
                let entries = 1 + rng.usize(..4);
                let entry = |rng: &mut fastrand::Rng| {
                    format!("{}:{}", hosts[rng.usize(..hosts.len())], ports[rng.usize(..ports.len())])
                };
                (0..entries).map(|_| entry(&mut rng)).collect::<Vec<_>>().join(",")
            } else {
                (0..rng.usize(..8)).map(|_| pieces[rng.usize(..pieces.len())]).collect()
            };
            if n % 8 == 1 {
                // any bytes too
                zklist.extend((0..rng.usize(..6)).map(|_| rng.char(..)));
            }
            let outcome = std::panic::catch_unwind(|| parse_zklist(&zklist));
            match outcome {
                Err(_) => panic!("parse_zklist panicked on {zklist:?}"),
                Ok(Ok(servers)) => {
                    parsed += 1;
                    assert_eq!(servers.len(), zklist.split(',').count(), "{zklist:?}");
                    for (server, entry) in servers.iter().zip(zklist.split(',')) {
                        assert!(server.port > 0 && !server.host.is_empty(), "{zklist:?}");
                        assert!(entry.starts_with(&format!("{}:", server.host)), "{zklist:?}: {server:?}");
                    }
                }
                Ok(Err(e)) => {
                    refused += 1;
                    assert_eq!(e.zklist, zklist);
                    assert!(zklist.split(',').any(|entry| entry == e.entry), "{zklist:?}: {e}");
                    assert!(e.to_string().contains(&format!("{:?}", e.entry)), "{e}");
                }
            }
        }
        eprintln!("{ZKLISTS} random zklists: {parsed} parsed, {refused} refused naming the entry");
        assert!(parsed > 0 && refused > 0, "{parsed} parsed, {refused} refused");
    }
}
