//! `runbook`: one runbook step exactly as `lab up` runs it (`cloud::runbook::run_step`), for the
//! lines a scenario cannot spell itself (the zklist edit and key copy need the lab's addresses, the
//! conf its rendered text). A non-zero exit fails the step.

use futures_util::future::BoxFuture;

use crate::cloud::runbook::{self, Step};
use crate::keys::{FromKey, KeyError, Keys, Scope};
use crate::lab::HostName;
use crate::scenario::{Action, Ctx, Defines, Kind, Observation, Output};

pub const KIND: Kind = Kind {
    name: "runbook",
    summary: "a runbook step as `lab up` runs it: zklist, keys, conf, deploy, zk-init, zk-start, register, start, list",
    keys: &[],
    variants: None,
    output: Output::Optional,
    parse,
};

#[derive(Debug)]
struct Runbook(Step);

impl FromKey for Step {
    fn from_key(value: &toml::de::DeValue<'_>, scope: &Scope) -> Result<Step, String> {
        Step::parse(&String::from_key(value, scope)?).map_err(|e| format!("{e:#}"))
    }
}

fn parse(keys: &Keys, _: &mut Defines) -> Result<Box<dyn Action>, KeyError> {
    Ok(Box::new(Runbook(keys.need("runbook")?)))
}

impl Action for Runbook {
    fn describe(&self) -> String {
        self.0.name().to_string()
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx<'_>) -> BoxFuture<'a, anyhow::Result<Observation>> {
        Box::pin(async move {
            let lines = runbook::run_step(ctx.lab, self.0).await?;
            Ok(Observation::Command {
                host: HostName::Admin,
                lines: lines.into_iter().map(|(line, out)| (line.text, out)).collect(),
            })
        })
    }
}
