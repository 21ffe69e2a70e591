//! The one normalization of everything a snapshot holds: lab IPs become `{host}`, and what changes
//! from run to run (session ids, zxids, pids, dates and times, durations, versions, sequence
//! suffixes) becomes a `<placeholder>`; znode trees render sorted with `ephemeral` marks.

use std::net::Ipv4Addr;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::lab::Lab;
use crate::probe::zk::ZnodeTree;

/// Replaces one pattern; `$name` in the replacement refers to the pattern's groups.
struct Rule {
    pattern: Regex,
    replacement: &'static str,
}

fn rule(pattern: &str, replacement: &'static str) -> Rule {
    Rule { pattern: Regex::new(pattern).expect("normalization pattern"), replacement }
}

/// In order: the later rules see the earlier rules' output.
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        // date and time, Python's str(datetime) (microseconds optional) and ISO forms
        rule(r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?", "<time>"),
        // syslog's `Nov 26 05:45:02`
        rule(r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d{2}:\d{2}:\d{2}\b", "<time>"),
        // ZooKeeper's `built on 2023-10-09 17:54 UTC`
        rule(r"(built on )[^,\n]+", "${1}<date>"),
        rule(r"\b\d{4}-\d{2}-\d{2}\b", "<date>"),
        rule(r"\b\d{2}:\d{2}:\d{2}(?:\.\d+)?\b", "<time>"),
        // ZooKeeper's session ids and zxids
        rule(r"(?i)(session(?:[ _]?id)?(?:=|: | ))(?:0x[0-9a-f]+|[0-9a-f]{8,})\b", "${1}<session>"),
        rule(r"(?i)(zxid(?:=|: | ))(?:0x[0-9a-f]+|[0-9a-f]{8,})\b", "${1}<zxid>"),
        rule(r"\b0x[0-9a-fA-F]{8,}\b", "<hex>"),
        // pids: `memcached[123]`, `pid=123`, `pid 123`, `process 123`
        rule(r"\b([A-Za-z][\w.-]*)\[\d{2,}\]", "${1}[<pid>]"),
        rule(r"(?i)\b(pid[= :]\s*|process )\d+\b", "${1}<pid>"),
        // ping's and ZooKeeper's min/avg/max lines
        rule(r"\b(min/avg/max(?:/mdev)?[:=]?\s*(?:= )?)[\d./]+", "${1}<durations>"),
        // durations: any number with a sub-second unit, fractional seconds
        rule(r"\b\d+(?:\.\d+)?\s?(?:ns|us|µs|ms|microsec|microseconds|milliseconds)\b", "<duration>"),
        rule(r"\b\d+\.\d+\s?(?:s|sec|secs|seconds)\b", "<duration>"),
        // the ZooKeeper client library a node is built with (differs between node builds)
        rule(r"(STAT zk_libversion ).*", "${1}<version>"),
        // sequential znodes: `...-0000000012`
        rule(r"-\d{10}\b", "-<seq>"),
    ]
});

/// The ZooKeeper C client library's own log lines on a node's stderr
/// (`2026-12-04 15:54:59,123:200(0x7f..):ZOO_INFO@check_events@2498: ...`) and the empty line
/// some of them end with: they belong to the client build (its function@line numbers and version
/// differ between NAVER's arcus-zookeeper and Debian's), not to Arcus (contract section 5).
static ZK_CLIENT_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d+:\d+\(0x[0-9a-fA-F]+\):ZOO_[A-Z]+@[^\n]*\n\n?")
        .expect("zookeeper client line pattern")
});

/// Version strings (1.15.0, 1.15.0-ref, 3.8.4-5a2b); four dotted numbers are an address, kept.
static VERSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b\d+\.\d+\.\d+(?:\.\d+)?(?:-[0-9A-Za-z][0-9A-Za-z.]*)?\b").expect("version pattern")
});

static IPV4: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b").expect("ip pattern"));

/// A lab's normalization: knows its hosts' addresses.
#[derive(Debug, Clone)]
pub struct Normalizer {
    hosts: Vec<(String, Ipv4Addr)>,
    network: Ipv4Addr,
}

impl Normalizer {
    /// `hosts`: name and address; `network`: the lab's /24 (`x.y.z.0`).
    pub fn new(hosts: Vec<(String, Ipv4Addr)>, network: Ipv4Addr) -> Normalizer {
        Normalizer { hosts, network }
    }

    pub fn for_lab(lab: &Lab) -> Normalizer {
        Normalizer::new(lab.hosts.iter().map(|h| (h.name.to_string(), h.ip)).collect(), lab.network.network())
    }

