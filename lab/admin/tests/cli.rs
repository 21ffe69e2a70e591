//! The binary's command line and `scripts/arcus.sh`, without ZooKeeper: usage, option errors, the
//! zklist default the operator edits once (runbook step 5), early errors.

mod common;
use common::TempDir;
use std::path::Path;
use std::process::{Command, Output};

fn arcus(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_arcus")).args(args).env_remove("ARCUS_ZKLIST").output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// A copy of the admin overlay's scripts/arcus.sh next to the built binary, as in /opt/arcus.
fn install(name: &str) -> TempDir {
    let home = TempDir::new(name);
    std::fs::create_dir_all(home.0.join("scripts")).unwrap();
    std::fs::create_dir_all(home.0.join("bin")).unwrap();
    let overlay = Path::new(env!("CARGO_MANIFEST_DIR")).join("../images/admin/arcus");
    std::fs::copy(overlay.join("scripts/arcus.sh"), home.0.join("scripts/arcus.sh")).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_arcus"), home.0.join("bin/arcus")).unwrap();
    home
}

fn in_scripts(home: &Path, line: &str) -> Output {
    Command::new("sh").arg("-c").arg(line).current_dir(home.join("scripts")).env_remove("ARCUS_HOME").output().unwrap()
}

#[test]
fn help_exits_0_with_the_usage_on_stdout() {
    let out = arcus(&["-h"]);
    assert_eq!(out.status.code(), Some(0));
    let usage = text(&out.stdout);
    assert!(usage.starts_with("Usage:\n  "), "{usage}");
    assert!(usage.contains(" [-z <zklist>] memcached start|stop|list <service_code>\n"), "{usage}");
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn usage_errors_exit_1_with_the_message_and_the_usage() {
    for (args, message) in [
        (&["-x", "memcached", "listall"][..], "-x: unknown option.\n"),
        (&["--zklist"][..], "The --zklist option requires an argument.\n"),
        (&["-z", "-h", "memcached", "listall"][..], "The -z option requires an argument.\n"),
        (&["memcached", "list"][..], "memcached list: missing <service_code>.\n"),
        (&["zookeeper"][..], "zookeeper: missing init|start|stop|stat.\n"),
        (&["nosuchcommand"][..], "nosuchcommand: unknown command.\n"),
        (&["-z", "10.0.0.3:2181", "zookeeper", "restart"][..], "zookeeper restart: unknown command.\n"),
        (&["memcached", "listall", "ruo91-cloud"][..], "ruo91-cloud: unexpected argument after `memcached listall`.\n"),
        (&[][..], ""),
    ] {
        let out = arcus(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.starts_with(&format!("{message}Usage:\n")), "{args:?}: {stderr}");
        assert_eq!(text(&out.stdout), "", "{args:?}");
    }
}

#[test]
fn a_bad_zklist_entry_is_named() {
    let out = arcus(&["-z", "10.0.0.3:2181,memcached-2", "memcached", "listall"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: bad zklist entry \"memcached-2\" in \"10.0.0.3:2181,memcached-2\": expected host:port with a port in 1..65535\n"
    );
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn a_bad_conf_fails_before_any_output() {
    let dir = TempDir::new("conf");
    let conf = dir.0.join("broken.json");
    std::fs::write(&conf, "{\n  \"serviceCode\": \"s\",\n  \"servers\": [\n}\n").unwrap();
    for command in ["deploy", "quicksetup"] {
        let out = arcus(&["-z", "127.0.0.1:1", command, conf.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{command}");
        assert_eq!(text(&out.stderr), format!("error: {}:4:1: not valid JSON: expected value\n", conf.display()));
        assert_eq!(text(&out.stdout), "", "{command}");
    }
}

#[test]
fn an_unknown_timing_profile_fails_before_anything_runs() {
    let out = Command::new(env!("CARGO_BIN_EXE_arcus"))
        .args(["-z", "127.0.0.1:1", "zookeeper", "init"])
        .env("ARCUS_ZK_PROFILE", "quick")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "error: ARCUS_ZK_PROFILE=\"quick\": expected \"seed\" or \"fast\"\n");
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn arcus_sh_names_itself_as_invoked() {
    let home = install("usage");
    let out = in_scripts(&home.0, "./arcus.sh -h");
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).starts_with("Usage:\n  ./arcus.sh -h\n  ./arcus.sh [-z <zklist>] deploy"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn arcus_sh_names_an_unknown_command_then_the_usage() {
    let home = install("unknown");
    let out = in_scripts(&home.0, "./arcus.sh nosuchcommand");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("nosuchcommand: unknown command.\nUsage:\n  ./arcus.sh -h\n"), "{stderr}");
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn the_runbooks_sed_line_sets_the_default_zklist() {
    let home = install("sed");
    let script = home.0.join("scripts/arcus.sh");
    let before = std::fs::read_to_string(&script).unwrap();
    assert_eq!(before.matches("127.0.0.1:2181").count(), 1, "the default stands once in arcus.sh");

    // Runbook step 5, verbatim but for the addresses.
    let out =
        in_scripts(&home.0, "sed -i 's/127.0.0.1:2181/172.17.0.3:2181,172.17.0.4:2181,172.17.0.5:2181/g' arcus.sh");
    assert!(out.status.success());
    let after = std::fs::read_to_string(&script).unwrap();
    assert!(after.contains("\nzklist=\"172.17.0.3:2181,172.17.0.4:2181,172.17.0.5:2181\"\n"), "{after}");

    // The script's list reaches the binary (shown here through an entry the binary refuses, so
    // that nothing is contacted); -z still wins over it.
    let out = in_scripts(&home.0, "sed -i 's/172.17.0.5:2181/not-an-entry/' arcus.sh && ./arcus.sh memcached listall");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr)
        .starts_with("error: bad zklist entry \"not-an-entry\" in \"172.17.0.3:2181,172.17.0.4:2181,not-an-entry\""));
    let out = in_scripts(&home.0, "./arcus.sh -z 'bad entry' memcached listall");
    assert!(
        text(&out.stderr).starts_with("error: bad zklist entry \"bad entry\" in \"bad entry\""),
        "{}",
        text(&out.stderr)
    );
}

/// Runs `arcus <args>` on a terminal (util-linux `script` gives it a pty); returns what it printed.
fn on_a_terminal(args: &str, no_color: Option<&str>) -> String {
    let mut script = Command::new("script");
    script.args(["-qec", &format!("{} {args}", env!("CARGO_BIN_EXE_arcus")), "/dev/null"]).env_remove("ARCUS_ZKLIST");
    match no_color {
        Some(value) => script.env("NO_COLOR", value),
        None => script.env_remove("NO_COLOR"),
    };
    text(&script.output().unwrap().stdout)
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let args = "-z 10.0.0.3 memcached listall";
    assert!(on_a_terminal(args, None).contains("\x1b[31merror:\x1b[0m bad zklist entry"));
    assert!(on_a_terminal(args, Some("")).contains("\x1b[31merror:"), "an empty NO_COLOR does not count");
    let plain = on_a_terminal(args, Some("1"));
    assert!(plain.starts_with("error: bad zklist entry"), "{plain:?}");
    assert!(!plain.contains('\x1b'));
    // Not a terminal: no colour either.
    assert!(!text(&arcus(&["-z", "10.0.0.3", "memcached", "listall"]).stderr).contains('\x1b'));
}
