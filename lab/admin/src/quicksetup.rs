//! `quicksetup <conf>`: deploy, ZooKeeper config/start/leader wait/structure, register, start the
//! nodes, wait a second, list. The ensemble keeps running.

use crate::{conf, deploy, memcached, zookeeper, Ctx};
use std::path::Path;
use std::time::Duration;

pub async fn quicksetup(ctx: &Ctx, conf_path: &Path) -> anyhow::Result<()> {
    let profile = zookeeper::profile_from_env()?;
    let conf = conf::load(conf_path)?;
    ctx.out.server_roles(&ctx.zk_hosts(), &memcached::server_ips(&conf));
    ctx.out.banner("Task: deploy");
    deploy::copy_to(ctx, &deploy::hosts(ctx, &conf)).await?;
    ctx.out.banner("Task: zk_config");
    zookeeper::configure(ctx, profile).await?;
    ctx.out.banner("Task: zk_start");
    zookeeper::zk_start(ctx).await?;
    ctx.out.banner("Func: zk_wait");
    zookeeper::wait_for_leader(ctx, profile).await?;
    ctx.out.banner("Task: zk_create_arcus_structure");
    // An existing /arcus is reported (`init_arcus_structure: fail`) and kept: quicksetup goes on.
    zookeeper::create_structure(ctx).await?;
    ctx.out.banner("Task: mc_register");
    memcached::register_conf(ctx, &conf).await?;
    ctx.out.banner("Task: mc_start");
    memcached::start_service(ctx, &conf.service_code).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    ctx.out.banner("Task: mc_list");
    memcached::list_service(ctx, &conf.service_code).await?;
    ctx.out.done();
    Ok(())
}
