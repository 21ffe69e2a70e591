//! The keys of one `[[step]]` table as a scenario file writes them, read with their places in the
//! file: the generic checker behind every step kind and fault verb declaration. A declaration
//! lists its [`Key`]s; [`Keys::check`] refuses a key it does not take and reports one it needs
//! but lacks; typed reads ([`FromKey`]) turn values into durations, hosts, templates, ... and
//! every error says `file:line: key`. Templates (`$name`) are checked against the names earlier
//! steps bound, hosts against the scenario's topology.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::time::Duration;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::lab::{HostName, Topology};

/// A scenario file's name (as errors show it) and text (for line numbers).
#[derive(Debug)]
pub struct Source {
    pub name: String,
    pub text: String,
}

impl Source {
    pub fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())].matches('\n').count() + 1
    }

    /// An error at a place of the file.
    pub fn error(&self, at: Range<usize>, key: &str, message: impl Into<String>) -> KeyError {
        KeyError {
            file: self.name.clone(),
            line: self.line_of(at.start),
            key: key.to_string(),
            message: message.into(),
        }
    }
}

/// A mistake in a scenario file, with its place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: `{key}`: {message}")]
pub struct KeyError {
    pub file: String,
    pub line: usize,
    pub key: String,
    pub message: String,
}

/// A key a declaration takes: its name (`expect.min` for a key of the `expect` table), whether
/// the declaration needs it, and what it means (the reference text of the README and `--help`).
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub name: &'static str,
    pub needed: bool,
    pub doc: &'static str,
}

/// A key the declaration needs.
pub const fn need(name: &'static str, doc: &'static str) -> Key {
    Key { name, needed: true, doc }
}

/// A key the declaration may take.
pub const fn may(name: &'static str, doc: &'static str) -> Key {
    Key { name, needed: false, doc }
}

/// What the steps before this one defined, and the lab's shape: what templates and host names
/// are checked against.
#[derive(Debug, Default)]
pub struct Scope {
    pub topology: Topology,
    /// `$names` bound by earlier `bind` steps.
    pub bound: HashSet<String>,
    /// Labels of earlier steps.
    pub labels: HashMap<String, Labelled>,
}

/// An earlier step that has a label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labelled {
    /// 1-based position in the file.
    pub index: usize,
    pub line: usize,
    /// Its step kind (`tree`, `fault`, ...).
    pub kind: &'static str,
}

struct Entry<'a> {
    key_at: Range<usize>,
    value: &'a Spanned<DeValue<'a>>,
}

/// One step's keys.
pub struct Keys<'a> {
    source: &'a Source,
    /// The `[[step]]` table's place.
    at: Range<usize>,
    entries: BTreeMap<String, Entry<'a>>,
    pub scope: &'a Scope,
    /// 1-based position of the step in the file.
    pub index: usize,
}

