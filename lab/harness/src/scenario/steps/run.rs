//! `run`: a shell command on a host (on `arcus` from /opt/arcus/scripts, where the operator
//! stands); observed as its command line, stdout, stderr and exit status.

use futures_util::future::BoxFuture;

use crate::cloud::SCRIPTS;
use crate::keys::{may, HostRef, KeyError, Keys, Template};
use crate::lab::HostName;
use crate::scenario::{Action, Ctx, Defines, Kind, Observation, Output};

pub const KIND: Kind = Kind {
    name: "run",
    summary: "a shell command on `host` (default arcus, from /opt/arcus/scripts)",
    keys: &[may("host", "the host (default arcus)")],
    variants: None,
    output: Output::RequiredWithExit,
    parse,
};

#[derive(Debug)]
struct Run {
    command: Template,
    host: Option<HostRef>,
}

fn parse(keys: &Keys, _: &mut Defines) -> Result<Box<dyn Action>, KeyError> {
    Ok(Box::new(Run { command: keys.need("run")?, host: keys.get("host")? }))
}

impl Action for Run {
    fn describe(&self) -> String {
        let host = self.host.as_ref().map(HostRef::as_written).unwrap_or(HostName::ADMIN);
        format!("{} on {host}", self.command.0)
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx<'_>) -> BoxFuture<'a, anyhow::Result<Observation>> {
        Box::pin(async move {
            let host = match &self.host {
                Some(host) => ctx.host(host)?,
                None => HostName::Admin,
            };
            let command = ctx.render(&self.command)?;
            let script = if host.is_admin() { format!("cd {SCRIPTS} && {command}") } else { command.clone() };
            let out = ctx.lab.sh(host, &script).await?;
            Ok(Observation::Command { host, lines: vec![(command, out)] })
        })
    }
}
