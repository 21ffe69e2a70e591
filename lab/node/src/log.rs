//! The node's log: stderr, or syslog (`memcached[pid]`, facility daemon, via /dev/log) when the
//! syslog_logger extension is named; `-v` levels decide which lines appear.

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::sync::{Mutex, OnceLock};

/// Where log lines go.
enum Sink {
    Stderr,
    Syslog(Option<UnixDatagram>),
}

struct Logger {
    sink: Mutex<Sink>,
    verbose: u8,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Sets up the log once; before this, lines go to stderr.
pub fn init(syslog: bool, verbose: u8) {
    let sink = if syslog { Sink::Syslog(connect_syslog()) } else { Sink::Stderr };
    let _ = LOGGER.set(Logger { sink: Mutex::new(sink), verbose });
}

fn connect_syslog() -> Option<UnixDatagram> {
    let sock = UnixDatagram::unbound().ok()?;
    sock.connect("/dev/log").ok()?;
    Some(sock)
}

pub fn verbose() -> u8 {
    LOGGER.get().map_or(0, |l| l.verbose)
}

/// Logs a line that always appears.
pub fn info(msg: &str) {
    write(msg);
}

/// Logs a line that appears at `-v` and above.
pub fn verbose1(msg: &str) {
    if verbose() >= 1 {
        write(msg);
    }
}

fn write(msg: &str) {
    let Some(logger) = LOGGER.get() else {
        eprintln!("{msg}");
        return;
    };
    let mut sink = logger.sink.lock().unwrap_or_else(|e| e.into_inner());
    match &mut *sink {
        Sink::Stderr => {
            let _ = writeln!(std::io::stderr(), "{msg}");
        }
        Sink::Syslog(sock) => {
            // <30> = facility daemon (3) * 8 + severity info (6)
            let line = format!("<30>memcached[{}]: {msg}", std::process::id());
            let sent = sock.as_ref().is_some_and(|s| s.send(line.as_bytes()).is_ok());
            if !sent {
                // syslogd may have been (re)started after us: reconnect once
                *sock = connect_syslog();
                if let Some(s) = sock.as_ref() {
                    let _ = s.send(line.as_bytes());
                }
            }
        }
    }
}

/// `log!("fmt", args)` logs at the always level.
#[macro_export]
macro_rules! log {
    ($($t:tt)*) => { $crate::log::info(&format!($($t)*)) };
}

/// `logv!("fmt", args)` logs at `-v`.
#[macro_export]
macro_rules! logv {
    ($($t:tt)*) => { $crate::log::verbose1(&format!($($t)*)) };
}
