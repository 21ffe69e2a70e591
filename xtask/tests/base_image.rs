//! A host without Debian bookworm apt sources (an Ubuntu runner, Fedora, Arch): with the apt
//! location pointed at an empty folder and no other way given, `lab up` refuses with a message
//! naming both ways to the base image and leaves nothing behind; with `--base-image` naming a local
//! bookworm image (the lab's own base under a test name) it brings the lab up. And the base's tag
//! follows its source (the apt entries, the mirror's URL), which `cargo xtask ci images` shows
//! without building anything.

mod support;
use support::text;

use std::process::{Command, Output};

use arcus_lab::engine::LABEL_RUN;
use arcus_lab::images::{self, APT_SOURCES_DIR_ENV, BASE_IMAGE_ENV, DEBIAN_MIRROR_ENV};
use arcus_lab::{Engine, Progress};

/// `cargo xtask ARGS` on a host whose apt sources have no Debian entry (`apt`), with neither
/// other way in its environment.
fn xtask_without_debian_sources(apt: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env(APT_SOURCES_DIR_ENV, apt)
        .env_remove(DEBIAN_MIRROR_ENV)
        .env_remove(BASE_IMAGE_ENV)
        .output()
        .expect("run xtask")
}

/// Containers, networks and marker volumes labelled with the run.
async fn left_by(engine: &Engine, run: &str) -> usize {
    engine.list_containers(LABEL_RUN, Some(run)).await.unwrap().len()
        + engine.list_networks(LABEL_RUN, Some(run)).await.unwrap().len()
        + engine.list_volumes(LABEL_RUN, Some(run)).await.unwrap().len()
}

#[tokio::test]
async fn without_debian_sources_lab_up_names_both_ways_and_a_named_base_image_works() {
    let engine = Engine::connect().await.expect("a Docker engine");
    let pid = std::process::id();
    let apt = std::env::temp_dir().join(format!("arcus-lab-test-no-apt-{pid}"));
    std::fs::create_dir_all(&apt).unwrap();

    // no way to the base: refused before anything is made
    let refused_run = format!("no-debian-{pid}");
    let refused = xtask_without_debian_sources(&apt, &["lab", "up", "--bare", "--run", &refused_run]);
    let refused_left = left_by(&engine, &refused_run).await;

    // a local bookworm image under a name of the test's own: the lab's base, tagged once more
    // (a tag carries no label: the test removes exactly the name it made, nothing else)
    images::ensure_host(&engine, &Progress::silent()).await.expect("the lab's base and host images");
    let [base, _] = images::references(&engine).await.expect("the lab's image references");
    let (repo, tag) = ("arcus-lab-test/bookworm", format!("base-image-{pid}"));
    let named = format!("{repo}:{tag}");
    engine.tag_image(&base, repo, &tag).await.expect("tag the lab's base for the test");
    // the host image the lab is to run on: the one built from the named image's base
    images::set_base_image_option(&named);
    let expected_host = images::references(&engine).await.map(|[_, host]| host);
    let up_run = format!("base-image-{pid}");
    let up = xtask_without_debian_sources(&apt, &["lab", "up", "--bare", "--run", &up_run, "--base-image", &named]);
    let ran_on_host = match &expected_host {
        Ok(host) => engine.image_exists(host).await.unwrap(),
        Err(_) => false,
    };
    let down = xtask_without_debian_sources(&apt, &["lab", "down", "--run", &up_run]);
    let up_left = left_by(&engine, &up_run).await;
    engine.remove_image(&named).await.expect("remove the test's tag");
    let _ = std::fs::remove_dir(&apt);

    assert!(!refused.status.success(), "lab up without a way to the base image succeeded: {}", text(&refused));
    let message = String::from_utf8_lossy(&refused.stderr);
    for way in ["--base-image", BASE_IMAGE_ENV, DEBIAN_MIRROR_ENV] {
        assert!(message.contains(way), "the refusal does not name {way}: {}", text(&refused));
    }
    assert_eq!(refused_left, 0, "the refused lab up left containers, networks or volumes of {refused_run}");

    assert!(up.status.success(), "lab up --base-image {named} failed: {}", text(&up));
    let expected_host = expected_host.expect("the image references with --base-image");
    assert!(ran_on_host, "no host image {expected_host} built from {named}'s base after lab up: {}", text(&up));
    assert!(down.status.success(), "lab down --run {up_run}: {}", text(&down));
    assert_eq!(up_left, 0, "lab down left containers, networks or volumes of {up_run}");
    assert!(!engine.image_exists(&named).await.unwrap(), "the test's tag {named} is still there");
    assert!(engine.image_exists(&base).await.unwrap(), "removing the test's tag took the lab's base {base} with it");
}

/// `cargo xtask ci images` (the references, building nothing) with only `vars` for the base's source.
fn references_with(vars: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(["ci", "images"]).env_remove(DEBIAN_MIRROR_ENV).env_remove(BASE_IMAGE_ENV);
    cmd.envs(vars.iter().copied()).output().expect("run xtask")
}

#[test]
fn the_base_tag_follows_its_source_and_a_bad_source_is_named() {
    let refs = |vars: &[(&str, &str)]| {
        let out = references_with(vars);
        assert!(out.status.success(), "ci images with {vars:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect::<Vec<_>>()
    };
    // a host's apt folder of the test's own, with one Debian bookworm entry
    let apt_dir = std::env::temp_dir().join(format!("arcus-lab-test-apt-{}", std::process::id()));
    std::fs::create_dir_all(&apt_dir).unwrap();
    std::fs::write(apt_dir.join("sources.list"), "deb http://apt-entry.invalid/debian bookworm main\n").unwrap();
    let apt_dir_text = apt_dir.to_string_lossy().into_owned();
    let apt = refs(&[(APT_SOURCES_DIR_ENV, &apt_dir_text)]);
    let _ = std::fs::remove_dir_all(&apt_dir);
    let one = refs(&[(DEBIAN_MIRROR_ENV, "http://mirror-one.invalid/debian")]);
    let two = refs(&[(DEBIAN_MIRROR_ENV, "http://mirror-two.invalid/debian")]);
    assert_eq!(one, refs(&[(DEBIAN_MIRROR_ENV, "http://mirror-one.invalid/debian")]), "the same mirror, other tags");
    for (a, b) in [(&apt, &one), (&one, &two), (&apt, &two)] {
        assert!(a[0] != b[0] && a[1] != b[1], "another source, the same base or host tag: {a:?} {b:?}");
    }

    let bad = references_with(&[(DEBIAN_MIRROR_ENV, "mirror-one.invalid/debian")]);
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && said.contains(DEBIAN_MIRROR_ENV), "a mirror without a scheme: {}", text(&bad));
    let missing = references_with(&[(BASE_IMAGE_ENV, "arcus-lab-test/no-such-image:none")]);
    let said = String::from_utf8_lossy(&missing.stderr);
    assert!(
        !missing.status.success() && said.contains("arcus-lab-test/no-such-image:none") && said.contains("never pulls"),
        "a base image that is not there: {}",
        text(&missing)
    );
}
