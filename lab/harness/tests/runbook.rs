//! The runbook's admin steps 5-14 in a lab, as an operator types them on `arcus`, with
//! ZooKeeper's tree checked after steps 9, 12 and 13 and the final `listall`.

use std::time::Duration;

use arcus_lab::cloud::ready::Ready;
use arcus_lab::cloud::{self, runbook, Level, Step, UpOptions};
use arcus_lab::lab::{self as labs, RUNBOOK_SERVICE as SERVICE};
use arcus_lab::probe::zk::ZkSession;
use arcus_lab::{Engine, Lab, LabSpec, Progress, Timing};

const CACHE_LIST: &str = "/arcus/cache_list/ruo91-cloud";
const TIMING: Timing = Timing::Fast;

async fn steps_9_to_14(lab: &Lab) -> anyhow::Result<()> {
    // step 9 stops the ensemble again: start it (step 10) to look at what init made
    runbook::run(lab, Step::ZkStart, Step::ZkStart, TIMING, &Progress::silent()).await?;
    let session = ZkSession::connect(lab, Duration::from_secs(20)).await?;
    let after_init = session.tree("/arcus").await?;
    anyhow::ensure!(
        after_init.paths() == ["/arcus", "/arcus/cache_list", "/arcus/cache_server_mapping", "/arcus/client_list"],
        "after zookeeper init:\n{}",
        after_init.render()
    );
    anyhow::ensure!(after_init.0.iter().all(|z| z.data.is_empty() && !z.is_ephemeral()), "{}", after_init.render());

    runbook::run(lab, Step::Register, Step::Register, TIMING, &Progress::silent()).await?;
    let after_register = session.tree("/arcus").await?;
    let service = after_register.0.iter().find(|z| z.path == CACHE_LIST).map(|z| z.data.clone()).unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(&service)?;
    anyhow::ensure!(
        json["serviceCode"] == SERVICE && json["created"].is_string() && json.get("modified").is_none(),
        "{service}"
    );
    let mappings = session.children("/arcus/cache_server_mapping").await?;
    anyhow::ensure!(mappings.len() == 6, "mappings {mappings:?}");
    for ip in lab.cache_hosts().map(|h| h.ip) {
        for port in [11211, 11212] {
            let path = format!("/arcus/cache_server_mapping/{ip}:{port}");
            anyhow::ensure!(session.children(&path).await? == [SERVICE], "{path} has no {SERVICE} child");
        }
    }
    anyhow::ensure!(after_register.paths().contains(&"/arcus/client_list/ruo91-cloud"), "{}", after_register.render());
    anyhow::ensure!(session.children(CACHE_LIST).await?.is_empty());

    runbook::run(lab, Step::Start, Step::Start, TIMING, &Progress::silent()).await?;
    let nodes =
        Ready::Children { path: CACHE_LIST.into(), count: 6 }.wait(lab, Duration::from_secs(20), TIMING).await?;
    let after_start = session.tree(CACHE_LIST).await?;
    for host in lab.cache_hosts() {
        for port in [11211, 11212] {
            let name = format!("{}:{port}-{}", host.ip, host.name);
            let node = after_start.0.iter().find(|z| z.path == format!("{CACHE_LIST}/{name}"));
            anyhow::ensure!(
                node.is_some_and(|z| z.is_ephemeral() && z.data == "100MB"),
                "{name} missing or wrong in {nodes}:\n{}",
                after_start.render()
            );
        }
    }

    let listall = runbook::run_step(lab, Step::List).await?.remove(0).1;
    let row = listall.stdout.lines().find(|l| l.starts_with(SERVICE)).unwrap_or_default();
    let cols: Vec<&str> = row.split_whitespace().collect();
    anyhow::ensure!(cols.get(1..5) == Some(&["OK", "6", "6", "0"][..]), "listall:\n{}", listall.stdout);
    Ok(())
}

#[tokio::test]
async fn runbook_steps_5_to_14_build_a_cloud_of_six_nodes() {
    let engine = Engine::connect().await.unwrap();
    let options = UpOptions { lab: LabSpec::owned(), level: Level::Runbook(Step::ZkInit) };
    let lab = cloud::up(&engine, &options, &Progress::silent()).await.unwrap();
    let checked = steps_9_to_14(&lab).await;
    labs::down(&engine, &lab.run).await.unwrap();
    checked.unwrap();
}
