//! The `memcached list`/`listall` table: the status arithmetic of one service and the exact column
//! layout (widths, alignment, dash lines, `None`).

use arcus_facts::NodeName;
use serde::Serialize;
use std::collections::BTreeSet;
use std::net::IpAddr;

/// One service as `list`/`listall` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceStatus {
    #[serde(rename = "serviceCode")]
    pub service_code: String,
    pub status: &'static str,
    pub total: usize,
    pub online: Vec<String>,
    pub offline: Vec<String>,
    pub undefined: Vec<String>,
    pub created: Option<String>,
    pub modified: Option<String>,
}

impl ServiceStatus {
    /// `mapped`: the `ip:port` of every mapping node whose first child is the service (static);
    /// `joined`: the service's `cache_list` children (`ip:port-hostname`, current).
    pub fn new(
        service_code: &str,
        mapped: &[String],
        joined: &[String],
        created: Option<String>,
        modified: Option<String>,
    ) -> ServiceStatus {
        let statics: BTreeSet<&str> = mapped.iter().map(String::as_str).collect();
        let current: BTreeSet<&str> = joined.iter().map(|c| NodeName::parse(c).addr).collect();
        let online = sorted(statics.intersection(&current));
        let offline = sorted(statics.difference(&current));
        let undefined = sorted(current.difference(&statics));
        let total = online.len() + offline.len();
        let status = if offline.len() + undefined.len() == total {
            "DOWN"
        } else if !offline.is_empty() || !undefined.is_empty() {
            "SOME_DOWN"
        } else {
            "OK"
        };
        ServiceStatus {
            service_code: service_code.to_string(),
            status,
            total,
            online,
            offline,
            undefined,
            created,
            modified,
        }
    }
}

/// `ip:port` names sorted by IP (numerically when they are addresses), then port.
fn sorted<'a>(names: impl Iterator<Item = &'a &'a str>) -> Vec<String> {
    let mut names: Vec<String> = names.map(|n| n.to_string()).collect();
    names.sort_by_key(|name| {
        let (ip, port) = name.rsplit_once(':').unwrap_or((name, ""));
        (ip.parse::<IpAddr>().ok(), ip.to_string(), port.parse::<u32>().ok(), port.to_string())
    });
    names
}

const HEADERS: [&str; 7] = ["serviceCode", "status", "total", "online", "offline", "created", "modified"];
/// Which columns hold numbers: their values are right-aligned (headers are strings: left-aligned).
const NUMERIC: [bool; 7] = [false, false, true, true, true, false, false];

