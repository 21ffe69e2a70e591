//! The original's (Fabric's) layout on stdout: server roles, task/run/out lines, banners, `Done.`
//! and the disconnect lines. No trailing whitespace; colour only on a terminal, never with NO_COLOR.

use std::cell::{Cell, RefCell};
use std::io::IsTerminal;

const BOLD: &str = "\x1b[1m";
const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

/// The printer. Remembers whether the last line was empty (so blocks are separated by exactly one
/// empty line) and which remote hosts were contacted (for the disconnect lines).
pub struct Out {
    color: bool,
    last_blank: Cell<bool>,
    contacted: RefCell<Vec<String>>,
}

/// Whether a stream may carry colour: a terminal, and NO_COLOR unset or empty.
pub fn color_for(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

impl Out {
    pub fn new() -> Out {
        Out { color: color_for(&std::io::stdout()), last_blank: Cell::new(true), contacted: RefCell::new(Vec::new()) }
    }

    /// One line, without trailing whitespace.
    pub fn line(&self, text: &str) {
        let text = text.trim_end();
        println!("{text}");
        self.last_blank.set(text.is_empty());
    }

    /// An empty line, unless the last line already was one.
    pub fn blank(&self) {
        if !self.last_blank.get() {
            self.line("");
        }
    }

    fn styled(&self, style: &str, text: &str) -> String {
        if self.color {
            format!("{style}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    /// `Server Roles` and the role lists in Python's repr, then an empty line.
    pub fn server_roles(&self, zookeeper: &[String], memcached: &[String]) {
        let list = |items: &[String]| {
            let quoted: Vec<String> = items.iter().map(|i| format!("'{i}'")).collect();
            format!("[{}]", quoted.join(", "))
        };
        self.line("Server Roles");
        self.line(&format!("\t{{'zookeeper': {}, 'memcached': {}}}", list(zookeeper), list(memcached)));
        self.line("");
    }

    /// A section banner: `====== Task: zk_config`, `====== Func: zk_wait`, ...
    pub fn banner(&self, text: &str) {
        self.line(&self.styled(BOLD, &format!("====== {text}")));
    }

    /// `[<host>] <text>`, e.g. `Executing task 'zk_start'` or `run: <command>`.
    pub fn host(&self, host: &str, text: &str) {
        self.line(&format!("[{host}] {text}"));
    }

    /// A host's failure, in red on a terminal.
    pub fn host_error(&self, host: &str, text: &str) {
        self.line(&self.styled(RED, &format!("[{host}] error: {text}")));
    }

    /// `[<host>] out: <line>` for each line of a command's output, then an empty line if there was any.
    pub fn output(&self, host: &str, output: &str) {
        for line in output.lines() {
            self.line(&format!("[{host}] out: {line}"));
        }
        if !output.is_empty() {
            self.blank();
        }
    }

    /// Notes a remote host for the disconnect lines (once per host, in order of first contact).
    pub fn contacted(&self, host: &str) {
        let mut contacted = self.contacted.borrow_mut();
        if !contacted.iter().any(|h| h == host) {
            contacted.push(host.to_string());
        }
    }

    /// `Done.` after an empty line, then `Disconnecting from <host>... done.` per remote host.
    pub fn done(&self) {
        self.blank();
        self.line("Done.");
        for host in self.contacted.borrow().iter() {
            self.line(&format!("Disconnecting from {host}... done."));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_colour_on_a_stream_that_is_not_a_terminal() {
        // A file, never a terminal whatever runs the tests (the test's own stdout is one under
        // `cargo test` in a terminal); tests/cli.rs checks a real terminal through a pty.
        let not_a_terminal = std::fs::File::open("/dev/null").unwrap();
        assert!(!color_for(&not_a_terminal));
    }
}
