//! The `run` step: a shell command on a host (on `arcus` from /opt/arcus/scripts, where the
//! operator stands); observed as its command line, stdout, stderr and exit status.

use anyhow::Result;

use super::runner::{Ctx, Observed};
use crate::engine::ExecOutput;
use crate::runbook::SCRIPTS;

pub(super) async fn run(ctx: &Ctx<'_>, host: &str, command: &str) -> Result<Observed> {
    let script = if host == "arcus" { format!("cd {SCRIPTS} && {command}") } else { command.to_string() };
    let out = ctx.lab.sh(host, &script).await?;
    Ok(observed(ctx, host, command, &out))
}

/// `$ command` (with the host when it is not `arcus`), the two streams and the exit status.
pub(super) fn observed(ctx: &Ctx<'_>, host: &str, command: &str, out: &ExecOutput) -> Observed {
    let mut raw = if host == "arcus" { format!("$ {command}\n") } else { format!("[{host}] $ {command}\n") };
    raw.push_str("--- stdout\n");
    raw.push_str(&out.stdout);
    if !out.stdout.is_empty() && !out.stdout.ends_with('\n') {
        raw.push('\n');
    }
    if !out.stderr.is_empty() {
        raw.push_str("--- stderr\n");
        raw.push_str(&out.stderr);
        if !out.stderr.ends_with('\n') {
            raw.push('\n');
        }
    }
    raw.push_str(&format!("--- exit {}\n", out.exit));
    Observed { text: ctx.normalizer.text(&raw), raw, exit: Some(out.exit), tree: None }
}
