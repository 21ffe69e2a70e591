//! The arcus-memcached command line: flags, their defaults and the checks that exit early.

use clap::{ArgAction, Parser};

/// arcus-memcached's flags. Engine and extension paths are recorded, never loaded.
#[derive(Parser, Debug, Clone)]
#[command(name = "memcached", version = None, disable_help_flag = true, disable_version_flag = true)]
pub struct Args {
    /// assume the identity of <username> (only when run as root)
    #[arg(short = 'u')]
    pub user: Option<String>,
    /// engine to load (recorded only)
    #[arg(short = 'E')]
    pub engine: Option<String>,
    /// extension to load; syslog_logger.so logs to syslog, ascii_scrub.so changes the unknown-command reply
    #[arg(short = 'X')]
    pub extensions: Vec<String>,
    /// run as a daemon
    #[arg(short = 'd')]
    pub daemon: bool,
    /// verbose (-v), very verbose (-vv)
    #[arg(short = 'v', action = ArgAction::Count)]
    pub verbose: u8,
    /// maximize core file limit (accepted)
    #[arg(short = 'r')]
    pub core_limit: bool,
    /// maximum number of requests per event (accepted)
    #[arg(short = 'R')]
    pub reqs_per_event: Option<u32>,
    /// UDP port (accepted; UDP is not served)
    #[arg(short = 'U')]
    pub udp_port: Option<u16>,
    /// prefix delimiter (accepted)
    #[arg(short = 'D')]
    pub delimiter: Option<String>,
    /// listen backlog
    #[arg(short = 'b', default_value_t = 1024)]
    pub backlog: u32,
    /// item memory in megabytes
    #[arg(short = 'm', default_value_t = 64)]
    pub memory_mb: u64,
    /// TCP port to listen on
    #[arg(short = 'p', default_value_t = 11211)]
    pub port: u16,
    /// max simultaneous connections
    #[arg(short = 'c', default_value_t = 1024)]
    pub max_conns: usize,
    /// number of worker threads
    #[arg(short = 't', default_value_t = 4)]
    pub threads: usize,
    /// ZooKeeper ensemble, host:port,...
    #[arg(short = 'z')]
    pub zookeeper: Option<String>,
    /// ZooKeeper session timeout in seconds (10..2000, else 30)
    #[arg(short = 'o')]
    pub zk_timeout: Option<i64>,
    /// interface to listen on (default: every IPv4 and IPv6 address)
    #[arg(short = 'l')]
    pub listen: Option<String>,
    /// max item size (k and m suffixes)
    #[arg(short = 'I', default_value = "1m", value_parser = parse_size)]
    pub item_size: usize,
    /// print this help and exit
    #[arg(short = 'h', action = ArgAction::Help)]
    pub help: Option<bool>,
}

impl Args {
    /// The session timeout to request: `-o` in 10..=2000 seconds, anything else 30.
    pub fn session_timeout_secs(&self) -> u64 {
        match self.zk_timeout {
            Some(t @ 10..=2000) => t as u64,
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

pub fn parse_size(s: &str) -> Result<usize, String> {
    let (digits, unit) = match s.as_bytes().last() {
        Some(b'k' | b'K') => (&s[..s.len() - 1], 1024),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 1024 * 1024),
        _ => (s, 1),
    };
    let n: usize = digits.parse().map_err(|_| format!("bad size {s}"))?;
    let size = n * unit;
    if !(1024..=128 * 1024 * 1024).contains(&size) {
        return Err("Item max size cannot be less than 1024 bytes or larger than 128 MB.".into());
    }
    Ok(size)
}

/// Parses the process arguments; usage errors print the usage and exit 1, `-h` exits 0.
pub fn parse() -> Args {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
            print!("{}", e.render());
            std::process::exit(0)
        }
        Err(e) => {
            eprint!("{}", e.render());
            std::process::exit(1)
        }
    };
    if args.memory_mb == 0 {
        eprintln!("The value of memory limit must be greater than 0.");
        std::process::exit(1);
    }
    if args.threads == 0 || args.max_conns == 0 {
        eprintln!("Number of threads and connections must be greater than 0.");
        std::process::exit(1);
    }
    args
}
