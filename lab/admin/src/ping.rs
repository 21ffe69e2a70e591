//! `ping <svc>`: `ping -c 3` from this machine to every ZooKeeper host and every node's IP.

use crate::remote::{self, Job};
use crate::{conf, Ctx};

pub async fn ping(ctx: &Ctx, svc: &str) -> anyhow::Result<()> {
    ctx.out.server_roles(&ctx.zk_hosts(), &[]);
    let zk = ctx.zk().await?;
    let path = arcus_facts::znode::cache_list(svc);
    let Some((data, _)) = zk.data(&path).await? else {
        anyhow::bail!("unknown service code {svc:?}: {path} does not exist");
    };
    let conf = conf::parse(&path, &String::from_utf8_lossy(&data))?;
    let mut ips: Vec<String> = Vec::new();
    for server in &conf.servers {
        if !ips.contains(&server.ip) {
            ips.push(server.ip.clone());
        }
    }
    ctx.out.banner("Ping to ZooKeeper servers");
    let zk_ok = ping_all(ctx, &ctx.zk_hosts()).await;
    ctx.out.line("");
    ctx.out.banner("Ping to Memcached servers");
    let mc_ok = ping_all(ctx, &ips).await;
    zk_ok.and(mc_ok)?;
    ctx.out.done();
    Ok(())
}

/// Pings the hosts in parallel and prints each one's output in order.
async fn ping_all(ctx: &Ctx, hosts: &[String]) -> anyhow::Result<()> {
    let jobs =
        hosts.iter().map(|h| Job::new("localhost", None, format!("ping -c 3 {}", remote::sh_quote(h)))).collect();
    let outcomes = remote::run_all(jobs).await;
    for (host, outcome) in hosts.iter().zip(&outcomes) {
        ctx.out.host("localhost", &format!("local: ping -c 3 {host}"));
        for line in outcome.output.lines() {
            ctx.out.line(line);
        }
        if let Err(e) = &outcome.result {
            ctx.out.host_error(host, &format!("ping failed: {e}"));
        }
    }
    let failed: Vec<String> =
        hosts.iter().zip(&outcomes).filter(|(_, o)| o.result.is_err()).map(|(h, _)| h.clone()).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("ping failed for {}", failed.join(", "))
    }
}
