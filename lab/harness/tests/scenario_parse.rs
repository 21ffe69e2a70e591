//! The scenario parser on mutated scenario files: the stock scenarios with bytes, lines, keys and
//! values changed by a seeded generator (a count of files, not a time), each either a scenario or
//! an error naming the file, a line of it and a key; never a panic. Durations that do not fit are
//! errors naming the file, the line, the key and the limit.

use std::path::{Path, PathBuf};

use arcus_lab::scenario::parse_str;

/// Mutated files parsed in all.
const FILES: usize = 40_000;

/// The stock scenarios, the seeds of every mutation.
fn stock() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let mut files: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    files.sort();
    assert!(files.len() >= 20, "the stock scenarios are the seeds: found {} in {}", files.len(), dir.display());
    files
}

/// Values a key may be given instead of its own: durations past every limit and unit, numbers
/// past every integer type, wrong types, unknown names and references.
const VALUES: &[&str] = &[
    "\"99999999999999999999m\"",
    "\"18446744073709551616s\"",
    "\"18446744073709551615s\"",
    "\"1e400s\"",
    "\"25h\"",
    "\"24h 1ms\"",
    "\"-1s\"",
    "\"0s\"",
    "\"5\"",
    "\"\"",
    "\"1.5s\"",
    "\"3 fortnights\"",
    "0",
    "-1",
    "256",
    "65536",
    "18446744073709551616",
    "99999999999999999999999",
    "1e4",
    "1.5",
    "inf",
    "nan",
    "true",
    "[]",
    "[1, \"a\"]",
    "{}",
    "{ a = 1 }",
    "\"$nope\"",
    "\"$$\"",
    "\"memcached-9\"",
    "\"arcus\"",
    "\"ZK\"",
    "\"kill-node\"",
    "\"\\u0000\"",
    "\"é\"",
    "1979-05-27T07:32:00Z",
];

/// Key names to put in place of others: unknown ones, other kinds' keys, table paths.
const KEYS: &[&str] = &[
    "title",
    "setup",
    "step",
    "topology",
    "hosts",
    "zk",
    "run",
    "wait",
    "fault",
    "hold",
    "bind",
    "measure",
    "tree",
    "mc",
    "runbook",
    "host",
    "port",
    "timeout",
    "label",
    "snapshot",
    "expect",
    "expect.contains",
    "expect.exit",
    "expect.min",
    "expect.max",
    "as",
    "from",
    "to",
    "count",
    "path",
    "signal",
    "nosuchkey",
    "a.b.c",
    "\"\"",
    "é",
];

/// One to four changes of a stock file.
fn mutate(rng: &mut fastrand::Rng, text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    for _ in 0..1 + rng.usize(..4) {
        if lines.is_empty() {
            lines.push(String::new());
        }
        let i = rng.usize(..lines.len());
        match rng.usize(..9) {
            // a value replaced
            0..=2 => {
                if let Some((key, _)) = lines[i].split_once('=') {
                    lines[i] = format!("{key}= {}", VALUES[rng.usize(..VALUES.len())]);
                }
            }
            // a key renamed
            3 => {
                if let Some((_, value)) = lines[i].split_once('=') {
                    lines[i] = format!("{} ={value}", KEYS[rng.usize(..KEYS.len())]);
                }
            }
            4 => {
                lines.remove(i);
            }
            5 => {
                let copy = lines[i].clone();
                lines.insert(rng.usize(..=lines.len()), copy);
            }
            // a step header, a table or a key line where it does not belong
            6 => {
                let what = ["[[step]]", "[topology]", "[step]", "[[topology]]", "[", "expect = {", "= 1", "#"];
                lines.insert(i, what[rng.usize(..what.len())].to_string());
            }
            // bytes changed, inserted, cut
            _ => {
                let mut bytes = lines[i].clone().into_bytes();
                let at = rng.usize(..=bytes.len());
                match rng.usize(..3) {
                    0 if !bytes.is_empty() => {
                        let last = bytes.len() - 1;
                        bytes[at.min(last)] = rng.u8(..);
                    }
                    1 => bytes.insert(at, b"\"'=[]{}.,#\\$\n\t 0"[rng.usize(..16)]),
                    _ => bytes.truncate(at),
                }
                lines[i] = String::from_utf8_lossy(&bytes).into_owned();
            }
        }
    }
    lines.join("\n")
}

