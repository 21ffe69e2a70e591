//! Progress lines for long work. On a terminal every running step has a line of its own (an
//! indicatif spinner, the step's latest detail, the time so far), so steps that run side by side
//! (the runbook's preparation steps; the hosts starting while the admin image is built) do not
//! overwrite each other; a finished step leaves `✓ <what> (<word>, 1.2 s)` above the running ones,
//! and a step dropped unfinished (an error, an interrupt) leaves `✗ <what> (stopped, 1.2 s)`.
//! Otherwise (a log, CI) plain lines: `<what> ...` when a step starts, `<what>: <stage>` for each
//! stage it reaches (an image build's Dockerfile steps), `<what>: <word> (1.2 s)` when it ends,
//! nothing for a detail or a dropped step.

use std::fmt;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// Where progress goes: stderr (terminal or not), or nowhere.
#[derive(Clone)]
pub struct Progress {
    out: Out,
}

#[derive(Clone)]
enum Out {
    Silent,
    /// One line per start and end, written whole under the lock.
    Plain(Arc<Mutex<dyn Write + Send>>),
    /// A spinner line per running step.
    Terminal(MultiProgress),
}

/// How often a spinner turns (and its time is redrawn).
const TICK: Duration = Duration::from_millis(100);

/// How much of a detail a spinner line shows.
const DETAIL_CHARS: usize = 60;

/// How much of a stage a spinner line shows (a detail after it gets what is left of DETAIL_CHARS,
/// at least 20); a plain line shows it whole.
const STAGE_CHARS: usize = 40;

impl Progress {
    /// Progress on stderr: spinner lines when stderr is a terminal, plain lines otherwise.
    pub fn stderr() -> Progress {
        if std::io::stderr().is_terminal() {
            Progress::on_terminal(ProgressDrawTarget::stderr())
        } else {
            Progress::plain(std::io::stderr())
        }
    }

    /// No output (tests, library callers).
    pub fn silent() -> Progress {
        Progress { out: Out::Silent }
    }

    /// Plain lines written to `out`.
    fn plain(out: impl Write + Send + 'static) -> Progress {
        Progress { out: Out::Plain(Arc::new(Mutex::new(out))) }
    }

    /// Spinner lines drawn on `target`.
    fn on_terminal(target: ProgressDrawTarget) -> Progress {
        Progress { out: Out::Terminal(MultiProgress::with_draw_target(target)) }
    }

    /// Starts a step; finish it with [`Step::done`] or [`Step::finish`].
    pub fn step(&self, what: impl Into<String>) -> Step {
        let what = what.into();
        let bar = match &self.out {
            Out::Silent => None,
            Out::Plain(out) => {
                write_plain(out, &format!("{what} ...\n"));
                None
            }
            Out::Terminal(multi) => {
                let bar = multi.add(ProgressBar::new_spinner().with_style(running_style()).with_message(what.clone()));
                bar.enable_steady_tick(TICK);
                Some(bar)
            }
        };
        Step { progress: self.clone(), what, started: Instant::now(), bar, stage: Mutex::new(None) }
    }
}

/// `  ⠋ <what>[: <detail>] (1.2 s)`
fn running_style() -> ProgressStyle {
    ProgressStyle::with_template("  {spinner:.cyan} {msg} ({secs})").expect("the spinner template parses").with_key(
        "secs",
        |state: &ProgressState, w: &mut dyn fmt::Write| {
            let _ = write!(w, "{:.1} s", state.elapsed().as_secs_f64());
        },
    )
}

fn write_plain(out: &Mutex<dyn Write + Send>, text: &str) {
    let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// One step of long work.
pub struct Step {
    progress: Progress,
    what: String,
    started: Instant,
    /// The step's spinner (terminal only) until the step ends.
    bar: Option<ProgressBar>,
    /// The stage reached, shown before each detail (terminal only).
    stage: Mutex<Option<String>>,
}

/// `text` on one line, blanks squeezed, at most `chars` characters.
fn one_line(text: &str, chars: usize) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(chars).collect()
}

