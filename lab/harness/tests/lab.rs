//! The bare lab against the real engine: four machines with the runbook's names and fixed
//! addresses, name resolution, password SSH from the admin host, teardown by label, two labs at
//! once on distinct subnets.

use arcus_lab::engine::LABEL_RUN;
use arcus_lab::lab as labs;
use arcus_lab::{Engine, HostName, Lab, LabSpec, Progress, RunId};

async fn up(engine: &Engine) -> Lab {
    Lab::start(engine, &LabSpec::owned(), &Progress::silent()).await.expect("lab up")
}

/// Checks one lab; errors instead of panics so that the caller can tear down first.
async fn check_bare_lab(lab: &Lab) -> anyhow::Result<()> {
    anyhow::ensure!(lab.hosts.len() == 4, "{} hosts", lab.hosts.len());
    let states = lab.states().await?;
    let names: Vec<String> = lab.hosts.iter().map(|h| h.name.to_string()).collect();
    anyhow::ensure!(names == ["arcus", "memcached-1", "memcached-2", "memcached-3"], "hosts {names:?}");
    for host in &lab.hosts {
        anyhow::ensure!(
            states.get(&host.name).map(String::as_str) == Some("running"),
            "{} is {:?}",
            host.name,
            states.get(&host.name)
        );
        let name = lab.exec(host.name, &["hostname"]).await?;
        anyhow::ensure!(
            name.stdout.trim() == host.name.to_string(),
            "hostname of {} says {:?}",
            host.name,
            name.stdout
        );
        let ip = lab.exec(host.name, &["hostname", "-i"]).await?;
        anyhow::ensure!(
            ip.stdout.split_whitespace().any(|a| a == host.ip.to_string()),
            "{} has {:?}, expected {}",
            host.name,
            ip.stdout,
            host.ip
        );
        // every container resolves every host (host entries, not only Docker's DNS)
        for other in &lab.hosts {
            let out = lab.exec(host.name, &["getent", "hosts", &other.name.to_string()]).await?;
            let first = out.stdout.split_whitespace().next().unwrap_or("");
            anyhow::ensure!(
                first == other.ip.to_string(),
                "on {}: getent hosts {} → {:?}",
                host.name,
                other.name,
                out.stdout
            );
        }
    }
    for n in 1..=3 {
        let target = format!("root@memcached-{n}");
        let out = lab
            .exec(
                HostName::Admin,
                &["sshpass", "-p", "memcached", "ssh", "-o", "StrictHostKeyChecking=no", &target, "hostname"],
            )
            .await?;
        anyhow::ensure!(
            out.exit == 0 && out.stdout.trim() == format!("memcached-{n}"),
            "ssh to memcached-{n}: {out:?}"
        );
    }
    // no Arcus or ZooKeeper process runs at the bare level
    for host in &lab.hosts {
        let ps = lab.exec(host.name, &["ps", "-eo", "comm="]).await?;
        anyhow::ensure!(
            !ps.stdout.lines().any(|c| c == "java" || c == "memcached"),
            "{} runs {:?}",
            host.name,
            ps.stdout
        );
    }
    Ok(())
}

async fn labelled(engine: &Engine, run: &RunId) -> (usize, usize) {
    let c = engine.list_containers(LABEL_RUN, Some(run.as_str())).await.unwrap().len();
    let n = engine.list_networks(LABEL_RUN, Some(run.as_str())).await.unwrap().len();
    (c, n)
}

#[tokio::test]
async fn bare_lab_has_the_runbooks_four_machines_and_goes_without_a_trace() {
    let engine = Engine::connect().await.unwrap();
    let lab = up(&engine).await;
    assert_eq!(labelled(&engine, &lab.run).await, (4, 1));
    let checked = check_bare_lab(&lab).await;
    labs::down(&engine, &lab.run).await.unwrap();
    checked.unwrap();
    assert_eq!(labelled(&engine, &lab.run).await, (0, 0), "resources left after down");
}