impl<'a> Keys<'a> {
    /// A step's table; the keys of its `expect` table become `expect.<key>`.
    pub fn new(
        source: &'a Source,
        table: &'a Spanned<DeValue<'a>>,
        scope: &'a Scope,
        index: usize,
    ) -> Result<Keys<'a>, KeyError> {
        let at = table.span();
        let Some(t) = table.get_ref().as_table() else {
            return Err(source.error(at, "step", "each [[step]] is a table"));
        };
        let mut entries = BTreeMap::new();
        flatten(t, "", &mut entries);
        Ok(Keys { source, at, entries, scope, index })
    }

    /// The line of the step's `[[step]]` header.
    pub fn line(&self) -> usize {
        self.source.line_of(self.at.start)
    }

    /// Whether the step has `key`.
    pub fn has(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// The keys the step has, in file order.
    pub fn present(&self) -> Vec<&str> {
        let mut keys: Vec<(&str, usize)> = self.entries.iter().map(|(k, e)| (k.as_str(), e.key_at.start)).collect();
        keys.sort_by_key(|(_, at)| *at);
        keys.into_iter().map(|(k, _)| k).collect()
    }

    /// An error at `key`'s place (the step's header when the step lacks it).
    pub fn error(&self, key: &str, message: impl Into<String>) -> KeyError {
        let at = self.entries.get(key).map(|e| e.key_at.clone()).unwrap_or_else(|| self.at.clone());
        self.source.error(at, key, message)
    }

    /// Checks the keys against what `owner` takes (`takes`: every key it may have, its own
    /// naming key among them): a stray key first (it is often a needed one misspelt), then a
    /// needed one missing, reported at `owner_key`'s place.
    pub fn check(&self, owner: &str, owner_key: &str, takes: &[Key]) -> Result<(), KeyError> {
        for key in self.present() {
            if !takes.iter().any(|k| k.name == key) {
                let names: Vec<&str> = takes.iter().map(|k| k.name).filter(|k| *k != owner_key).collect();
                let list = if names.is_empty() { "nothing else".to_string() } else { names.join(", ") };
                return Err(self.error(key, format!("{owner} does not take `{key}` (it takes {list})")));
            }
        }
        if let Some(missing) = takes.iter().find(|k| k.needed && !self.has(k.name)) {
            return Err(self.error(owner_key, format!("{owner} needs `{}`", missing.name)));
        }
        Ok(())
    }

    /// The value of `key`, read as a `T`, if the step has it.
    pub fn get<T: FromKey>(&self, key: &str) -> Result<Option<T>, KeyError> {
        let Some(entry) = self.entries.get(key) else { return Ok(None) };
        T::from_key(entry.value.get_ref(), self.scope).map(Some).map_err(|message| {
            let at = if entry.value.span().is_empty() { entry.key_at.clone() } else { entry.value.span() };
            self.source.error(at, key, message)
        })
    }

    /// A key's value as the file gives it (a table of its own: `[traffic.bounds]`).
    pub fn raw(&self, key: &str) -> Option<&'a Spanned<DeValue<'a>>> {
        self.entries.get(key).map(|e| e.value)
    }

    /// The value of a key the step must have (checked by [`Keys::check`] before).
    pub fn need<T: FromKey>(&self, key: &str) -> Result<T, KeyError> {
        self.get(key)?.ok_or_else(|| self.error(key, format!("the step needs `{key}`")))
    }
}

fn flatten<'a>(table: &'a DeTable<'a>, prefix: &str, out: &mut BTreeMap<String, Entry<'a>>) {
    for (key, value) in table.iter() {
        let name = format!("{prefix}{}", key.get_ref());
        match value.get_ref().as_table() {
            Some(inner) if prefix.is_empty() && name == "expect" && !inner.is_empty() => {
                flatten(inner, "expect.", out);
            }
            _ => {
                out.insert(name, Entry { key_at: key.span(), value });
            }
        }
    }
}

