//! memcached's worker threads (`-t`): each runs an event loop of its own (a current-thread tokio
//! runtime) and serves the connections the acceptor hands it in turn. They are all started before
//! the node listens; one that cannot be had (no memory, no thread, no descriptor for its event loop)
//! is an error.

use std::io;
use std::net::TcpStream as StdTcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use thiserror::Error;
use tokio::net::TcpStream;
use tokio::runtime::{Builder, Runtime};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::server::{self, strerror};
use crate::state::State;

#[derive(Debug, Error)]
pub enum WorkerError {
    #[error("Can't allocate thread descriptors: {}", strerror(&io::Error::from_raw_os_error(nix::libc::ENOMEM)))]
    Descriptors,
    #[error("Can't allocate event base: {}", strerror(.0))]
    EventBase(io::Error),
    #[error("Can't create thread: {}", strerror(.0))]
    Thread(io::Error),
}

impl WorkerError {
    /// arcus-memcached exits 1 for each of these.
    pub fn exit_code(&self) -> i32 {
        1
    }
}

/// The running workers: one inbox of connections each.
pub struct Workers {
    inboxes: Vec<UnboundedSender<StdTcpStream>>,
    next: AtomicUsize,
}

impl Workers {
    /// Starts `count` worker threads serving connections with `state`, and waits until each has
    /// its event loop (as memcached waits for its workers to set themselves up). Called at start,
    /// before anything else runs on the caller's event loop, which it blocks meanwhile.
    pub fn start(count: usize, state: &Arc<State>) -> Result<Workers, WorkerError> {
        let mut inboxes = Vec::new();
        inboxes.try_reserve_exact(count).map_err(|_| WorkerError::Descriptors)?;
        let (report, reports) = std::sync::mpsc::channel();
        let mut ready = 0;
        for index in 0..count {
            let (inbox, handed) = unbounded_channel();
            let (state, report) = (state.clone(), report.clone());
            std::thread::Builder::new()
                .name(format!("worker-{index}"))
                .spawn(move || match Builder::new_current_thread().enable_all().build() {
                    Ok(event_loop) => {
                        let _ = report.send(Ok(()));
                        run(event_loop, handed, state);
                    }
                    Err(e) => {
                        let _ = report.send(Err(WorkerError::EventBase(e)));
                    }
                })
                .map_err(WorkerError::Thread)?;
            inboxes.push(inbox);
            // a worker that could not set itself up stops the start at once
            while let Ok(set_up) = reports.try_recv() {
                set_up?;
                ready += 1;
            }
        }
        drop(report);
        while ready < count {
            // every thread reports once, before it serves anything
            reports.recv().unwrap_or(Ok(()))?;
            ready += 1;
        }
        Ok(Workers { inboxes, next: AtomicUsize::new(0) })
    }

    /// Hands a connection to the next worker in turn; false if that worker is gone (the
    /// connection is then closed).
    pub fn hand(&self, stream: StdTcpStream) -> bool {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.inboxes.len();
        self.inboxes[index].send(stream).is_ok()
    }
}

/// A worker's life: serve every connection handed to it, until the process exits.
fn run(event_loop: Runtime, mut handed: UnboundedReceiver<StdTcpStream>, state: Arc<State>) {
    event_loop.block_on(async move {
        while let Some(stream) = handed.recv().await {
            match stream.set_nonblocking(true).and_then(|()| TcpStream::from_std(stream)) {
                Ok(stream) => {
                    tokio::spawn(server::serve_counted(stream, state.clone()));
                }
                Err(_) => {
                    state.counters.curr_conns.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
        // the acceptor is gone (the node is stopping): the connections it handed over are still
        // served, through a drain, until the process exits
        std::future::pending::<()>().await;
    });
}