#[tokio::test]
async fn a_run_id_in_use_is_refused_and_its_lab_left_alone() {
    let engine = Engine::connect().await.unwrap();
    let lab = up(&engine).await;
    let again = LabSpec { run: lab.run.clone(), ..LabSpec::owned() };
    let refused = Lab::start(&engine, &again, &Progress::silent()).await;
    let left = labelled(&engine, &lab.run).await;
    labs::down(&engine, &lab.run).await.unwrap();
    let err = refused.err().expect("a second lab with the same run id started");
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(left, (4, 1), "the first lab was touched by the refused start");
}

#[tokio::test]
async fn two_labs_at_once_get_distinct_subnets_and_both_work() {
    let engine = Engine::connect().await.unwrap();
    let (a, b) = tokio::join!(up(&engine), up(&engine));
    let checked = tokio::join!(check_bare_lab(&a), check_bare_lab(&b));
    labs::down(&engine, &a.run).await.unwrap();
    labs::down(&engine, &b.run).await.unwrap();
    assert_ne!(a.network, b.network);
    checked.0.unwrap();
    checked.1.unwrap();
}

#[tokio::test]
async fn the_guard_refuses_targets_outside_the_lab() {
    let engine = Engine::connect().await.unwrap();
    let lab = up(&engine).await;
    let guard = lab.guard();
    let inside = guard.check(lab.host(HostName::Cache(1)).unwrap().ip.into());
    let outside = guard.connect("192.0.2.77:2181".parse().unwrap()).await;
    let docker_bridge = guard.check("172.17.0.1".parse().unwrap());
    labs::down(&engine, &lab.run).await.unwrap();
    inside.unwrap();
    let err = outside.expect_err("an address outside the lab was let through");
    assert!(err.to_string().contains("outside the lab"), "{err}");
    assert!(docker_bridge.is_err());
}

/// Two starts racing for one run id (each with a maker of its own): whichever fails removes what it
/// made and nothing else, so every start that succeeded still has its whole lab.
#[tokio::test]
async fn two_starts_racing_for_one_run_id_remove_only_their_own() {
    let engine = Engine::connect().await.unwrap();
    let run = RunId::fresh();
    let (a, b) = (LabSpec { run: run.clone(), ..LabSpec::owned() }, LabSpec { run: run.clone(), ..LabSpec::owned() });
    assert_ne!(a.maker, b.maker);
    let quiet = Progress::silent();
    let (first, second) = tokio::join!(Lab::start(&engine, &a, &quiet), Lab::start(&engine, &b, &quiet));
    // what each maker has on the engine now
    let containers = engine.list_containers(LABEL_RUN, Some(run.as_str())).await.unwrap();
    let networks = engine.list_networks(LABEL_RUN, Some(run.as_str())).await.unwrap();
    let owned = |spec: &LabSpec| {
        let mine = |labels: &std::collections::HashMap<String, String>| {
            labels.get(labs::LABEL_OWNER).map(String::as_str) == Some(spec.maker.as_str())
        };
        (containers.iter().filter(|c| mine(&c.labels)).count(), networks.iter().filter(|n| mine(&n.labels)).count())
    };
    let held = [(first.is_ok(), owned(&a)), (second.is_ok(), owned(&b))];
    labs::down(&engine, &run).await.unwrap();
    for (spec, result) in [(&a, &first), (&b, &second)] {
        if let Err(e) = result {
            eprintln!("the start of {} was refused: {e:#}", spec.maker);
        }
    }
    for (started, (c, n)) in held {
        if started {
            assert_eq!((c, n), (4, 1), "a start that succeeded lost part of its lab");
        } else {
            assert_eq!((c, n), (0, 0), "a refused start left what it had made");
        }
    }
    assert!(held.iter().filter(|(started, _)| *started).count() <= 1, "both starts succeeded with one run id");
    assert_eq!(labelled(&engine, &run).await, (0, 0));
}