impl Step {
    /// A detail of the step (a build line): shown on the step's line on a terminal, dropped
    /// otherwise.
    pub fn detail(&self, detail: &str) {
        let Some(bar) = &self.bar else { return };
        let stage = self.stage.lock().unwrap_or_else(|e| e.into_inner());
        let room = DETAIL_CHARS.saturating_sub(stage.as_ref().map_or(0, |s| s.chars().count())).max(20);
        let detail = one_line(detail, room);
        match (&*stage, detail.is_empty()) {
            (_, true) => {}
            (Some(stage), false) => bar.set_message(format!("{}: {stage} · {detail}", self.what)),
            (None, false) => bar.set_message(format!("{}: {detail}", self.what)),
        }
    }

    /// A stage the step reached (an image build's Dockerfile step): on a terminal it stays on the
    /// step's line, before the details that follow; otherwise it is a line of its own.
    pub fn stage(&self, stage: &str) {
        match (&self.progress.out, &self.bar) {
            (Out::Plain(out), _) => write_plain(out, &format!("{}: {}\n", self.what, one_line(stage, usize::MAX))),
            (Out::Terminal(_), Some(bar)) => {
                let stage = one_line(stage, STAGE_CHARS);
                bar.set_message(format!("{}: {stage}", self.what));
                *self.stage.lock().unwrap_or_else(|e| e.into_inner()) = Some(stage);
            }
            _ => {}
        }
    }

    /// Ends the step with its elapsed time.
    pub fn done(self) {
        self.finish("done");
    }

    /// Ends the step with another word (`skipped`, `present`).
    pub fn finish(mut self, word: &str) {
        let secs = self.started.elapsed().as_secs_f64();
        match &self.progress.out {
            Out::Silent => {}
            Out::Plain(out) => write_plain(out, &format!("{}: {word} ({secs:.1} s)\n", self.what)),
            Out::Terminal(multi) => {
                if let Some(bar) = self.bar.take() {
                    end_line(multi, &bar, &format!("  ✓ {} ({word}, {secs:.1} s)", self.what));
                }
            }
        }
    }
}

impl Drop for Step {
    /// Unfinished (an error or an interrupt ended the work): the spinner stops and says so.
    fn drop(&mut self) {
        if let (Out::Terminal(multi), Some(bar)) = (&self.progress.out, self.bar.take()) {
            let secs = self.started.elapsed().as_secs_f64();
            end_line(multi, &bar, &format!("  ✗ {} (stopped, {secs:.1} s)", self.what));
        }
    }
}

/// Takes the spinner away and leaves `line` above the spinners still running.
fn end_line(multi: &MultiProgress, bar: &ProgressBar, line: &str) {
    bar.finish_and_clear();
    multi.remove(bar);
    let _ = multi.println(line);
}

#[cfg(test)]
mod tests {
    use super::*;
    use indicatif::InMemoryTerm;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().write(bytes)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buffer {
        /// The text so far, each elapsed time replaced by `T`.
        fn text(&self) -> String {
            let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
            regex::Regex::new(r"\(\d+\.\d s\)").unwrap().replace_all(&text, "(T s)").into_owned()
        }
    }

    #[test]
    fn plain_lines_name_start_and_end_and_nothing_else() {
        let buffer = Buffer::default();
        let progress = Progress::plain(buffer.clone());
        let network = progress.step("creating network arcus-lab-x");
        let hosts = progress.clone().step("starting zk1, admin");
        hosts.detail("Step 3/9 : RUN apt-get install");
        network.finish("10.0.0.0/24");
        drop(progress.step("runbook step keys"));
        hosts.done();
        assert_eq!(
            buffer.text(),
            "creating network arcus-lab-x ...\n\
             starting zk1, admin ...\n\
             creating network arcus-lab-x: 10.0.0.0/24 (T s)\n\
             runbook step keys ...\n\
             starting zk1, admin: done (T s)\n"
        );
    }

