//! memcached: the reference Arcus cache node. Start order: flags, privileges, daemon, listener,
//! heartbeat, ZooKeeper; then serve until a signal, `shutdown`, or a fatal cluster event.

mod cli;
mod cluster;
mod coll;
mod daemon;
mod limits;
mod log;
mod protocol;
mod server;
mod startup_log;
mod state;
mod store;
mod workers;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use state::{Counters, Settings, State, Stop, ZkStatus};

const HB_INTERVAL: Duration = Duration::from_secs(3);
const HB_TIMEOUT_MS: u64 = 10_000;
const HB_FAILSTOP_MS: u64 = 60_000;

fn main() {
    let args = cli::parse();
    limits::apply_or_exit(&args);
    if let Err(e) = daemon::drop_privileges(args.user.as_deref()) {
        log!("{e}");
        std::process::exit(e.exit_code());
    }
    if args.daemon {
        // stderr stays open only when it is where the log goes (-v without the syslog logger):
        // an ssh session that started the node must end when the launcher exits.
        if let Err(e) = daemon::daemonize(args.verbose > 0 && !args.syslog()) {
            log!("{e}");
            std::process::exit(e.exit_code());
        }
    }
    // the main thread's event loop (listeners, ZooKeeper, heartbeat); the -t workers have their own
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the main event loop");
    let code = match runtime {
        Ok(rt) => rt.block_on(run(args)),
        Err(e) => {
            log!("{e:#}");
            71
        }
    };
    std::process::exit(code);
}

async fn run(args: cli::Args) -> i32 {
    let (serving, _) = watch::channel(false);
    let (stop, _) = watch::channel(None);
    let (requests_tx, requests) = tokio::sync::mpsc::channel(8);
    let zk = args.zookeeper.as_ref().map(|list| ZkStatus {
        ready: false.into(),
        connected: false.into(),
        failstop: true.into(),
        timeout_ms: 0.into(),
        ensemble: list.clone().into(),
        requests: requests_tx,
    });
    let state = Arc::new(State {
        store: store::Store::new(args.memory_mb as usize * 1024 * 1024, args.item_size),
        counters: Counters::default(),
        coll_limits: coll::Limits::default(),
        settings: Settings {
            port: args.port,
            max_conns: args.max_conns as usize,
            threads: args.threads as usize,
            item_max: args.item_size,
            unknown_reply: if args.ascii_scrub() {
                b"ERROR no matching command\r\n"
            } else {
                b"ERROR unknown command\r\n"
            },
            delimiter: args.delimiter.to_string(),
            backlog: args.backlog,
        },
        verbosity: AtomicU8::new(args.verbose),
        started: Instant::now(),
        zk,
        serving,
        stop,
    });
    startup_log::engine(&args);
    // as memcached: the worker threads, then the listening sockets
    let workers = match workers::Workers::start(args.threads as usize, &state) {
        Ok(workers) => Arc::new(workers),
        Err(e) => {
            log!("{e}");
            return e.exit_code();
        }
    };
    let listeners = match server::listen(&args) {
        Ok(listeners) => listeners,
        Err(e) => return e.log_failure("TCP", args.port),
    };
    startup_log::listening(&listeners.iter().filter_map(|l| l.local_addr().ok()).collect::<Vec<_>>());
    if let Err(e) = server::check_udp_port(&args) {
        return e.log_failure("UDP", args.udp_port);
    }
    let acceptor = tokio::spawn(server::accept_loop(listeners, state.clone(), workers));
    tokio::spawn(heartbeat(state.clone()));
    let cluster = match &args.zookeeper {
        None => {
            state.serving.send_replace(true);
            None
        }
        Some(list) => {
            let cfg = cluster::Config {
                ensemble: list.clone(),
                // a port past 16 bits is named as it listens (arcus-memcached names it as given)
                port: u16::try_from(args.port).unwrap_or_else(|_| cli::listen_port(args.port).unwrap_or(0)),
                memory_mb: args.memory_mb as u64,
                timeout: Duration::from_secs(args.session_timeout_secs()),
                raw_timeout: args.zk_timeout.into(),
            };
            match cluster::start(cfg, state.clone(), requests).await {
                Ok(c) => Some(c),
                Err(e) => {
                    log!("shutting down");
                    return e.exit_code();
                }
            }
        }
    };
    let why = wait_for_stop(&state).await;
    graceful_stop(&state, why, acceptor, cluster).await;
    0
}

/// Waits for SIGINT, SIGTERM, `shutdown` or a heartbeat failstop; returns the reason.
async fn wait_for_stop(state: &State) -> Stop {
    let mut stop = state.stop.subscribe();
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        log!("cannot install signal handlers");
        return Stop::Signal("SIGTERM");
    };
    tokio::select! {
        _ = int.recv() => { state.request_stop(Stop::Signal("SIGINT")); }
        _ = term.recv() => { state.request_stop(Stop::Signal("SIGTERM")); }
        _ = stop.wait_for(|s| s.is_some()) => {}
    }
    let why = state.stop.borrow().expect("a stop reason was set");
    why
}

async fn graceful_stop(
    state: &State,
    why: Stop,
    acceptor: tokio::task::JoinHandle<()>,
    cluster: Option<cluster::Cluster>,
) {
    if let Stop::Signal(name) = why {
        logv!("memcached shutdown by signal({name})");
    }
    log!("Initiating arcus memcached shutdown...");
    if let Some(cluster) = cluster {
        // the znode goes first, before any draining
        cluster.close().await;
    }
    acceptor.abort();
    let _ = acceptor.await;
    log!("Listen sockets closed.");
    if let Stop::Command(secs) = why {
        // drain: give connected clients up to the delay to finish
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while state.counters.curr_conns.load(Ordering::Relaxed) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    log!("Worker threads terminated.");
    log!("Memcached engine destroyed.");
    log!("Arcus memcached terminated.");
}

/// Every 3 s: a `set arcus:zk-ping 1 0 1` through a worker thread; counts and times it, and
/// stops the node when the accumulated slow-ping latency passes hb_failstop.
async fn heartbeat(state: Arc<State>) {
    let mut tick = tokio::time::interval(HB_INTERVAL);
    tick.tick().await;
    let mut accumulated = 0;
    loop {
        tick.tick().await;
        let t0 = Instant::now();
        let s = state.clone();
        let ping = tokio::spawn(async move { s.store.store(store::Mode::Set, b"arcus:zk-ping", 1, 0, b"1") });
        let _ = ping.await;
        let latency = t0.elapsed().as_millis() as u64;
        let c = &state.counters;
        state::bump(&c.hb_count);
        c.hb_latency_ms.store(latency, Ordering::Relaxed);
        if latency <= HB_TIMEOUT_MS {
            accumulated = 0;
            continue;
        }
        accumulated += latency;
        log!("Heartbeat failure. hb_timeout={HB_TIMEOUT_MS} hb_latency={latency} accumulated_hb_latency={accumulated}");
        if accumulated > HB_FAILSTOP_MS {
            log!("consecutive heartbeat failures. Shutting down...");
            state.request_stop(Stop::Heartbeat);
            return;
        }
    }
}
