//! Bad input to `cargo xtask lab ...` (and the soak's flags), one test each: the message names the
//! value, the exit code is not zero, and the command made nothing (no lab on the engine owned by
//! its process, none under the run id it was given, no process of its group left running).

mod support;

use arcus_lab::engine::LABEL_RUN;
use arcus_lab::{Engine, RunId};
use support::{left_running, owned_by, stderr, xtask};

/// Runs `cargo xtask <args>` and checks that it was refused with a message holding `says` and
/// made nothing; returns its output.
async fn refused(args: &[&str], says: &str) -> std::process::Output {
    let engine = Engine::connect().await.unwrap();
    let (out, pid) = xtask(args);
    let err = stderr(&out);
    assert!(!out.status.success(), "{args:?} was accepted: {err}");
    assert!(err.contains(says), "{args:?}: the message does not say {says:?}:\n{err}");
    assert!(owned_by(&engine, pid).await.is_empty(), "{args:?} left a lab of its own");
    assert_eq!(left_running(pid), Vec::<u32>::new(), "{args:?} left processes running");
    out
}

/// Nothing on the engine carries the run label `run`.
async fn nothing_under(run: &str) {
    let engine = Engine::connect().await.unwrap();
    let containers = engine.list_containers(LABEL_RUN, Some(run)).await.unwrap().len();
    let networks = engine.list_networks(LABEL_RUN, Some(run)).await.unwrap().len();
    let volumes = engine.list_volumes(LABEL_RUN, Some(run)).await.unwrap().len();
    assert_eq!((containers, networks, volumes), (0, 0, 0), "resources under run id {run:?}");
}

/// A run id no lab has.
fn unknown_run() -> String {
    format!("no-such-lab-{}", RunId::fresh())
}

/// A scenario file of this test process with `text`; the caller removes it.
fn scenario_file(name: &str, text: &str) -> String {
    let file = std::env::temp_dir().join(format!("arcus-lab-bad-{name}-{}.toml", std::process::id()));
    std::fs::write(&file, text).unwrap();
    file.to_string_lossy().into_owned()
}

macro_rules! refused {
    ($($name:ident: [$($arg:expr),+] says $says:expr;)+) => {
        $(
            #[tokio::test]
            async fn $name() {
                refused(&[$($arg),+], $says).await;
            }
        )+
    };
}

// an unknown run id, for each command that takes one
#[tokio::test]
async fn down_of_a_run_id_no_lab_has() {
    let run = unknown_run();
    refused(&["lab", "down", "--run", &run], &format!("no lab with run id {run:?}")).await;
    nothing_under(&run).await;
}

#[tokio::test]
async fn status_of_a_run_id_no_lab_has() {
    let run = unknown_run();
    refused(&["lab", "status", "--run", &run], &format!("no lab with run id {run:?}")).await;
    nothing_under(&run).await;
}

#[tokio::test]
async fn logs_of_a_run_id_no_lab_has() {
    let run = unknown_run();
    refused(&["lab", "logs", "--run", &run, "memcached-1"], &format!("no lab with run id {run:?}")).await;
    nothing_under(&run).await;
}

#[tokio::test]
async fn exec_in_a_run_id_no_lab_has() {
    let run = unknown_run();
    refused(&["lab", "exec", "--run", &run, "memcached-1", "--", "true"], &format!("no lab with run id {run:?}")).await;
    nothing_under(&run).await;
}