    #[test]
    fn plain_stages_are_lines_of_their_own_and_details_are_not() {
        let buffer = Buffer::default();
        let progress = Progress::plain(buffer.clone());
        let build = progress.step("building arcus-lab/host:1a2b");
        build.stage("Step 2/9 : RUN   apt-get install -y openjdk-17-jre-headless zookeeper and more and more");
        build.detail("Unpacking openjdk-17-jre-headless ...");
        build.stage("Step 3/9 : COPY boot /usr/local/bin/");
        build.done();
        assert_eq!(
            buffer.text(),
            "building arcus-lab/host:1a2b ...\n\
             building arcus-lab/host:1a2b: Step 2/9 : RUN apt-get install -y openjdk-17-jre-headless zookeeper and more and more\n\
             building arcus-lab/host:1a2b: Step 3/9 : COPY boot /usr/local/bin/\n\
             building arcus-lab/host:1a2b: done (T s)\n"
        );
    }

    #[test]
    fn plain_times_are_seconds_with_one_decimal() {
        let buffer = Buffer::default();
        let progress = Progress::plain(buffer.clone());
        let mut step = progress.step("waiting");
        step.started -= Duration::from_millis(1260);
        step.finish("present");
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert!(text.ends_with("waiting: present (1.3 s)\n"), "{text:?}");
    }

    /// Steps side by side each keep their own line; a finished one leaves its ✓ line, a dropped
    /// one its ✗ line, and no spinner is left behind.
    #[test]
    fn terminal_steps_side_by_side_have_lines_of_their_own() {
        let term = InMemoryTerm::new(10, 100);
        let progress = Progress::on_terminal(ProgressDrawTarget::term_like(Box::new(term.clone())));
        let zklist = progress.step("runbook step zklist");
        let keys = progress.step("runbook step keys");
        let conf = progress.step("runbook step conf");
        conf.detail("  writing\n conf/zk1.conf  ");
        let shown = |term: &InMemoryTerm| -> Vec<String> {
            let spinner = regex::Regex::new(r"^  . (.*) \(\d+\.\d s\)$").unwrap();
            let time = regex::Regex::new(r"\d+\.\d s\)$").unwrap();
            term.contents()
                .lines()
                .map(|line| spinner.replace(line, "  * $1 (T s)").into_owned())
                .map(|line| time.replace(&line, "T s)").into_owned())
                .collect()
        };
        let settled = |want: &[&str]| {
            let deadline = Instant::now() + Duration::from_secs(5);
            while shown(&term) != want && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            assert_eq!(shown(&term), want);
        };
        settled(&[
            "  * runbook step zklist (T s)",
            "  * runbook step keys (T s)",
            "  * runbook step conf: writing conf/zk1.conf (T s)",
        ]);
        keys.done();
        settled(&[
            "  ✓ runbook step keys (done, T s)",
            "  * runbook step zklist (T s)",
            "  * runbook step conf: writing conf/zk1.conf (T s)",
        ]);
        drop(zklist);
        conf.finish("skipped");
        settled(&[
            "  ✓ runbook step keys (done, T s)",
            "  ✗ runbook step zklist (stopped, T s)",
            "  ✓ runbook step conf (skipped, T s)",
        ]);
        // a build shows its Dockerfile step, then each detail after it
        let build = progress.step("building host");
        build.stage("Step 2/9 : RUN apt-get install");
        settled(&[
            "  ✓ runbook step keys (done, T s)",
            "  ✗ runbook step zklist (stopped, T s)",
            "  ✓ runbook step conf (skipped, T s)",
            "  * building host: Step 2/9 : RUN apt-get install (T s)",
        ]);
        build.detail("Unpacking   zookeeper (3.8.0-11) ...");
        settled(&[
            "  ✓ runbook step keys (done, T s)",
            "  ✗ runbook step zklist (stopped, T s)",
            "  ✓ runbook step conf (skipped, T s)",
            "  * building host: Step 2/9 : RUN apt-get install · Unpacking zookeeper (3.8.0-11) (T s)",
        ]);
        build.done();
    }
}
