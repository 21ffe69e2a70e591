//! Progress lines for long work: one line per step, rewritten in place on a terminal
//! (with the step's latest detail), plain `step ... done (1.2 s)` lines otherwise.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Where progress goes: stderr (terminal or not), or nowhere.
#[derive(Clone)]
pub struct Progress {
    mode: Mode,
    line: Arc<Mutex<()>>,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Silent,
    Plain,
    Terminal,
}

impl Progress {
    /// Progress on stderr, in place when stderr is a terminal.
    pub fn stderr() -> Progress {
        let mode = if std::io::stderr().is_terminal() { Mode::Terminal } else { Mode::Plain };
        Progress { mode, line: Arc::default() }
    }

    /// No output (tests, library callers).
    pub fn silent() -> Progress {
        Progress { mode: Mode::Silent, line: Arc::default() }
    }

    /// Starts a step; finish it with [`Step::done`].
    pub fn step(&self, what: impl Into<String>) -> Step {
        let step = Step { progress: self.clone(), what: what.into(), started: Instant::now() };
        match self.mode {
            Mode::Silent => {}
            Mode::Plain => self.print(&format!("{} ...\n", step.what)),
            Mode::Terminal => self.print(&format!("\r\x1b[K  … {}", step.what)),
        }
        step
    }

    fn print(&self, text: &str) {
        let _guard = self.line.lock().unwrap_or_else(|e| e.into_inner());
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }
}

/// One step of long work.
pub struct Step {
    progress: Progress,
    what: String,
    started: Instant,
}

impl Step {
    /// A detail of the step (a build line): shown in place on a terminal, dropped otherwise.
    pub fn detail(&self, detail: &str) {
        if self.progress.mode == Mode::Terminal {
            let detail: String = detail.trim().chars().take(60).collect();
            self.progress.print(&format!("\r\x1b[K  … {}: {detail}", self.what));
        }
    }

    /// Ends the step with its elapsed time.
    pub fn done(self) {
        self.finish("done");
    }

    /// Ends the step with another word (`skipped`, `present`).
    pub fn finish(self, word: &str) {
        let secs = self.started.elapsed().as_secs_f64();
        match self.progress.mode {
            Mode::Silent => {}
            Mode::Plain => self.progress.print(&format!("{}: {word} ({secs:.1} s)\n", self.what)),
            Mode::Terminal => self.progress.print(&format!("\r\x1b[K  ✓ {} ({word}, {secs:.1} s)\n", self.what)),
        }
    }
}