refused! {
    // run ids Docker would reject, for each command that takes one
    up_with_a_run_id_starting_with_a_dash: ["lab", "up", "--run=-x"] says "run id \"-x\" is not usable";
    down_with_a_slash_in_the_run_id: ["lab", "down", "--run", "bad/id"] says "run id \"bad/id\" is not usable";
    status_with_an_empty_run_id: ["lab", "status", "--run="] says "run id \"\" is not usable";
    exec_with_a_space_in_the_run_id: ["lab", "exec", "--run", "a b", "arcus", "--", "true"] says "run id \"a b\" is not usable";
    logs_with_a_run_id_of_33_characters: ["lab", "logs", "--run", "abcdefghijklmnopqrstuvwxyz0123456", "arcus"]
        says "run id \"abcdefghijklmnopqrstuvwxyz0123456\" is not usable";

    // topology flags
    up_with_33_hosts: ["lab", "up", "--hosts", "33"] says "hosts = 33";
    up_with_no_node_per_host: ["lab", "up", "--nodes-per-host", "0"] says "nodes-per-host = 0";
    up_with_seven_zookeeper_members: ["lab", "up", "--zk", "7"] says "zk = 7";
    up_with_a_service_code_of_bad_characters: ["lab", "up", "--services", "bad_name!"] says "\"bad_name!\" is not a service code";
    up_with_an_empty_service_code: ["lab", "up", "--services="] says "\"\" is not a service code";
    up_with_hosts_not_a_number: ["lab", "up", "--hosts", "abc"] says "'abc'";

    // the other flags of lab up and lab run
    up_until_a_step_the_runbook_has_not: ["lab", "up", "--until", "nosuchstep"] says "unknown runbook step \"nosuchstep\"";
    up_with_an_unknown_profile: ["lab", "up", "--profile", "turbo"] says "unknown timing profile \"turbo\"";
    up_bare_and_until_at_once: ["lab", "up", "--bare", "--until", "list"] says "'--bare' cannot be used with '--until <STEP>'";
    up_with_an_arcus_prefix_that_does_not_exist: ["lab", "up", "--arcus", "/nonexistent/arcus-prefix"]
        says "/nonexistent/arcus-prefix";
    run_with_an_unknown_profile: ["lab", "run", "s04_node_sigkill", "--profile", "turbo"] says "unknown timing profile \"turbo\"";
    down_of_one_run_and_all_at_once: ["lab", "down", "--run", "x", "--all"] says "'--run <RUN>' cannot be used with '--all'";
    exec_without_a_command: ["lab", "exec", "--run", "x", "arcus"] says "<CMD>";

    // scenarios that do not exist
    run_of_a_scenario_that_does_not_exist: ["lab", "run", "no-such-scenario"] says "no scenario \"no-such-scenario\"";
    run_of_a_directory: ["lab", "run", "/tmp"] says "no scenario \"/tmp\"";

    // the soak's numbers
    soak_with_suite_runs_not_a_number: ["bench", "soak", "--suite-runs", "many"] says "'many'";
    soak_with_negative_cycles: ["bench", "soak", "--cycles", "-1"] says "'-1'";
}

/// The second name is wrong: the first scenario does not run either (every file is checked
/// before the first lab starts).
#[tokio::test]
async fn run_of_a_good_scenario_and_a_missing_one() {
    let out =
        refused(&["lab", "run", "s04_node_sigkill", "no-such-scenario"], "no scenario \"no-such-scenario\"").await;
    assert!(!stderr(&out).contains("==> ") && support::stdout(&out).is_empty(), "a scenario ran: {}", stderr(&out));
}

#[tokio::test]
async fn run_of_a_scenario_with_an_unknown_key() {
    let file = scenario_file(
        "key",
        "title = \"x\"\nsetup = \"bare\"\n[[step]]\nfault = \"pause-host\"\nhost = \"memcached-1\"\nfrobnicate = 3\n",
    );
    refused(&["lab", "run", &file], &format!("{file}:6: `frobnicate`")).await;
    std::fs::remove_file(&file).unwrap();
}

#[tokio::test]
async fn run_of_a_scenario_that_is_not_toml() {
    let file = scenario_file("toml", "title = \"x\nsetup = ");
    refused(&["lab", "run", &file], &format!("{file}:1: `title`")).await;
    std::fs::remove_file(&file).unwrap();
}

#[tokio::test]
async fn run_of_a_scenario_naming_a_host_its_lab_has_not() {
    let file = scenario_file(
        "host",
        "title = \"x\"\nsetup = \"bare\"\n[[step]]\nfault = \"pause-host\"\nhost = \"memcached-9\"\n",
    );
    refused(&["lab", "run", &file], "unknown host \"memcached-9\"").await;
    std::fs::remove_file(&file).unwrap();
}

#[tokio::test]
async fn run_of_an_empty_scenario_file() {
    let file = scenario_file("empty", "");
    refused(&["lab", "run", &file], &format!("{file}:1: `title`")).await;
    std::fs::remove_file(&file).unwrap();
}

/// Unknown hosts in a live lab: refused, the lab untouched.
#[tokio::test]
async fn exec_and_logs_on_a_host_the_lab_has_not() {
    let engine = Engine::connect().await.unwrap();
    let run = format!("badhost-{}", RunId::fresh());
    let (up, _) = xtask(&["lab", "up", "--bare", "--run", &run]);
    assert!(up.status.success(), "{}", stderr(&up));
    let states = || async {
        let mut s: Vec<(String, String)> = engine
            .list_containers(LABEL_RUN, Some(&run))
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.name, c.state))
            .collect();
        s.sort();
        s
    };
    let before = states().await;
    for (args, says) in [
        (vec!["lab", "exec", "--run", &run, "memcached-9", "--", "true"], "no host \"memcached-9\""),
        (vec!["lab", "exec", "--run", &run, "arcus2", "--", "true"], "no host \"arcus2\""),
        (vec!["lab", "logs", "--run", &run, "memcached-0"], "no host \"memcached-0\""),
    ] {
        refused(&args, says).await;
    }
    let after = states().await;
    let (down, _) = xtask(&["lab", "down", "--run", &run]);
    assert_eq!(before.len(), 4, "{before:?}");
    assert_eq!(after, before, "a refused command changed lab {run}");
    assert!(down.status.success(), "{}", stderr(&down));
    nothing_under(&run).await;
}
