//! Interrupts: SIGINT, SIGTERM and SIGHUP, the one way every part of the lab learns that it must
//! stop and clean up (`lab up`, the scenario runner, the test fixtures, the xtask commands).
//!
//! [`listen`] replaces the signals' default action (the process dying on the spot, leaving its lab
//! behind) by a record of the first signal and of how many came. Code that creates something
//! races its work against [`first`] ([`or_interrupt`]) and, once interrupted, cleans up; optional
//! parts of the cleanup (collecting logs) race against [`second`]. A third signal ends the process
//! at once. [`Interrupted`] carries the signal up to `main`, which exits with
//! [`Signal::exit_code`] (130, 143, 129). Code without a loop of its own that could notice (a test
//! fixture) registers its cleanup with [`exit_after`].
//!
//! The record is process-wide, as signals are; the listener runs on the tokio runtime `listen` is
//! called on, and is started again by the next `listen` once that runtime is gone.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// A signal that interrupts the lab's commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::Display, strum::EnumString)]
pub enum Signal {
    #[strum(serialize = "SIGINT")]
    Int,
    #[strum(serialize = "SIGTERM")]
    Term,
    #[strum(serialize = "SIGHUP")]
    Hup,
}

impl Signal {
    /// Its number.
    pub fn number(self) -> i32 {
        match self {
            Signal::Int => libc::SIGINT,
            Signal::Term => libc::SIGTERM,
            Signal::Hup => libc::SIGHUP,
        }
    }

    /// The exit code of a command it interrupted, as a shell reports a process it killed:
    /// 128 + its number (SIGINT 130, SIGTERM 143, SIGHUP 129).
    pub fn exit_code(self) -> u8 {
        128 + self.number() as u8
    }
}

/// The error of work cut short by a signal (after its cleanup).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interrupted by {signal}")]
pub struct Interrupted {
    pub signal: Signal,
}

