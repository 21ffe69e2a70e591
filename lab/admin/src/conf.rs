//! Cloud config files (`conf/<name>.json`): parsing with file/line/column errors, validation, and
//! each server's merged config (the global `config` overlaid by the server's own).
//!
//! Config values are strings in every upstream sample. A whole JSON number is accepted too and
//! stored as its decimal string, so ZooKeeper always holds the upstream shape; any other kind of
//! value (true, null, 1.5, a list, an object) is rejected.

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::Path;

/// A valid cloud config.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudConf {
    pub service_code: String,
    pub servers: Vec<Server>,
    /// The whole document with number values turned into strings: what `register` stores.
    pub document: Map<String, Value>,
}

/// One cache node of the config.
#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    pub ip: String,
    pub port: u16,
    /// The global config overlaid by the server's own; every value a string.
    pub config: Map<String, Value>,
}

impl Server {
    /// `ip:port`, the node's name in `cache_server_mapping`.
    pub fn address(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

    /// A value of the merged config.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.config.get(key).and_then(Value::as_str)
    }
}

/// Why a config was refused; every variant names the file (or znode) it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfError {
    #[error("{file}: cannot read: {cause}")]
    Read { file: String, cause: std::io::Error },
    #[error("{file}:{line}:{column}: not valid JSON: {message}")]
    Syntax { file: String, line: usize, column: usize, message: String },
    #[error("{file}: {key}: {problem}")]
    Invalid { file: String, key: String, problem: String },
}

/// Keys whose values must be decimal numbers, and the smallest value each may have.
const NUMERIC_KEYS: [(&str, u64); 4] = [("port", 1), ("memlimit", 1), ("threads", 1), ("connections", 1)];

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<CloudConf, ConfError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|cause| ConfError::Read { file: file.clone(), cause })?;
    parse(&file, &text)
}

/// Parses and validates a config; `file` names its source in errors.
pub fn parse(file: &str, text: &str) -> Result<CloudConf, ConfError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
        ConfError::Syntax { file: file.to_string(), line: e.line(), column: e.column(), message }
    })?;
    let invalid =
        |key: &str, problem: String| ConfError::Invalid { file: file.to_string(), key: key.to_string(), problem };

    let Value::Object(mut document) = value else {
        return Err(invalid("(top level)", format!("must be an object, found {}", kind(&value))));
    };
    let service_code = match document.get("serviceCode") {
        None => return Err(invalid("serviceCode", "missing".into())),
        Some(Value::String(s)) if valid_name(s) => s.clone(),
        Some(Value::String(s)) => {
            return Err(invalid("serviceCode", format!("{s:?} cannot name a znode (empty, \".\", \"..\" or with '/')")))
        }
        Some(other) => return Err(invalid("serviceCode", format!("must be a string, found {}", kind(other)))),
    };
    let global = match document.get("config") {
        None => Map::new(),
        Some(config) => normalize_config("config", config).map_err(|(key, problem)| invalid(&key, problem))?,
    };
    if document.contains_key("config") {
        document.insert("config".into(), Value::Object(global.clone()));
    }
    let entries = match document.get_mut("servers") {
        None => return Err(invalid("servers", "missing".into())),
        Some(Value::Array(entries)) if entries.is_empty() => return Err(invalid("servers", "is empty".into())),
        Some(Value::Array(entries)) => entries,
        Some(other) => return Err(invalid("servers", format!("must be a list, found {}", kind(other)))),
    };

    let mut servers = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, entry) in entries.iter_mut().enumerate() {
        let at = format!("servers[{i}]");
        let Value::Object(entry) = entry else {
            return Err(invalid(&at, format!("must be an object, found {}", kind(entry))));
        };
        let ip = match entry.get("ip") {
            None => return Err(invalid(&format!("{at}.ip"), "missing".into())),
            Some(Value::String(ip)) if valid_name(ip) && !ip.contains(':') && !ip.contains(char::is_whitespace) => {
                ip.clone()
            }
            Some(Value::String(ip)) => {
                return Err(invalid(&format!("{at}.ip"), format!("{ip:?} is not a host address")))
            }
            Some(other) => {
                return Err(invalid(&format!("{at}.ip"), format!("must be a string, found {}", kind(other))))
            }
        };
        if let Some(hostname) = entry.get("hostname").filter(|h| !h.is_string()) {
            return Err(invalid(&format!("{at}.hostname"), format!("must be a string, found {}", kind(hostname))));
        }
        let own = match entry.get("config") {
            None => Map::new(),
            Some(config) => {
                normalize_config(&format!("{at}.config"), config).map_err(|(key, problem)| invalid(&key, problem))?
            }
        };
        if entry.contains_key("config") {
            entry.insert("config".into(), Value::Object(own.clone()));
        }
        let mut config = global.clone();
        config.extend(own);
        let port = match config.get("port").and_then(Value::as_str) {
            Some(port) => port.parse::<u16>().expect("validated by normalize_config"),
            None => {
                return Err(invalid(
                    &format!("{at}.config.port"),
                    "missing (in the server's config and in the global config)".into(),
                ))
            }
        };
        let server = Server { ip, port, config };
        if let Some(first) = seen.insert(server.address(), i) {
            return Err(invalid(&at, format!("{} is listed twice (also servers[{first}])", server.address())));
        }
        servers.push(server);
    }
    Ok(CloudConf { service_code, servers, document })
}

