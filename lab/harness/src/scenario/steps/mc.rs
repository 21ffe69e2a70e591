//! `mc`: protocol lines to a cache node (`host`, `port`), one request a line (a storage command's
//! data on the next line); observed as `> line` then `< reply line` for each exchange.

use futures_util::future::BoxFuture;

use crate::keys::{need, HostRef, KeyError, Keys, Template};
use crate::probe::node;
use crate::scenario::{Action, Ctx, Defines, Kind, Observation, Output};

pub const KIND: Kind = Kind {
    name: "mc",
    summary: "protocol lines (one request a line) to the node on `host`:`port`",
    keys: &[need("host", "the node's host"), need("port", "the node's port")],
    variants: None,
    output: Output::Required,
    parse,
};

#[derive(Debug)]
struct Mc {
    lines: Template,
    host: HostRef,
    port: u16,
}

fn parse(keys: &Keys, _: &mut Defines) -> Result<Box<dyn Action>, KeyError> {
    Ok(Box::new(Mc { lines: keys.need("mc")?, host: keys.need("host")?, port: keys.need("port")? }))
}

impl Action for Mc {
    fn describe(&self) -> String {
        format!("{} to {}:{}", self.lines.0.replace('\n', "; "), self.host.as_written(), self.port)
    }

    fn run<'a>(&'a self, ctx: &'a mut Ctx<'_>) -> BoxFuture<'a, anyhow::Result<Observation>> {
        Box::pin(async move {
            let host = ctx.host(&self.host)?;
            let lines = ctx.render(&self.lines)?;
            Ok(Observation::Replies(node::exchange(ctx.lab, host, self.port, &lines).await?))
        })
    }
}
