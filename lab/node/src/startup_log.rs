//! The start-up lines a real arcus-memcached 1.15.0 writes at `-v` before anything of ZooKeeper
//! (contract section 5): its default engine's `engine config:` line and module lines, then one
//! line per listening socket. The engine config lists the options that reach the engine in the
//! order the flag reader met them (`Args::engine_options`), then the threads and verbosity.

use crate::{log, logv};

/// `engine config: ...` and the engine's module lines, at `-v`.
pub fn engine(args: &crate::cli::Args) {
    logv!("engine config: {}", engine_config(&args.engine_options, args.threads, args.verbose));
    for line in [
        "PREFIX module initialized.",
        "ASSOC module initialized.",
        "SLABS module initialized.",
        "default/maximum list  size = (4000/50000)",
        "default/maximum set   size = (4000/50000)",
        "default/maximum map   size = (4000/50000)",
        "default/maximum btree size = (4000/50000)",
        "ITEM change log module initialized.",
        "ITEM base module initialized.",
        "ITEM list module initialized.",
        "ITEM set module initialized.",
        "ITEM map module initialized.",
        "ITEM btree module initialized.",
        "ITEM module initialized.",
        "Loaded engine: Default engine v0.1",
        "Supplying the following features: LRU, compare and swap",
    ] {
        logv!("{line}");
    }
}

/// `<addr>:<port> start to listen`, one line per listening socket, at `-v`.
pub fn listening(addresses: &[std::net::SocketAddr]) {
    for addr in addresses {
        let ip = match addr.ip() {
            std::net::IpAddr::V4(ip) => ip.to_string(),
            std::net::IpAddr::V6(ip) => ip.to_string(),
        };
        logv!("{ip}:{} start to listen", addr.port());
    }
}

/// The heartbeat's first line (a warning: it appears at every verbosity), with `-z` only.
pub fn heartbeat() {
    log!("Heartbeat thread is running.");
}

/// The options read from the command line, then `num_threads=<t>;` and, when verbose,
/// `verbose=<v>;`.
fn engine_config(options: &str, threads: i32, verbose: u8) -> String {
    let mut config = format!("{options}num_threads={threads};");
    if verbose > 0 {
        config.push_str(&format!("verbose={verbose};"));
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(line: &str) -> String {
        let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
        let args = crate::cli::read("memcached", &argv).args;
        engine_config(&args.engine_options, args.threads, args.verbose)
    }

    #[test]
    fn the_engine_config_follows_the_command_lines_order() {
        let runbook =
            "-u memcached -E /opt/arcus/lib/default_engine.so -d -v -r -R5 -U 0 -D: -b 8192 -m100 -p 11211 -t 6";
        assert_eq!(config(runbook), "prefix_delimiter=:;cache_size=104857600;num_threads=6;verbose=1;");
        let s7 = "-u memcached -E x.so -v -m100 -p 11213 -c 1000 -t 6 -z memcached-1:2181";
        assert_eq!(config(s7), "cache_size=104857600;num_threads=6;verbose=1;");
        assert_eq!(config("-m 64 -I 2m -vv"), "cache_size=67108864;item_size_max=2097152;num_threads=4;verbose=2;");
        assert_eq!(config("-p 1"), "num_threads=4;");
    }
}
