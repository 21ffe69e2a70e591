//! The reference of the scenario vocabulary, rendered from the declarations themselves: every step
//! kind, fault verb, wait condition and binding with its keys, and the `[traffic]` table's keys. The README holds it between
//! markers (a test keeps the two equal) and `cargo xtask lab steps` prints it.

use super::steps::{BINDINGS, CONDITIONS, KINDS};
use super::traffic::{BOUND_KEYS, LOAD_KEYS};
use super::Variant;
use crate::fault::VERBS;
use crate::keys::Key;

/// The marker lines around the reference in the README.
pub const BEGIN: &str = "<!-- scenario vocabulary: generated from the declarations (cargo xtask lab steps) -->";
pub const END: &str = "<!-- end of the scenario vocabulary -->";

/// `host`, `port`, `signal`?: needed keys plain, optional ones with a `?`.
fn keys(keys: &[Key]) -> String {
    let shown: Vec<String> =
        keys.iter().map(|k| if k.needed { format!("`{}`", k.name) } else { format!("`{}`?", k.name) }).collect();
    if shown.is_empty() {
        "–".into()
    } else {
        shown.join(", ")
    }
}

fn table(head: &str, rows: impl Iterator<Item = (String, String, String)>) -> String {
    let mut out = format!("| {head} | keys | what it does |\n|---|---|---|\n");
    for (name, keys, summary) in rows {
        out.push_str(&format!("| {name} | {keys} | {} |\n", summary.replace('|', "\\|")));
    }
    out
}

/// A table's keys (all optional): `| [traffic] | what it sets |`.
fn settings(head: &str, keys: &[Key]) -> String {
    let mut out = format!("| {head} | what it sets |\n|---|---|\n");
    for k in keys {
        out.push_str(&format!("| `{}` | {} |\n", k.name, k.doc.replace('|', "\\|")));
    }
    out
}

fn variants(head: &str, list: &[Variant]) -> String {
    table(head, list.iter().map(|v| (format!("`{}`", v.name), keys(v.keys), v.summary.to_string())))
}

/// The whole reference, as Markdown, between the markers.
pub fn markdown() -> String {
    let kinds =
        table("step kind", KINDS.iter().map(|k| (format!("`{} = …`", k.name), keys(k.keys), k.summary.to_string())));
    let verbs =
        table("`fault =`", VERBS.iter().map(|v| (format!("`{}`", v.name), keys(v.keys), v.summary.to_string())));
    format!(
        "{BEGIN}\n\n{kinds}\nEvery step may have `label`; `run`, `mc` and `tree` take `snapshot` and \
         `expect.contains` (`run` also `expect.exit`), `runbook` may.\n\n{verbs}\n{}\n{}\n{}\n{}\n{END}\n",
        variants("`wait =`", CONDITIONS),
        variants("`bind =`", BINDINGS),
        settings("`[traffic]`", LOAD_KEYS),
        settings("`[traffic.bounds]`", BOUND_KEYS),
    )
}
