//! The arcus-memcached command line: getopt's rules (`-p11211` or `-p 11211`, `-vv`, options
//! anywhere, `--` ends them), C's `atoi` for numbers, and the refusals arcus-memcached 1.15.0
//! makes while it reads the flags, with its messages and exit codes. The log is chosen here too,
//! as memcached chooses it while reading `-X`.

use std::ffi::OsString;

/// Flags with a value (getopt's `x:`); the others take none.
const WITH_VALUE: &[u8] = b"uEXRUDbmpctzolI";
const WITHOUT_VALUE: &[u8] = b"dvrh";

/// arcus-memcached's flags, with its defaults. Engine and extension paths are recorded, never loaded.
#[derive(Debug, Clone)]
pub struct Args {
    /// `-u`: the user to become when started as root
    pub user: Option<String>,
    /// `-E`: the engine (recorded only)
    pub engine: Option<String>,
    /// `-X`: extensions; syslog_logger.so logs to syslog, ascii_scrub.so changes the unknown-command reply
    pub extensions: Vec<String>,
    /// What `-m`, `-D` and `-I` give the engine, in the order they were read (`cache_size=...;`):
    /// the start of its `engine config:` line.
    pub engine_options: String,
    /// `-d`
    pub daemon: bool,
    /// `-v` once per v
    pub verbose: u8,
    /// `-r`: raise the core file limit
    pub core_limit: bool,
    /// `-R`, > 0 (accepted; one request at a time is read per event anyway)
    pub reqs_per_event: i32,
    /// `-U` (UDP is not served; its port is checked as memcached resolves it)
    pub udp_port: i32,
    /// `-D`: the first byte of the value, NUL when it is empty
    pub delimiter: char,
    /// `-b`: listen backlog, given to listen(2) as it is (the kernel caps it)
    pub backlog: i32,
    /// `-m`: item memory in megabytes, > 0
    pub memory_mb: i32,
    /// `-p`: TCP port; 0 = no TCP listener, -1 = a port the kernel picks (see [`listen_port`])
    pub port: i32,
    /// `-c`: max simultaneous connections (checked by [`crate::limits`])
    pub max_conns: i32,
    /// `-t`: worker threads, > 0
    pub threads: i32,
    /// `-z`: ZooKeeper ensemble, host:port,...
    pub zookeeper: Option<String>,
    /// `-o`: ZooKeeper session timeout in seconds as given (10..=2000 is used, anything else means 30)
    pub zk_timeout: i32,
    /// `-l`: the interface (name or address) to listen on; none = every IPv4 and IPv6 address
    pub listen: Option<String>,
    /// `-I`: max item size in bytes, 20 KB..=128 MB
    pub item_size: usize,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            user: None,
            engine: None,
            extensions: Vec::new(),
            daemon: false,
            verbose: 0,
            core_limit: false,
            reqs_per_event: 20,
            udp_port: 0,
            delimiter: ':',
            backlog: 1024,
            memory_mb: 64,
            port: 11211,
            max_conns: 1024,
            threads: 4,
            zookeeper: None,
            zk_timeout: 0,
            listen: None,
            item_size: 1024 * 1024,
            engine_options: String::new(),
        }
    }
}

impl Args {
    /// The session timeout to request: `-o` in 10..=2000 seconds, anything else 30.
    pub fn session_timeout_secs(&self) -> u64 {
        match self.zk_timeout {
            t @ 10..=2000 => t as u64,
            _ => 30,
        }
    }

    pub fn syslog(&self) -> bool {
        self.extensions.iter().any(|x| x.ends_with("syslog_logger.so"))
    }

    pub fn ascii_scrub(&self) -> bool {
        self.extensions.iter().any(|x| x.ends_with("ascii_scrub.so"))
    }
}

/// What reading the command line ended in, when it does not start the node.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `-h`: the usage, exit 0
    Help,
    /// getopt's own complaint (an unknown flag, a flag without its value), then the usage, exit 1
    Usage(String),
    /// a value memcached refuses: its message, exit 1
    Value(&'static str),
}

/// The flags as read, the warnings memcached gives on the way, or why it will not start.
#[derive(Debug)]
pub struct Reading {
    pub args: Args,
    pub warnings: Vec<&'static str>,
    pub refusal: Option<Refusal>,
    tcp_given: bool,
    udp_given: bool,
}

