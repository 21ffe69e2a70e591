//! The start-up lines a real arcus-memcached 1.15.0 writes at `-v` before anything of ZooKeeper
//! (contract section 5): its default engine's `engine config:` line and module lines, then one
//! line per listening socket. The engine config lists the options that reach the engine in the
//! order they were given on the command line (getopt's order), then the threads and verbosity.

use crate::{log, logv};

/// `engine config: ...` and the engine's module lines, at `-v`.
pub fn engine(raw_args: &[String], threads: usize, verbose: u8) {
    logv!("engine config: {}", engine_config(raw_args, threads, verbose));
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

/// `cache_size=<bytes>;` for `-m`, `prefix_delimiter=<c>;` for `-D`, `item_size_max=<bytes>;` for
/// `-I`, in command-line order, then `num_threads=<t>;` and, when verbose, `verbose=<v>;`.
fn engine_config(raw_args: &[String], threads: usize, verbose: u8) -> String {
    let mut config = String::new();
    for (flag, value) in flags_in_order(raw_args) {
        match flag {
            'm' => {
                if let Ok(mb) = value.parse::<u64>() {
                    config.push_str(&format!("cache_size={};", mb * 1024 * 1024));
                }
            }
            'D' => {
                if let Some(c) = value.chars().next() {
                    config.push_str(&format!("prefix_delimiter={c};"));
                }
            }
            'I' => config.push_str(&format!("item_size_max={};", crate::cli::item_size(&value))),
            _ => {}
        }
    }
    config.push_str(&format!("num_threads={threads};"));
    if verbose > 0 {
        config.push_str(&format!("verbose={verbose};"));
    }
    config
}

/// `(flag, value)` pairs as getopt reads them: grouped switches (`-dv`), values attached
/// (`-m100`) or in the next argument (`-m 100`); stops at `--`.
fn flags_in_order(raw_args: &[String]) -> Vec<(char, String)> {
    let mut out = Vec::new();
    let mut args = raw_args.iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        let Some(group) = arg.strip_prefix('-') else { continue };
        for (at, flag) in group.char_indices() {
            if flag.is_ascii() && crate::cli::WITH_VALUE.contains(&(flag as u8)) {
                let attached = &group[at + flag.len_utf8()..];
                let value =
                    if attached.is_empty() { args.next().cloned().unwrap_or_default() } else { attached.to_string() };
                out.push((flag, value));
                break;
            }
            out.push((flag, String::new()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn the_engine_config_follows_the_command_lines_order() {
        let runbook =
            args("-u memcached -E /opt/arcus/lib/default_engine.so -d -v -r -R5 -U 0 -D: -b 8192 -m100 -p 11211");
        assert_eq!(engine_config(&runbook, 6, 1), "prefix_delimiter=:;cache_size=104857600;num_threads=6;verbose=1;");
        let s7 = args("-u memcached -E x.so -v -m100 -p 11213 -c 1000 -t 6 -z memcached-1:2181");
        assert_eq!(engine_config(&s7, 6, 1), "cache_size=104857600;num_threads=6;verbose=1;");
        assert_eq!(
            engine_config(&args("-m 64 -I 2m -vv"), 4, 2),
            "cache_size=67108864;item_size_max=2097152;num_threads=4;verbose=2;"
        );
        assert_eq!(engine_config(&args("-p 1"), 4, 0), "num_threads=4;");
    }
}