    /// Normalizes a text: line ends, lab addresses, then the rules.
    pub fn text(&self, text: &str) -> String {
        let text = text.replace("\r\n", "\n");
        let text = ZK_CLIENT_LINE.replace_all(&text, "");
        let mut text = IPV4
            .replace_all(&text, |c: &Captures| {
                let found = &c[0];
                let Ok(ip) = found.parse::<Ipv4Addr>() else { return found.to_string() };
                if let Some((name, _)) = self.hosts.iter().find(|(_, h)| *h == ip) {
                    format!("{{{name}}}")
                } else if ip.octets()[..3] == self.network.octets()[..3] {
                    "{lab-network}".to_string()
                } else {
                    found.to_string()
                }
            })
            .into_owned();
        for rule in RULES.iter() {
            text = rule.pattern.replace_all(&text, rule.replacement).into_owned();
        }
        VERSION
            .replace_all(&text, |c: &Captures| {
                let numbers = c[0].split('-').next().unwrap_or("");
                if numbers.split('.').count() == 4 {
                    c[0].to_string()
                } else {
                    "<version>".to_string()
                }
            })
            .into_owned()
    }

    /// One line per znode, `path [ephemeral] = data`, normalized, sorted as a tree (parents first,
    /// siblings by their normalized names).
    pub fn tree(&self, tree: &ZnodeTree) -> String {
        let mut lines: Vec<(Vec<String>, String)> = tree
            .0
            .iter()
            .map(|z| {
                let path = self.text(&z.path);
                let mut line = path.clone();
                if z.is_ephemeral() {
                    line.push_str(" ephemeral");
                }
                if !z.data.is_empty() {
                    line.push_str(" = ");
                    line.push_str(&self.text(&z.data));
                }
                (path.split('/').map(str::to_string).collect(), line)
            })
            .collect();
        lines.sort();
        let mut out: String = lines.into_iter().map(|(_, line)| line + "\n").collect();
        if out.is_empty() {
            out.push_str("(no znode)\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::zk::Znode;

    fn lab() -> Normalizer {
        let net = Ipv4Addr::new(10, 213, 7, 0);
        let hosts = [("arcus", 10), ("memcached-1", 11), ("memcached-2", 12), ("memcached-3", 13)];
        Normalizer::new(hosts.iter().map(|(n, i)| (n.to_string(), Ipv4Addr::new(10, 213, 7, *i))).collect(), net)
    }

    #[test]
    fn lab_addresses_become_host_names() {
        let n = lab();
        assert_eq!(n.text("10.213.7.11:11211-memcached-1"), "{memcached-1}:11211-memcached-1");
        assert_eq!(n.text("[10.213.7.10] run: x; 10.213.7.1"), "[{arcus}] run: x; {lab-network}");
        assert_eq!(n.text("10.213.7.110 8.8.8.8"), "{lab-network} 8.8.8.8");
        assert_eq!(n.text("'10.213.7.12', '10.213.7.13'"), "'{memcached-2}', '{memcached-3}'");
    }

    #[test]
    fn the_zookeeper_client_librarys_own_lines_are_left_out() {
        let n = lab();
        let stderr = "arcus_zk_init(ensemble=memcached-1:2181, zk_timeout=0)\n\
            2026-12-04 15:54:59,101:200(0x7f3a1c3ff6c0):ZOO_INFO@log_env@1104: Client environment:zookeeper.version=zookeeper C client 3.5.9\n\
            2026-12-04 15:54:59,135:200(0x7f3a1b3fe6c0):ZOO_INFO@check_events@2546: session establishment complete on server [10.213.7.11:2181], sessionId=0x100000a, negotiated timeout=10000 \n\
            ZOO_SESSION_EVENT Connected. server=10.213.7.11:2181, session_id=0x1000a2b3c4d0001\n\
            2026-12-04 15:54:59,201:200(0x7f3a1c3ff6c0):ZOO_INFO@zookeeper_close@3355: Closing zookeeper sessionId=0x100000a to [10.213.7.11:2181]\n\
            \n\
            shutting down\n";
        assert_eq!(
            n.text(stderr),
            "arcus_zk_init(ensemble=memcached-1:2181, zk_timeout=0)\n\
             ZOO_SESSION_EVENT Connected. server={memcached-1}:2181, session_id=<session>\n\
             shutting down\n"
        );
    }

    #[test]
    fn dates_and_times_are_redacted() {
        let n = lab();
        assert_eq!(n.text("ruo91-cloud  OK  6  2026-11-26 05:45:02.123456  None"), "ruo91-cloud  OK  6  <time>  None");
        assert_eq!(n.text("\"created\": \"2026-11-26 05:45:02\""), "\"created\": \"<time>\"");
        assert_eq!(n.text("Nov 26 05:45:02 memcached-1 memcached[812]: x"), "<time> memcached-1 memcached[<pid>]: x");
        assert_eq!(n.text("/arcus/cache_server_log/2026-11-26"), "/arcus/cache_server_log/<date>");
        assert_eq!(n.text("at 05:45:02 done"), "at <time> done");
        assert_eq!(
            n.text("version: 3.8.4-x, built on 2023-10-09 17:54 UTC\n"),
            "version: <version>, built on <date>\n"
        );
    }

    #[test]
    fn sessions_zxids_and_pids_are_redacted() {
        let n = lab();
        assert_eq!(n.text("session_id=0x1000a2b3c4d0001"), "session_id=<session>");
        assert_eq!(n.text("Zxid: 0x100000005"), "Zxid: <zxid>");
        assert_eq!(n.text("owner 0x1000a2b3c4d0001"), "owner <hex>");
        assert_eq!(n.text("STARTED pid=4711 / process 42"), "STARTED pid=<pid> / process <pid>");
    }

    #[test]
    fn durations_and_versions_are_redacted_but_counts_stay() {
        let n = lab();
        assert_eq!(n.text("(took 1534 microsec)"), "(took <duration>)");
        assert_eq!(n.text("time=0.045 ms"), "time=<duration>");
        assert_eq!(
            n.text("rtt min/avg/max/mdev = 0.031/0.045/0.061/0.012 ms"),
            "rtt min/avg/max/mdev = <durations> ms"
        );
        assert_eq!(n.text("Latency min/avg/max: 0/0.5/3"), "Latency min/avg/max: <durations>");
        assert_eq!(n.text("VERSION 1.15.0-ref"), "VERSION <version>");
        assert_eq!(n.text("VERSION 1.15.0"), "VERSION <version>");
        assert_eq!(n.text("STAT zk_libversion zookeeper-client-0.11\r\n"), "STAT zk_libversion <version>\n");
        assert_eq!(n.text("Zookeeper version: 3.8.4-5a2b1c, built on"), "Zookeeper version: <version>, built on");
        assert_eq!(
            n.text("ruo91-cloud  SOME_DOWN      6       5        1"),
            "ruo91-cloud  SOME_DOWN      6       5        1"
        );
        assert_eq!(n.text("ZK session timeout=10 sec"), "ZK session timeout=10 sec");
        assert_eq!(n.text("-z 127.0.0.1:2181 server[0] session added"), "-z 127.0.0.1:2181 server[0] session added");
    }

    #[test]
    fn sequence_suffixes_and_line_ends_are_redacted() {
        let n = lab();
        assert_eq!(n.text("10.213.7.11:11211-memcached-1-0000000003\r\n"), "{memcached-1}:11211-memcached-1-<seq>\n");
    }

    #[test]
    fn trees_are_sorted_after_normalization_and_mark_ephemeral_nodes() {
        let n = lab();
        let z = |path: &str, data: &str, ephemeral: bool| {
            Znode::new(path.into(), data.into(), ephemeral as i64 * 0x1000a2b3c4d0001)
        };
        // 10.213.7.9 sorts before .11 as text, but its name sorts after: order by normalized names
        let tree = ZnodeTree(vec![
            z("/arcus", "", false),
            z("/arcus/cache_list", "", false),
            z("/arcus/cache_list/svc", "{\"created\": \"2026-11-26 05:45:02.5\"}", false),
            z("/arcus/cache_list/svc/10.213.7.13:11211-memcached-3", "100MB", true),
            z("/arcus/cache_list/svc/10.213.7.11:11212-memcached-1", "100MB", true),
            z("/arcus/client_list", "", false),
        ]);
        assert_eq!(
            n.tree(&tree),
            "/arcus\n/arcus/cache_list\n/arcus/cache_list/svc = {\"created\": \"<time>\"}\n\
             /arcus/cache_list/svc/{memcached-1}:11212-memcached-1 ephemeral = 100MB\n\
             /arcus/cache_list/svc/{memcached-3}:11211-memcached-3 ephemeral = 100MB\n/arcus/client_list\n"
        );
        assert_eq!(n.tree(&ZnodeTree(vec![])), "(no znode)\n");
    }
}