/// A value type a key may have.
pub trait FromKey: Sized {
    /// Reads the value; the message of an error is put at the key's place by [`Keys::get`].
    fn from_key(value: &DeValue<'_>, scope: &Scope) -> Result<Self, String>;
}

impl FromKey for String {
    fn from_key(value: &DeValue<'_>, _: &Scope) -> Result<String, String> {
        value.as_str().map(str::to_string).ok_or_else(|| format!("expected a string, found {}", value.type_str()))
    }
}

impl FromKey for bool {
    fn from_key(value: &DeValue<'_>, _: &Scope) -> Result<bool, String> {
        value.as_bool().ok_or_else(|| format!("expected true or false, found {}", value.type_str()))
    }
}

fn integer(value: &DeValue<'_>) -> Result<i128, String> {
    let Some(int) = value.as_integer() else {
        return Err(format!("expected a whole number, found {}", value.type_str()));
    };
    i128::from_str_radix(&int.as_str().replace('_', ""), int.radix()).map_err(|e| format!("{:?}: {e}", int.as_str()))
}

macro_rules! integers {
    ($($t:ty),*) => {$(
        impl FromKey for $t {
            fn from_key(value: &DeValue<'_>, _: &Scope) -> Result<$t, String> {
                let n = integer(value)?;
                <$t>::try_from(n).map_err(|_| format!("{n} is out of range ({}..={})", <$t>::MIN, <$t>::MAX))
            }
        }
    )*};
}
integers!(u8, u16, u32, u64, usize, i64);

impl FromKey for f64 {
    /// A number, whole or not (`0.8`, `1`).
    fn from_key(value: &DeValue<'_>, _: &Scope) -> Result<f64, String> {
        if let Some(float) = value.as_float() {
            return float.as_str().replace('_', "").parse().map_err(|e| format!("{:?}: {e}", float.as_str()));
        }
        integer(value).map(|n| n as f64).map_err(|_| format!("expected a number, found {}", value.type_str()))
    }
}

impl FromKey for Duration {
    /// `250ms`, `3s`, `2m`, `1m 30s` (humantime's format); at most a day.
    fn from_key(value: &DeValue<'_>, scope: &Scope) -> Result<Duration, String> {
        let text = String::from_key(value, scope)?;
        parse_duration(&text)
    }
}

/// `250ms`, `3s`, `2m`, `1m 30s`; at most a day (a scenario's waits and holds are seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    const LIMIT: Duration = Duration::from_secs(24 * 3600);
    let bad = |why: &str| format!("bad duration {text:?}: {why} (write 250ms, 3s, 2m; at most a day, 24h)");
    match humantime::parse_duration(text) {
        Ok(d) if d <= LIMIT => Ok(d),
        // a number past what a duration holds is longer than a day too
        Ok(_) | Err(humantime::DurationError::NumberOverflow) => Err(bad("longer than a day")),
        Err(e) => Err(bad(&e.to_string())),
    }
}

/// A string or a list of strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOrMany(pub Vec<String>);

impl FromKey for OneOrMany {
    fn from_key(value: &DeValue<'_>, scope: &Scope) -> Result<OneOrMany, String> {
        match value.as_array() {
            Some(items) => items
                .iter()
                .map(|item| String::from_key(item.get_ref(), scope))
                .collect::<Result<Vec<_>, _>>()
                .map(OneOrMany),
            None => String::from_key(value, scope).map(|one| OneOrMany(vec![one])),
        }
    }
}

/// A string that may hold `$name` references to values bound by earlier steps (`$$` is a `$`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(pub String);

impl std::fmt::Display for Template {
    /// As written.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The values bound so far while a scenario runs.
pub type Bindings = HashMap<String, String>;

impl Template {
    /// The text with every `$name` replaced.
    pub fn render(&self, bound: &Bindings) -> anyhow::Result<String> {
        let mut out = String::new();
        for piece in pieces(&self.0) {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Name(name) => {
                    out.push_str(bound.get(name).ok_or_else(|| anyhow::anyhow!("${name} is not bound"))?)
                }
            }
        }
        Ok(out)
    }

    /// Whether the text refers to a bound name.
    pub fn is_reference(&self) -> bool {
        pieces(&self.0).iter().any(|p| matches!(p, Piece::Name(_)))
    }

    fn checked(text: String, scope: &Scope) -> Result<Template, String> {
        for piece in pieces(&text) {
            if let Piece::Name(name) = piece {
                if name.is_empty() {
                    return Err("a `$` without a name (write `$$` for a literal `$`)".into());
                }
                if !scope.bound.contains(name) {
                    return Err(format!("${name} is not bound by an earlier `bind` step"));
                }
            }
        }
        Ok(Template(text))
    }
}

impl FromKey for Template {
    fn from_key(value: &DeValue<'_>, scope: &Scope) -> Result<Template, String> {
        Template::checked(String::from_key(value, scope)?, scope)
    }
}

/// A host of the scenario's topology, or a `$name` bound to one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRef(pub Template);

impl HostRef {
    /// The host it names now; a bound value that is no host of the lab is an error.
    pub fn resolve(&self, bound: &Bindings, topology: &Topology) -> anyhow::Result<HostName> {
        let name = self.0.render(bound)?;
        let host: HostName = name.parse().map_err(anyhow::Error::msg)?;
        anyhow::ensure!(topology.has(host), "{:?} is {name:?}, not a host of the lab", self.0 .0);
        Ok(host)
    }

    /// As written in the file.
    pub fn as_written(&self) -> &str {
        &self.0 .0
    }