const THREADS_NOT_POSITIVE: &str = "Number of threads must be greater than 0";
// memcached's own text, with the space it lacks between "worker" and "threads"
const THREADS_MANY: &str = "WARNING: Setting a high number of workerthreads is not recommended.\n \
                            Set this value to the number of cores in your machine or less.";
const MEMORY_NOT_POSITIVE: &str = "The value of memory limit must be greater than 0.";
const REQS_NOT_POSITIVE: &str = "Number of requests per event must be greater than 0";
const ITEM_TOO_SMALL: &str = "Item max size cannot be less than 20KB.";
const ITEM_TOO_LARGE: &str = "Cannot set item size limit higher than 128 mb.";
const ITEM_ABOVE_1MB: &str = "WARNING: Setting item max size above 1MB is not recommended!\n \
                              Raising this limit increases the minimum memory requirements\n \
                              and will decrease your memory efficiency.";

/// C's `atoi` as glibc has it: `(int) strtol(s, NULL, 10)`: leading white space, a sign, the
/// digits up to the first other byte (none: 0); past the range of a long it saturates, and the
/// long is then cut to 32 bits.
pub fn atoi(s: &str) -> i32 {
    let b = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']).as_bytes();
    let (negative, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let mut magnitude: i128 = 0;
    for d in digits.iter().take_while(|d| d.is_ascii_digit()) {
        magnitude = (magnitude * 10 + i128::from(d - b'0')).min(i128::from(i64::MAX) + 1);
    }
    let long = if negative { (-magnitude).max(i64::MIN.into()) } else { magnitude.min(i64::MAX.into()) };
    long as i64 as i32
}

/// `-I`: a trailing k/K or m/M multiplies (in 32-bit arithmetic, as memcached's int does).
fn item_size(value: &str) -> i32 {
    match value.as_bytes().last() {
        Some(b'k' | b'K') => atoi(&value[..value.len() - 1]).wrapping_mul(1024),
        Some(b'm' | b'M') => atoi(&value[..value.len() - 1]).wrapping_mul(1024 * 1024),
        _ => atoi(value),
    }
}

/// Reads `argv` (without the program name) as memcached's getopt loop does: in order, stopping at
/// the first refusal. `program` names the binary in getopt's complaints.
pub fn read(program: &str, argv: &[String]) -> Reading {
    let mut reading =
        Reading { args: Args::default(), warnings: Vec::new(), refusal: None, tcp_given: false, udp_given: false };
    let mut i = 0;
    while i < argv.len() {
        let word = argv[i].as_str();
        i += 1;
        if word == "--" {
            break;
        }
        if word.len() < 2 || !word.starts_with('-') {
            // getopt moves operands out of the way and goes on; memcached ignores them
            continue;
        }
        for (at, letter) in word[1..].char_indices() {
            let flag = u8::try_from(letter).ok().filter(|b| WITH_VALUE.contains(b) || WITHOUT_VALUE.contains(b));
            let Some(flag) = flag else {
                reading.refusal = Some(Refusal::Usage(format!("{program}: invalid option -- '{letter}'")));
                return reading;
            };
            if WITHOUT_VALUE.contains(&flag) {
                if let Some(refusal) = switch(&mut reading.args, flag) {
                    reading.refusal = Some(refusal);
                    return reading;
                }
                continue;
            }
            // the rest of this word is the value, or else the next word, whatever it looks like
            let rest = &word[1 + at + letter.len_utf8()..];
            let value = if !rest.is_empty() {
                rest.to_string()
            } else if i < argv.len() {
                i += 1;
                argv[i - 1].clone()
            } else {
                reading.refusal = Some(Refusal::Usage(format!("{program}: option requires an argument -- '{letter}'")));
                return reading;
            };
            if let Some(refusal) = valued(&mut reading, flag, value) {
                reading.refusal = Some(refusal);
                return reading;
            }
            break;
        }
    }
    // a UDP port without a TCP one is the TCP port too
    if reading.udp_given && reading.args.udp_port != 0 && !reading.tcp_given {
        reading.args.port = reading.args.udp_port;
    }
    reading
}

fn switch(args: &mut Args, flag: u8) -> Option<Refusal> {
    match flag {
        b'd' => args.daemon = true,
        b'v' => args.verbose = args.verbose.saturating_add(1),
        b'r' => args.core_limit = true,
        _ => return Some(Refusal::Help),
    }
    None
}

fn valued(reading: &mut Reading, flag: u8, value: String) -> Option<Refusal> {
    let args = &mut reading.args;
    match flag {
        b'u' => args.user = Some(value),
        b'E' => args.engine = Some(value),
        b'X' => args.extensions.push(value),
        b'z' => args.zookeeper = Some(value),
        b'l' => args.listen = Some(value),
        b'D' => {
            args.delimiter = value.bytes().next().map_or('\0', char::from);
            args.engine_options.push_str(&format!("prefix_delimiter={};", args.delimiter));
        }
        b'U' => {
            args.udp_port = atoi(&value);
            reading.udp_given = true;
        }
        b'p' => {
            args.port = atoi(&value);
            reading.tcp_given = true;
        }
        b'c' => args.max_conns = atoi(&value),
        b'b' => args.backlog = atoi(&value),
        b'o' => args.zk_timeout = atoi(&value),
        b'R' => {
            args.reqs_per_event = atoi(&value);
            if args.reqs_per_event <= 0 {
                return Some(Refusal::Value(REQS_NOT_POSITIVE));
            }
        }
        b'm' => {
            args.memory_mb = atoi(&value);
            if args.memory_mb <= 0 {
                return Some(Refusal::Value(MEMORY_NOT_POSITIVE));
            }
            args.engine_options.push_str(&format!("cache_size={};", i64::from(args.memory_mb) * 1024 * 1024));
        }
        b't' => {
            args.threads = atoi(&value);
            if args.threads <= 0 {
                return Some(Refusal::Value(THREADS_NOT_POSITIVE));
            }
            if args.threads > 64 {
                reading.warnings.push(THREADS_MANY);
            }
        }
        b'I' => {
            let size = item_size(&value);
            if size < 20 * 1024 {
                return Some(Refusal::Value(ITEM_TOO_SMALL));
            }
            if size > 128 * 1024 * 1024 {
                return Some(Refusal::Value(ITEM_TOO_LARGE));
            }
            if size > 1024 * 1024 {
                reading.warnings.push(ITEM_ABOVE_1MB);
            }
            args.item_size = size as usize;
            args.engine_options.push_str(&format!("item_size_max={size};"));
        }
        _ => unreachable!("every flag of WITH_VALUE has an arm"),
    }
    None
}

/// The port a listening socket is bound to for memcached's port value, as glibc's getaddrinfo
/// reads the decimal text memcached gives it (`-1` is passed as 0 first): a number is cut to
/// 16 bits, so 65536 is 0 (a port the kernel picks) and 70000 is 4464; a negative number is no
/// service at all (`None`).
pub fn listen_port(port: i32) -> Option<u16> {
    match port {
        -1 => Some(0),
        p if p < 0 => None,
        p => Some(p as u16),
    }
}

/// gai_strerror's text for a negative port: getaddrinfo has no such service.
pub const NO_SUCH_SERVICE: &str = "Servname not supported for ai_socktype";

fn usage(program: &str) -> String {
    format!(
        "usage: {program} [flags]  (the reference Arcus cache node: arcus-memcached 1.15.0's flags)\n\
         -p <num>   TCP port to listen on (default 11211; 0: none)\n\
         -U <num>   UDP port (default 0; UDP is not served)\n\
         -l <addr>  interface to listen on (default: every IPv4 and IPv6 address)\n\
         -d         run as a daemon\n\
         -r         raise the core file limit\n\
         -u <name>  the user to become when started as root\n\
         -m <num>   item memory in megabytes (default 64)\n\
         -c <num>   max simultaneous connections (default 1024)\n\
         -v         verbose; -vv very verbose\n\
         -h         print this help and exit\n\
         -t <num>   worker threads (default 4)\n\
         -D <char>  key prefix delimiter (default :)\n\
         -R <num>   max requests per event (default 20)\n\
         -b <num>   listen backlog (default 1024)\n\
         -I <size>  max item size, 20k..128m (default 1m)\n\
         -E <path>  engine (recorded, not loaded)\n\
         -X <path>  extension: syslog_logger.so logs to syslog, ascii_scrub.so changes the unknown-command reply\n\
         -z <list>  ZooKeeper ensemble, host:port,...\n\
         -o <secs>  ZooKeeper session timeout, 10..2000 (else 30)\n"
    )
}

/// Reads the process's arguments and sets up the log the flags name. `-h` prints the usage and
/// exits 0; a refused value is logged with memcached's message and exits 1; an unknown flag or a
/// missing value prints getopt's complaint and the usage and exits 1. Warnings are logged.
pub fn parse() -> Args {
    let mut argv = std::env::args_os().map(OsString::into_string);
    let program = argv.next().and_then(Result::ok).unwrap_or_else(|| "memcached".into());
    let argv: Vec<String> = argv.map(|a| a.unwrap_or_else(|raw| raw.to_string_lossy().into_owned())).collect();
    let Reading { args, warnings, refusal, .. } = read(&program, &argv);
    crate::log::init(args.syslog(), args.verbose);
    match refusal {
        None => {}
        Some(Refusal::Help) => {
            print!("{}", usage(&program));
            std::process::exit(0);
        }
        Some(Refusal::Usage(complaint)) => {
            // getopt writes to stderr itself; memcached's own line goes through its log
            eprintln!("{complaint}");
            crate::log!("Illegal argument \"?\"");
            eprint!("{}", usage(&program));
            std::process::exit(1);
        }
        Some(Refusal::Value(message)) => {
            for warning in &warnings {
                crate::log!("{warning}");
            }
            crate::log!("{message}");
            std::process::exit(1);
        }
    }
    for warning in &warnings {
        crate::log!("{warning}");
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_words(words: &str) -> Reading {
        let argv: Vec<String> = words.split_whitespace().map(String::from).collect();
        read("memcached", &argv)
    }

    #[test]
    fn atoi_is_glibcs() {
        for (text, n) in [
            ("11211", 11211),
            ("  42x", 42),
            ("+7", 7),
            ("-3", -3),
            ("abc", 0),
            ("", 0),
            ("-", 0),
            ("99999999999", 1215752191),
            ("4294967297", 1),
            ("2147483648", i32::MIN),
            ("99999999999999999999999", -1),
            ("-99999999999999999999999", 0),
        ] {
            assert_eq!(atoi(text), n, "atoi({text:?})");
        }
    }

    #[test]
    fn getopt_words() {
        let r = read_words("-vv -p11211 -m 100 extra -d -- -t 0");
        assert_eq!(r.refusal, None);
        assert_eq!(
            (r.args.verbose, r.args.port, r.args.memory_mb, r.args.daemon, r.args.threads),
            (2, 11211, 100, true, 4)
        );
        let r = read_words("-p -1 -D -");
        assert_eq!((r.args.port, r.args.delimiter), (-1, '-'));
        assert_eq!(read_words("-U 22122").args.port, 22122);
        assert_eq!(read_words("-U 22122 -p 0").args.port, 0);
        assert_eq!(read_words("-U 0").args.port, 11211);
        assert_eq!(read_words("-y").refusal, Some(Refusal::Usage("memcached: invalid option -- 'y'".into())));
        assert_eq!(read_words("--port").refusal, Some(Refusal::Usage("memcached: invalid option -- '-'".into())));
        assert_eq!(
            read_words("-v -p").refusal,
            Some(Refusal::Usage("memcached: option requires an argument -- 'p'".into()))
        );
        // the first refusal in argv order wins
        assert_eq!(read_words("-t 0 -m 0").refusal, Some(Refusal::Value(THREADS_NOT_POSITIVE)));
        assert_eq!(read_words("-m 0 -y").refusal, Some(Refusal::Value(MEMORY_NOT_POSITIVE)));
        assert_eq!(read_words("-h -m 0").refusal, Some(Refusal::Help));
    }

    #[test]
    fn item_sizes() {
        for (text, refusal, size) in [
            ("20k", None, 20480),
            ("20479", Some(ITEM_TOO_SMALL), 0),
            ("1g", Some(ITEM_TOO_SMALL), 0),
            ("128m", None, 128 << 20),
            ("129M", Some(ITEM_TOO_LARGE), 0),
            ("4096m", Some(ITEM_TOO_SMALL), 0),
            ("", Some(ITEM_TOO_SMALL), 0),
        ] {
            let r = read("memcached", &["-I".into(), text.into()]);
            assert_eq!(r.refusal, refusal.map(Refusal::Value), "-I {text:?}");
            if refusal.is_none() {
                assert_eq!(r.args.item_size, size, "-I {text:?}");
            }
        }
        assert_eq!(read_words("-I 2m").warnings, vec![ITEM_ABOVE_1MB]);
    }

    #[test]
    fn ports_as_getaddrinfo_reads_them() {
        assert_eq!(listen_port(11211), Some(11211));
        assert_eq!(listen_port(-1), Some(0));
        assert_eq!(listen_port(65536), Some(0));
        assert_eq!(listen_port(70000), Some(4464));
        assert_eq!(listen_port(i32::MAX), Some(65535));
        assert_eq!(listen_port(-2), None);
    }
}