impl Interrupted {
    /// The interrupt somewhere in an error's chain, if it is one.
    pub fn in_chain(error: &anyhow::Error) -> Option<Interrupted> {
        error.chain().find_map(|e| e.downcast_ref::<Interrupted>()).copied()
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Record {
    first: Option<Signal>,
    count: usize,
}

fn record() -> &'static watch::Sender<Record> {
    static RECORD: OnceLock<watch::Sender<Record>> = OnceLock::new();
    RECORD.get_or_init(|| watch::Sender::new(Record::default()))
}

/// Listens for SIGINT, SIGTERM and SIGHUP from now on (idempotent); from then on they no longer
/// end the process but are recorded for [`first`] and [`second`], and a third ends it at once.
/// Must be called within a tokio runtime.
pub fn listen() -> std::io::Result<()> {
    static LISTENER: Mutex<Option<tokio::task::JoinHandle<()>>> = Mutex::new(None);
    let mut listener = LISTENER.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if listener.as_ref().is_some_and(|task| !task.is_finished()) {
        return Ok(());
    }
    let runtime = tokio::runtime::Handle::try_current().map_err(std::io::Error::other)?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    *listener = Some(runtime.spawn(async move {
        loop {
            let got = tokio::select! {
                Some(()) = int.recv() => Signal::Int,
                Some(()) = term.recv() => Signal::Term,
                Some(()) = hup.recv() => Signal::Hup,
                else => return,
            };
            let mut now = Record::default();
            record().send_modify(|r| {
                r.first.get_or_insert(got);
                r.count += 1;
                now = *r;
            });
            let first = now.first.unwrap_or(got);
            match now.count {
                1 => eprintln!("\n{got}: cleaning up (again to skip collecting logs, a third time to quit at once)"),
                2 => eprintln!("\n{got}: skipping what can be skipped; removing what was created"),
                _ => {
                    eprintln!("\n{got}: quitting at once; `cargo xtask lab gc` removes what is left");
                    std::process::exit(first.exit_code().into());
                }
            }
        }
    }));
    Ok(())
}

/// The first signal received since [`listen`], if any.
pub fn received() -> Option<Signal> {
    record().borrow().first
}

/// How many signals came since [`listen`].
pub fn count() -> usize {
    record().borrow().count
}

/// Resolves with the first signal: at once if one came already, never if none comes.
pub async fn first() -> Signal {
    let mut seen = record().subscribe();
    let first = seen.wait_for(|r| r.first.is_some()).await.ok().and_then(|r| r.first);
    match first {
        Some(signal) => signal,
        None => std::future::pending().await, // the record lives as long as the process
    }
}

/// Resolves once a second signal came (at once if it came already).
pub async fn second() {
    more_than(1).await;
}

/// Resolves once more than `count` signals came (at once if they came already): how a command
/// passes each signal on to a child once.
pub async fn more_than(count: usize) {
    let mut seen = record().subscribe();
    if seen.wait_for(|r| r.count > count).await.is_err() {
        std::future::pending::<()>().await
    }
}

/// Runs `work` unless a signal comes first (or came already); the work is dropped where it stands
/// when one does.
pub async fn or_interrupt<T>(work: impl Future<Output = T>) -> Result<T, Interrupted> {
    if let Some(signal) = received() {
        return Err(Interrupted { signal });
    }
    tokio::select! {
        done = work => Ok(done),
        signal = first() => Err(Interrupted { signal }),
    }
}

/// Cleanups registered with [`exit_after`] that have neither run nor been withdrawn.
static PENDING: AtomicUsize = AtomicUsize::new(0);

/// Takes one registration off [`PENDING`] unless that was done already; returns how many remain
/// if this call took it.
fn settle(settled: &AtomicBool) -> Option<usize> {
    (!settled.swap(true, Ordering::SeqCst)).then(|| PENDING.fetch_sub(1, Ordering::SeqCst) - 1)
}

/// Ends the process with the signal's exit code once no registered cleanup is left.
fn exit_if_last(remaining: Option<usize>) {
    if let (Some(0), Some(signal)) = (remaining, received()) {
        std::process::exit(signal.exit_code().into());
    }
}

/// A cleanup that runs when a signal comes; dropping it withdraws the cleanup.
#[must_use = "dropping it withdraws the cleanup"]
pub struct ExitAfter {
    task: tokio::task::JoinHandle<()>,
    settled: Arc<AtomicBool>,
}

impl Drop for ExitAfter {
    fn drop(&mut self) {
        self.task.abort();
        exit_if_last(settle(&self.settled));
    }
}

/// For code that has no loop of its own in which to notice a signal (a test fixture): listens
/// (see [`listen`]), and when a signal comes, runs `cleanup`; once every registered cleanup has
/// run (or been withdrawn), the process exits with the signal's exit code. Must be called within
/// a tokio runtime.
pub fn exit_after(cleanup: impl Future<Output = ()> + Send + 'static) -> std::io::Result<ExitAfter> {
    listen()?;
    PENDING.fetch_add(1, Ordering::SeqCst);
    let settled = Arc::new(AtomicBool::new(false));
    let mine = settled.clone();
    let task = tokio::spawn(async move {
        first().await;
        cleanup.await;
        exit_if_last(settle(&mine));
    });
    Ok(ExitAfter { task, settled })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_128_plus_the_signal() {
        assert_eq!((Signal::Int.exit_code(), Signal::Term.exit_code(), Signal::Hup.exit_code()), (130, 143, 129));
        assert_eq!(Signal::Term.to_string(), "SIGTERM");
    }

    #[test]
    fn an_interrupt_is_found_behind_context() {
        let e = anyhow::Error::new(Interrupted { signal: Signal::Hup }).context("scenario x").context("lab run");
        assert_eq!(Interrupted::in_chain(&e), Some(Interrupted { signal: Signal::Hup }));
        assert_eq!(Interrupted::in_chain(&anyhow::anyhow!("other")), None);
    }

    /// A real signal to this (test) process: recorded, the work cut short, the process alive.
    /// nextest runs each test in a process of its own, so no other test sees it.
    #[tokio::test]
    async fn a_signal_cuts_the_work_short_and_the_process_lives_on() {
        listen().unwrap();
        assert_eq!(received(), None);
        let work = or_interrupt(async {
            // SAFETY: kill sends a signal to this very process, whose SIGTERM is now listened for.
            unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
            std::future::pending::<()>().await
        });
        assert_eq!(work.await, Err(Interrupted { signal: Signal::Term }));
        assert_eq!((received(), count()), (Some(Signal::Term), 1));
        // SAFETY: as above, SIGINT.
        unsafe { libc::kill(libc::getpid(), libc::SIGINT) };
        second().await;
        assert_eq!((received(), count()), (Some(Signal::Term), 2), "the first signal stays the one recorded");
    }
}