/// The table: dash line, header, dash line, one row per service (no closing dash line).
pub fn render(services: &[ServiceStatus]) -> Vec<String> {
    let rows: Vec<[String; 7]> = services
        .iter()
        .map(|s| {
            let none = || "None".to_string();
            [
                s.service_code.clone(),
                s.status.to_string(),
                s.total.to_string(),
                s.online.len().to_string(),
                s.offline.len().to_string(),
                s.created.clone().unwrap_or_else(none),
                s.modified.clone().unwrap_or_else(none),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..HEADERS.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).chain([HEADERS[c].len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: [&str; 7], align: bool| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                if align && NUMERIC[c] {
                    format!("{cell:>w$}", w = widths[c])
                } else {
                    format!("{cell:<w$}", w = widths[c])
                }
            })
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let dashes = "-".repeat(widths.iter().sum::<usize>() + 2 * widths.len());
    let mut lines = vec![dashes.clone(), line(HEADERS, false), dashes];
    for row in &rows {
        lines.push(line(std::array::from_fn(|c| row[c].as_str()), true));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn status(mapped: &[&str], joined: &[&str]) -> ServiceStatus {
        ServiceStatus::new("svc", &names(mapped), &names(joined), None, None)
    }

    #[test]
    fn the_runbooks_table() {
        let mapped = [
            "172.17.0.3:11211",
            "172.17.0.3:11212",
            "172.17.0.4:11211",
            "172.17.0.4:11212",
            "172.17.0.5:11211",
            "172.17.0.5:11212",
        ];
        let joined: Vec<String> = mapped.iter().map(|m| format!("{m}-memcached-x")).collect();
        let s = ServiceStatus::new(
            "ruo91-cloud",
            &names(&mapped),
            &joined,
            Some("2014-05-22 07:27:21.121711".into()),
            None,
        );
        assert_eq!(
            render(&[s]),
            [
                "-----------------------------------------------------------------------------------",
                "serviceCode  status  total  online  offline  created                     modified",
                "-----------------------------------------------------------------------------------",
                "ruo91-cloud  OK          6       6        0  2014-05-22 07:27:21.121711  None",
            ]
        );
    }

    #[test]
    fn no_service_prints_the_header_only() {
        let lines = render(&[]);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1], "serviceCode  status  total  online  offline  created  modified");
        assert_eq!(lines[0].len(), 11 + 6 + 5 + 6 + 7 + 7 + 8 + 14);
    }

    #[test]
    fn wide_values_widen_columns_and_numbers_align_right() {
        let mut s = status(&[], &[]);
        s.service_code = "a-much-longer-service-code".into();
        s.total = 1234567;
        let lines = render(&[s]);
        assert_eq!(lines[1], "serviceCode                 status  total    online  offline  created  modified");
        assert_eq!(lines[3], "a-much-longer-service-code  DOWN    1234567       0        0  None     None");
        assert_eq!(lines[0].len(), 26 + 6 + 7 + 6 + 7 + 7 + 8 + 14);
        assert!(lines.iter().all(|l| l == l.trim_end()));
    }

    #[test]
    fn status_arithmetic() {
        // No mapped node and nothing undefined: DOWN.
        let s = status(&[], &[]);
        assert_eq!((s.status, s.total), ("DOWN", 0));
        // Online 1, offline 1, undefined 1: offline + undefined = total, DOWN.
        let s = status(&["10.0.0.1:1", "10.0.0.1:2"], &["10.0.0.1:1-h", "10.0.0.9:1-h"]);
        assert_eq!((s.status, s.total, s.online.len(), s.offline.len(), s.undefined.len()), ("DOWN", 2, 1, 1, 1));
        // No mapped node but one undefined: SOME_DOWN.
        let s = status(&[], &["10.0.0.9:1-h"]);
        assert_eq!((s.status, s.total, s.undefined.clone()), ("SOME_DOWN", 0, names(&["10.0.0.9:1"])));
        // All mapped nodes offline: DOWN.
        let s = status(&["10.0.0.1:1", "10.0.0.1:2"], &[]);
        assert_eq!((s.status, s.total, s.offline.len()), ("DOWN", 2, 2));
        // One of six offline: SOME_DOWN 6 5 1.
        let mapped = ["a:1", "a:2", "b:1", "b:2", "c:1", "c:2"];
        let s = status(&mapped, &["a:1-h", "a:2-h", "b:1-h", "b:2-h", "c:1-h"]);
        assert_eq!((s.status, s.total, s.online.len(), s.offline.clone()), ("SOME_DOWN", 6, 5, names(&["c:2"])));
        // All online plus an undefined one: SOME_DOWN.
        let s = status(&["a:1", "a:2"], &["a:1-h", "a:2-h", "b:1-h"]);
        assert_eq!((s.status, s.total), ("SOME_DOWN", 2));
        // The rule's order at work: 1 online, 1 undefined, total 1 → offline + undefined = total: DOWN.
        let s = status(&["a:1"], &["a:1-h", "b:1-h"]);
        assert_eq!((s.status, s.total), ("DOWN", 1));
        // All online: OK; the hostname part is cut at the first '-' only.
        let s = status(&["a:1"], &["a:1-memcached-1"]);
        assert_eq!((s.status, s.online.clone()), ("OK", names(&["a:1"])));
    }

    #[test]
    fn blocks_sort_by_ip_then_port() {
        let mapped = ["172.17.0.10:11211", "172.17.0.5:11212", "172.17.0.5:11211", "172.17.0.4:9", "172.17.0.4:10000"];
        let s = status(
            &mapped,
            &mapped.iter().map(|m| format!("{m}-h")).collect::<Vec<_>>().iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert_eq!(
            s.online,
            names(&["172.17.0.4:9", "172.17.0.4:10000", "172.17.0.5:11211", "172.17.0.5:11212", "172.17.0.10:11211"])
        );
    }

    #[test]
    fn json_shape() {
        let s =
            ServiceStatus::new("svc", &names(&["a:1"]), &names(&["a:1-h"]), Some("2024-01-02 03:04:05".into()), None);
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!({"serviceCode": "svc", "status": "OK", "total": 1, "online": ["a:1"], "offline": [],
                "undefined": [], "created": "2024-01-02 03:04:05", "modified": null})
        );
    }
}