/// `<file>:<line>: `<key>`: <message>` with a line of the file and a key that is not empty.
fn assert_names_file_line_and_key(file: &Path, text: &str, error: &str) {
    let prefix = format!("{}:", file.display());
    let rest = error.strip_prefix(&prefix).unwrap_or_else(|| panic!("the error does not name the file first: {error}"));
    let (line, rest) = rest.split_once(": `").unwrap_or_else(|| panic!("no line and key in: {error}"));
    let line: usize = line.parse().unwrap_or_else(|_| panic!("no line number in: {error}"));
    assert!((1..=text.lines().count() + 1).contains(&line), "line {line} is not in the file: {error}\n{text}");
    let (key, message) = rest.split_once("`: ").unwrap_or_else(|| panic!("no key in: {error}"));
    // a key is empty only where the file has one (`"" = ...`)
    let named_line = text.lines().nth(line - 1).unwrap_or("");
    let empty_key_there = named_line.trim_start().starts_with("\"\"") || named_line.trim_start().starts_with("''");
    assert!(!key.trim().is_empty() || empty_key_there, "an empty key in: {error}\n--- the file:\n{text}");
    assert!(!message.trim().is_empty(), "no message in: {error}");
}

#[test]
fn mutated_scenarios_parse_or_name_file_line_and_key_and_never_panic() {
    let stock = stock();
    let mut rng = fastrand::Rng::with_seed(0x5ce7_a210);
    let (mut parsed, mut refused) = (0, 0);
    for n in 0..FILES {
        let (path, text) = &stock[n % stock.len()];
        let text = mutate(&mut rng, text);
        let file = path.with_file_name(format!("fuzz-{n}.toml"));
        let outcome = std::panic::catch_unwind(|| parse_str(&file, &text).map(|_| ()).map_err(|e| e.to_string()));
        match outcome {
            Err(_) => panic!("the parser panicked on mutated file {n} (from {}):\n{text}", path.display()),
            Ok(Ok(())) => parsed += 1,
            Ok(Err(error)) => {
                assert_names_file_line_and_key(&file, &text, &error);
                refused += 1;
            }
        }
    }
    eprintln!("{FILES} mutated scenario files: {parsed} parsed, {refused} refused with file, line and key");
    // the mutations are small: some files stay valid, most do not
    assert!(parsed > 0 && refused > FILES / 2, "{parsed} parsed, {refused} refused");
}

#[test]
fn durations_that_do_not_fit_name_file_line_key_and_the_limit() {
    let file = Path::new("scenarios/durations.toml");
    for (key, step, value) in [
        ("hold", "hold = VALUE", "99999999999999999999m"),
        ("hold", "hold = VALUE", "18446744073709551616s"),
        ("hold", "hold = VALUE", "25h"),
        ("timeout", "wait = \"zk-quorum\"\ntimeout = VALUE", "18446744073709551616s"),
        ("timeout", "wait = \"zk-quorum\"\ntimeout = VALUE", "99999999999999999999m"),
        ("timeout", "wait = \"zk-quorum\"\ntimeout = VALUE", "86401s"),
    ] {
        let text = format!(
            "title = \"t\"\nsetup = \"zk\"\n\n[[step]]\n{}\n\n[[step]]\nwait = \"zk-quorum\"\n",
            step.replace("VALUE", &format!("{value:?}"))
        );
        let error = parse_str(file, &text).map(|_| ()).unwrap_err().to_string();
        let line = text.lines().position(|l| l.starts_with(key)).unwrap() + 1;
        assert!(error.starts_with(&format!("{}:{line}: `{key}`: ", file.display())), "{value}: {error}");
        assert!(error.contains(value), "{value}: the value is not named: {error}");
        assert!(error.contains("at most a day"), "{value}: the limit is not named: {error}");
    }
}