/// Checks a `config` object and turns whole numbers into strings; errors carry the key's path.
fn normalize_config(at: &str, config: &Value) -> Result<Map<String, Value>, (String, String)> {
    let Value::Object(config) = config else {
        return Err((at.to_string(), format!("must be an object, found {}", kind(config))));
    };
    let mut out = Map::new();
    for (key, value) in config {
        let path = format!("{at}.{key}");
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
            other => return Err((path, format!("must be a string, found {}", kind(other)))),
        };
        if let Some((_, min)) = NUMERIC_KEYS.iter().find(|(k, _)| k == key) {
            let max = if key == "port" { u64::from(u16::MAX) } else { u64::from(u32::MAX) };
            let number = text.parse::<u64>().ok().filter(|n| n.to_string() == text && (*min..=max).contains(n));
            if number.is_none() {
                return Err((path, format!("{text:?} is not a decimal number in {min}..{max}")));
            }
        }
        out.insert(key.clone(), Value::String(text));
    }
    Ok(out)
}

/// Whether `s` can be one znode name: not empty, not `.` or `..`, no `/`.
fn valid_name(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains('/')
}

/// What a value is, for messages. A number JSON reads as a float (`1.5`, but also `1e4`) is named
/// with its value: it is refused even where a whole number would do.
fn kind(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Number(n) if n.is_f64() => {
            format!("the number {n}, written with a fraction or an exponent (a whole number is digits only)")
        }
        Value::Number(_) => "a number".into(),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RUO91: &str = r#"{
    "serviceCode": "ruo91-cloud"
  , "servers": [
        { "hostname": "memcached-1", "ip": "172.17.0.3",
          "config": {
              "port"   : "11211"
          }
        }
      , { "hostname": "memcached-1", "ip": "172.17.0.3",
          "config": {
              "port"   : "11212"
          }
        }
      , { "hostname": "memcached-2", "ip": "172.17.0.4", "config": { "port": "11211", "memlimit": "200" } }
    ]
  , "config": {
        "threads"    : "6"
      , "memlimit"   : "100"
      , "connections": "1000"
    }
}"#;

    fn err(text: &str) -> String {
        parse("conf/x.json", text).unwrap_err().to_string()
    }

    #[test]
    fn runbook_config_and_merging() {
        let conf = parse("conf/ruo91.json", RUO91).unwrap();
        assert_eq!(conf.service_code, "ruo91-cloud");
        let addresses: Vec<String> = conf.servers.iter().map(Server::address).collect();
        assert_eq!(addresses, ["172.17.0.3:11211", "172.17.0.3:11212", "172.17.0.4:11211"]);
        let first = &conf.servers[0];
        assert_eq!(
            Value::Object(first.config.clone()),
            json!({"port": "11211", "threads": "6", "memlimit": "100", "connections": "1000"})
        );
        // The server's own config wins over the global one.
        assert_eq!(conf.servers[2].get("memlimit"), Some("200"));
        assert_eq!(conf.servers[2].get("threads"), Some("6"));
        assert_eq!(conf.document["servers"][0]["hostname"], "memcached-1");
    }

    #[test]
    fn port_only_in_the_global_config() {
        let conf =
            parse("c", r#"{"serviceCode":"s","servers":[{"ip":"10.0.0.1"}],"config":{"port":"11211"}}"#).unwrap();
        assert_eq!(conf.servers[0].port, 11211);
    }

    #[test]
    fn whole_numbers_are_accepted_and_stored_as_strings() {
        let conf = parse(
            "c",
            r#"{"serviceCode":"s","servers":[{"ip":"10.0.0.1","config":{"port":11211}}],"config":{"memlimit":100,"threads":"6"}}"#,
        )
        .unwrap();
        assert_eq!(conf.servers[0].get("port"), Some("11211"));
        assert_eq!(conf.servers[0].get("memlimit"), Some("100"));
        assert_eq!(Value::Object(conf.document.clone())["servers"][0]["config"]["port"], "11211");
        assert_eq!(Value::Object(conf.document)["config"]["memlimit"], "100");
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        assert_eq!(
            err("{\n  \"serviceCode\": \"s\"\n  \"servers\": []\n}"),
            "conf/x.json:3:3: not valid JSON: expected `,` or `}`"
        );
        assert_eq!(err("not json"), "conf/x.json:1:2: not valid JSON: expected ident");
        assert!(err("{\"serviceCode\": ").starts_with("conf/x.json:1:16: not valid JSON: EOF"));
    }

    #[test]
    fn missing_and_wrong_keys() {
        let cases = [
            (r#"[]"#, "conf/x.json: (top level): must be an object, found a list"),
            (r#"{"servers":[{"ip":"a","config":{"port":"1"}}]}"#, "conf/x.json: serviceCode: missing"),
            (r#"{"serviceCode":"s"}"#, "conf/x.json: servers: missing"),
            (r#"{"serviceCode":"s","servers":[]}"#, "conf/x.json: servers: is empty"),
            (r#"{"serviceCode":"s","servers":{}}"#, "conf/x.json: servers: must be a list, found an object"),
            (r#"{"serviceCode":"s","servers":[{"config":{"port":"1"}}]}"#, "conf/x.json: servers[0].ip: missing"),
            (
                r#"{"serviceCode":"s","servers":[{"ip":"a"}]}"#,
                "conf/x.json: servers[0].config.port: missing (in the server's config and in the global config)",
            ),
            (r#"{"serviceCode":7,"servers":[]}"#, "conf/x.json: serviceCode: must be a string, found a number"),
            (
                r#"{"serviceCode":"a/b","servers":[]}"#,
                "conf/x.json: serviceCode: \"a/b\" cannot name a znode (empty, \".\", \"..\" or with '/')",
            ),
            (
                r#"{"serviceCode":"s","servers":[{"ip":10,"config":{"port":"1"}}]}"#,
                "conf/x.json: servers[0].ip: must be a string, found a number",
            ),
            (
                r#"{"serviceCode":"s","servers":[{"ip":"a:1","config":{"port":"1"}}]}"#,
                "conf/x.json: servers[0].ip: \"a:1\" is not a host address",
            ),
            (
                r#"{"serviceCode":"s","servers":[{"ip":"a","config":{"port":"11x"}}]}"#,
                "conf/x.json: servers[0].config.port: \"11x\" is not a decimal number in 1..65535",
            ),
            (
                r#"{"serviceCode":"s","servers":[{"ip":"a","config":{"port":"70000"}}]}"#,
                "conf/x.json: servers[0].config.port: \"70000\" is not a decimal number in 1..65535",
            ),
            (
                r#"{"serviceCode":"s","servers":[{"ip":"a","config":{"port":"1"}}],"config":{"memlimit":"lots"}}"#,
                "conf/x.json: config.memlimit: \"lots\" is not a decimal number in 1..4294967295",
            ),
            (
                r#"{"serviceCode":"s","servers":[{"ip":"a","config":{"port":"1"}}],"config":{"memlimit":"0"}}"#,
                "conf/x.json: config.memlimit: \"0\" is not a decimal number in 1..4294967295",
            ),
            (
                r#"{"serviceCode":"s","servers":[{"ip":"a","config":{"port":1.5}}]}"#,
                "conf/x.json: servers[0].config.port: must be a string, found the number 1.5, written with a \
                 fraction or an exponent (a whole number is digits only)",
            ),
            (
                r#"{"serviceCode":"s","servers":[{"ip":"a","config":{"port":1e4}}]}"#,
                "conf/x.json: servers[0].config.port: must be a string, found the number 10000.0, written with a \
                 fraction or an exponent (a whole number is digits only)",
            ),
            (
                r#"{"serviceCode":"s","servers":[{"ip":"a","config":{"port":"1","threads":true}}]}"#,
                "conf/x.json: servers[0].config.threads: must be a string, found a boolean",
            ),
            (
                r#"{"serviceCode":"s","servers":[{"ip":"a","config":"1"}]}"#,
                "conf/x.json: servers[0].config: must be an object, found a string",
            ),
            (r#"{"serviceCode":"s","servers":["a"]}"#, "conf/x.json: servers[0]: must be an object, found a string"),
            (
                r#"{"serviceCode":"s","servers":[{"ip":"a","config":{"port":"1"}},{"ip":"a","config":{"port":1}}]}"#,
                "conf/x.json: servers[1]: a:1 is listed twice (also servers[0])",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(err(text), expected, "{text}");
        }
    }

    #[test]
    fn unreadable_file_names_it() {
        let e = load(Path::new("/nonexistent/ruo91.json")).unwrap_err().to_string();
        assert!(e.starts_with("/nonexistent/ruo91.json: cannot read: "), "{e}");
    }

    /// The repository's fixtures, rendered with 10.0.0.N for `{{memcached-N}}` (fixtures/README.md).
    fn fixture(name: &str) -> Result<CloudConf, ConfError> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures").join(name);
        let mut text = std::fs::read_to_string(&path).unwrap();
        for n in 1..=3 {
            text = text.replace(&format!("{{{{memcached-{n}}}}}"), &format!("10.0.0.{n}"));
        }
        assert!(!text.contains("{{"), "{name} has a placeholder that is not a lab host");
        parse(name, &text)
    }

    #[test]
    fn fixtures() {
        let ruo91 = fixture("ruo91.json").unwrap();
        assert_eq!(ruo91.servers.len(), 6);
        assert_eq!(ruo91.servers[5].address(), "10.0.0.3:11212");
        let numbers = fixture("ruo91-numbers.json").unwrap();
        assert_eq!(numbers.servers, ruo91.servers, "numbers are stored as the same strings");
        assert_eq!(fixture("conflict-cloud.json").unwrap().servers[1].address(), "10.0.0.1:11211");
        let bad = [
            ("not-json.json", "bad/not-json.json:9:9: not valid JSON: expected `,` or `]`"),
            ("missing-servicecode.json", "bad/missing-servicecode.json: serviceCode: missing"),
            ("missing-servers.json", "bad/missing-servers.json: servers: missing"),
            ("empty-servers.json", "bad/empty-servers.json: servers: is empty"),
            ("missing-ip.json", "bad/missing-ip.json: servers[1].ip: missing"),
            (
                "missing-port.json",
                "bad/missing-port.json: servers[1].config.port: missing (in the server's config and in the global config)",
            ),
            ("duplicate-address.json", "bad/duplicate-address.json: servers[2]: 10.0.0.1:11211 is listed twice (also servers[0])"),
            (
                "port-not-numeric.json",
                "bad/port-not-numeric.json: servers[1].config.port: \"eleven\" is not a decimal number in 1..65535",
            ),
            (
                "memlimit-not-numeric.json",
                "bad/memlimit-not-numeric.json: config.memlimit: \"100MB\" is not a decimal number in 1..4294967295",
            ),
            (
                "fractional-number.json",
                "bad/fractional-number.json: servers[0].config.port: must be a string, found the number 11211.5, \
                 written with a fraction or an exponent (a whole number is digits only)",
            ),
        ];
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/bad");
        let mut files: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        files.sort();
        let mut listed: Vec<String> = bad.iter().map(|(name, _)| name.to_string()).collect();
        listed.sort();
        assert_eq!(files, listed, "every bad fixture has its expected message here");
        for (name, expected) in bad {
            let name = format!("bad/{name}");
            assert_eq!(fixture(&name).unwrap_err().to_string(), expected);
        }
    }

    /// Values a key may be given instead of its own: numbers past every limit and in every JSON
    /// form, wrong types, names no znode can have, nesting past serde's depth limit.
    const VALUES: &[&str] = &[
        "\"1e4\"",
        "1e4",
        "1.5",
        "-1",
        "0",
        "1",
        "65535",
        "65536",
        "\"65536\"",
        "\"0\"",
        "\"011211\"",
        "\" 1\"",
        "4294967295",
        "4294967296",
        "18446744073709551616",
        "-9223372036854775809",
        "null",
        "true",
        "[]",
        "{}",
        "\"\"",
        "\".\"",
        "\"..\"",
        "\"a/b\"",
        "\"10.0.0.1:1\"",
        "\"a b\"",
        "\"\\u0000\"",
        "\"é\"",
        "[{\"ip\": \"a\"}]",
        "{\"port\": \"1\"}",
    ];
    const KEYS: &[&str] =
        &["serviceCode", "servers", "config", "ip", "port", "hostname", "memlimit", "threads", "connections", "", "x"];

    /// One to four changes of `text`: a value or a key replaced, a line dropped or repeated,
    /// bytes changed, or a deep nest.
    fn mutate(rng: &mut fastrand::Rng, text: &str) -> String {
        let mut text = text.to_string();
        for _ in 0..1 + rng.usize(..4) {
            let bytes = text.as_bytes();
            match rng.usize(..8) {
                0..=2 => {
                    // the value after a random colon, up to the next , } ] or line end
                    let colons: Vec<usize> = (0..bytes.len()).filter(|i| bytes[*i] == b':').collect();
                    if let Some(&at) = colons.get(rng.usize(..colons.len().max(1))) {
                        let end = text[at + 1..].find([',', '}', ']', '\n']).map_or(text.len(), |i| at + 1 + i);
                        text.replace_range(at + 1..end, VALUES[rng.usize(..VALUES.len())]);
                    }
                }
                3 => {
                    // the key before a random colon
                    let keys: Vec<usize> = (0..bytes.len()).filter(|i| bytes[*i] == b':').collect();
                    if let Some(&at) = keys.get(rng.usize(..keys.len().max(1))) {
                        if let Some(open) = text[..at].rfind('"').and_then(|close| text[..close].rfind('"')) {
                            let close = text[..at].rfind('"').unwrap();
                            text.replace_range(open + 1..close, KEYS[rng.usize(..KEYS.len())]);
                        }
                    }
                }
                4 | 5 => {
                    let mut lines: Vec<&str> = text.lines().collect();
                    if !lines.is_empty() {
                        let i = rng.usize(..lines.len());
                        if rng.bool() {
                            lines.remove(i);
                        } else {
                            lines.insert(i, lines[i]);
                        }
                    }
                    text = lines.join("\n");
                }
                6 => {
                    let depth = rng.usize(100..300);
                    text = format!("{}{text}{}", "[".repeat(depth), "]".repeat(depth));
                }
                _ => {
                    let mut bytes = text.into_bytes();
                    let at = rng.usize(..=bytes.len());
                    match rng.usize(..3) {
                        0 if at < bytes.len() => bytes[at] = rng.u8(..),
                        1 => bytes.insert(at, b"{}[]:,\"\\0-.e \n"[rng.usize(..14)]),
                        _ => bytes.truncate(at),
                    }
                    text = String::from_utf8_lossy(&bytes).into_owned();
                }
            }
        }
        text
    }

    #[test]
    fn mutated_configs_parse_or_name_file_and_key_and_never_panic() {
        const CONFIGS: usize = 50_000;
        let seeds = [
            RUO91,
            r#"{"serviceCode":"s","servers":[{"ip":"10.0.0.1","config":{"port":11211}}],"config":{"memlimit":100}}"#,
        ];
        let mut rng = fastrand::Rng::with_seed(0x00c0_f1d5);
        let (mut parsed, mut refused) = (0, 0);
        for n in 0..CONFIGS {
            let text = mutate(&mut rng, seeds[n % seeds.len()]);
            let outcome = std::panic::catch_unwind(|| parse("conf/fuzz.json", &text));
            match outcome {
                Err(_) => panic!("the conf parser panicked on mutated config {n}:\n{text}"),
                Ok(Ok(conf)) => {
                    parsed += 1;
                    assert!(valid_name(&conf.service_code) && !conf.servers.is_empty(), "{text}");
                    let mut addresses: Vec<String> = conf.servers.iter().map(Server::address).collect();
                    addresses.sort();
                    addresses.dedup();
                    assert_eq!(addresses.len(), conf.servers.len(), "{text}");
                    for server in &conf.servers {
                        assert!(server.port > 0 && server.config.values().all(Value::is_string), "{text}");
                    }
                }
                Ok(Err(e)) => {
                    refused += 1;
                    let message = e.to_string();
                    assert!(message.starts_with("conf/fuzz.json:"), "{message}");
                    match e {
                        ConfError::Syntax { line, .. } => {
                            assert!((1..=text.lines().count() + 1).contains(&line), "{message}\n{text}")
                        }
                        ConfError::Invalid { key, problem, .. } => {
                            assert!(!key.is_empty() && !problem.is_empty(), "{message}")
                        }
                        ConfError::Read { .. } => unreachable!("nothing is read"),
                    }
                }
            }
        }
        eprintln!("{CONFIGS} mutated configs: {parsed} parsed, {refused} refused naming the file");
        assert!(parsed > 0 && refused > CONFIGS / 2, "{parsed} parsed, {refused} refused");
    }
}
