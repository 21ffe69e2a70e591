//! `arcus build` against the real engine, on checkouts made here: a directory that is no
//! arcus-memcached checkout is refused before anything starts, and a recipe step that fails names
//! itself, keeps its log and leaves no build container behind. (A whole build of a real checkout
//! takes minutes; `cargo xtask arcus build --src DIR` and `cargo xtask conformance` do that.)

use std::path::Path;

use arcus_lab::engine::LABEL_RUN;
use arcus_lab::{arcus_build, Engine, Progress};

/// The files `arcus build` looks for, with an autorun.sh that fails the way a broken tree would.
fn broken_checkout(dir: &Path, marker: &str) {
    for (file, text) in [
        ("configure.ac", "AC_INIT([not-arcus], [0])\n".to_string()),
        ("memcached.c", "int main(void) { return 0; }\n".to_string()),
        ("arcus_zk.c", "\n".to_string()),
        ("m4/version.m4", "m4_define([VERSION_NUMBER], [1.15.0-test])\n".to_string()),
        ("deps/install.sh", "#!/bin/sh\nexit 0\n".to_string()),
        ("config/autorun.sh", format!("#!/bin/sh\necho '{marker}' >&2\nexit 3\n")),
    ] {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        if file.ends_with(".sh") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
}

/// The build containers of this test process (their run label is `arcus-build-<pid>`).
async fn my_build_containers(engine: &Engine) -> usize {
    let run = format!("arcus-build-{}", std::process::id());
    engine.list_containers(LABEL_RUN, Some(&run)).await.expect("list containers").len()
}

#[tokio::test]
async fn a_directory_that_is_no_checkout_is_refused_naming_what_is_missing() {
    let engine = Engine::connect().await.expect("a Docker engine");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("configure.ac"), "").unwrap();
    let err = arcus_build::build(&engine, dir.path(), &Progress::silent()).await.unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains(&dir.path().display().to_string()) && text.contains("memcached.c is missing"), "{text}");
    let missing = arcus_build::build(&engine, Path::new("/no/such/checkout"), &Progress::silent()).await.unwrap_err();
    assert!(format!("{missing:#}").contains("/no/such/checkout: no such directory"), "{missing:#}");
    assert_eq!(my_build_containers(&engine).await, 0);
}

#[tokio::test]
async fn a_failing_step_names_itself_keeps_its_log_and_leaves_no_container() {
    let engine = Engine::connect().await.expect("a Docker engine");
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("autorun broke on purpose ({})", std::process::id());
    broken_checkout(dir.path(), &marker);
    let err = arcus_build::build(&engine, dir.path(), &Progress::silent()).await.unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("failed at step `autorun`") && text.contains("exit 3"), "{text}");
    let log =
        text.lines().find_map(|l| l.strip_prefix("its log: ")).unwrap_or_else(|| panic!("no log path in: {text}"));
    let logged = std::fs::read_to_string(log).unwrap_or_else(|e| panic!("{log}: {e}"));
    assert!(logged.contains(&marker), "{log} holds {logged:?}");
    assert!(text.contains(&marker), "the message shows the log's tail: {text}");
    assert_eq!(my_build_containers(&engine).await, 0, "a build container was left behind");
}