    fn checked(text: String, scope: &Scope) -> Result<HostRef, String> {
        let template = Template::checked(text, scope)?;
        if !template.is_reference() {
            let known = template.0.parse::<HostName>().is_ok_and(|h| scope.topology.has(h));
            if !known {
                return Err(format!("unknown host {:?}: the hosts are {}", template.0, scope.topology.host_list()));
            }
        }
        Ok(HostRef(template))
    }
}

impl FromKey for HostRef {
    fn from_key(value: &DeValue<'_>, scope: &Scope) -> Result<HostRef, String> {
        HostRef::checked(String::from_key(value, scope)?, scope)
    }
}

impl std::fmt::Display for HostRef {
    /// As written.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_written())
    }
}

/// A list of hosts, not empty.
impl FromKey for Vec<HostRef> {
    fn from_key(value: &DeValue<'_>, scope: &Scope) -> Result<Vec<HostRef>, String> {
        let Some(items) = value.as_array() else {
            return Err(format!("expected a list of hosts ([\"memcached-1\"]), found {}", value.type_str()));
        };
        let hosts = items
            .iter()
            .map(|item| HostRef::checked(String::from_key(item.get_ref(), scope)?, scope))
            .collect::<Result<Vec<_>, _>>()?;
        if hosts.is_empty() {
            return Err("an empty list of hosts".into());
        }
        Ok(hosts)
    }
}

/// A znode path (a template starting with `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZnodePath(pub Template);

impl FromKey for ZnodePath {
    fn from_key(value: &DeValue<'_>, scope: &Scope) -> Result<ZnodePath, String> {
        let template = Template::from_key(value, scope)?;
        if !template.0.starts_with('/') {
            return Err(format!("{:?} is not a znode path (it must start with /)", template.0));
        }
        Ok(ZnodePath(template))
    }
}

/// A label of an earlier step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelRef {
    pub label: String,
    pub step: Labelled,
}

impl FromKey for LabelRef {
    fn from_key(value: &DeValue<'_>, scope: &Scope) -> Result<LabelRef, String> {
        let label = String::from_key(value, scope)?;
        match scope.labels.get(&label) {
            Some(step) => Ok(LabelRef { label, step: step.clone() }),
            None => {
                let mut known: Vec<&str> = scope.labels.keys().map(String::as_str).collect();
                known.sort();
                let known = if known.is_empty() {
                    "no earlier step has a label".to_string()
                } else {
                    format!("the labels so far: {}", known.join(", "))
                };
                Err(format!("unknown label {label:?} ({known})"))
            }
        }
    }
}

/// A name: letters, digits and `_`, not a digit first (`bind`'s `as`).
pub fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A label or a snapshot name: letters, digits, `-` and `_`, a letter first.
pub fn is_label(label: &str) -> bool {
    let mut chars = label.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A piece of a template: literal text or a `$name` (`$$` is the text `$`).
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Name(&'a str),
}

fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        if at > 0 {
            pieces.push(Piece::Text(&rest[..at]));
        }
        let after = &rest[at + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            pieces.push(Piece::Text("$"));
            rest = stripped;
            continue;
        }
        let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
        pieces.push(Piece::Name(&after[..end]));
        rest = &after[end..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_bound_names_and_dollars() {
        let bound = Bindings::from([("leader".to_string(), "memcached-2".to_string())]);
        assert_eq!(Template("on $leader, $$5".into()).render(&bound).unwrap(), "on memcached-2, $5");
        assert!(Template("$other".into()).render(&bound).is_err());
    }

    #[test]
    fn durations_are_humantimes_within_a_day() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        for bad in ["5", "99999999999999999999m", "18446744073709551616s", "25h", "-1s", ""] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.starts_with(&format!("bad duration {bad:?}")), "{e}");
            assert!(e.contains("at most a day"), "{e}");
        }
        for too_long in ["99999999999999999999m", "18446744073709551616s", "25h", "86401s"] {
            assert!(parse_duration(too_long).unwrap_err().contains(": longer than a day ("), "{too_long}");
        }
    }
}
