//! `cargo xtask doctor`: what this machine gives the lab, each finding with the line that fixes it.

use std::process::ExitCode;

use anyhow::Result;
use arcus_lab::images::{BaseSource, BaseSourceError};
use arcus_lab::lab as labs;
use arcus_lab::Engine;

/// Where mmdebstrap finds the Debian archive's keys on a host that is not Debian.
const DEBIAN_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

pub async fn run() -> Result<ExitCode> {
    let mut problems = 0;
    let mut report = |ok: bool, finding: String, fix: &str| {
        if ok {
            println!("ok    {finding}");
        } else {
            problems += 1;
            println!("FIX   {finding}\n      → {fix}");
        }
    };
    match Engine::connect().await {
        Ok(engine) => {
            let version = engine.server_version().await.unwrap_or_default();
            report(true, format!("Docker engine {version} at {}", engine.endpoint()), "");
            let api = engine.api_version();
            report(
                api.split_once('.')
                    .and_then(|(major, minor)| Some((major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?)))
                    >= Some((1, 41)),
                format!("API version {api} (negotiated)"),
                "the lab needs API 1.41 or newer: upgrade the Docker engine",
            );
            match labs::labs(&engine).await {
                Ok(labs) => {
                    let stale: Vec<String> =
                        labs.iter().filter(|l| l.state().is_abandoned()).map(|l| l.run.to_string()).collect();
                    let kept = labs.iter().filter(|l| l.state() == labs::LabState::Kept).count();
                    report(
                        kept == 0,
                        format!("{kept} lab(s) kept by `lab up`"),
                        "cargo xtask lab down --all (or --run ID)",
                    );
                    report(
                        stale.is_empty(),
                        format!("{} abandoned lab(s) (their process is gone) {}", stale.len(), stale.join(" "))
                            .trim_end()
                            .to_string(),
                        "cargo xtask lab gc",
                    );
                }
                Err(e) => report(false, format!("cannot list labs: {e}"), "check the engine"),
            }
            match arcus_lab::images::present(&engine).await {
                Ok(images) => report(true, format!("{} lab image(s) present", images.len()), ""),
                Err(e) => report(false, format!("cannot list images: {e}"), "check the engine"),
            }
        }
        Err(e) => report(
            false,
            format!("{e}"),
            "start the daemon (service docker start) or point DOCKER_HOST at a running engine",
        ),
    }
    // which way to the base image `lab up` will take, and what that way needs
    let base = BaseSource::chosen();
    match &base {
        Ok(source) => report(true, format!("base image: {}", source.describe()), ""),
        Err(BaseSourceError::NoWay { apt }) => report(
            false,
            format!("base image: no way to it ({apt} has no Debian bookworm apt entry, and no other way is given)"),
            "one of:\n        \
             a local Debian bookworm image (never pulled): cargo xtask lab up --base-image IMAGE (or export ARCUS_LAB_BASE_IMAGE=IMAGE)\n        \
             a Debian mirror for mmdebstrap: export ARCUS_LAB_DEBIAN_MIRROR=http://HOST/debian, with mmdebstrap and debian-archive-keyring installed",
        ),
        Err(e) => report(false, format!("base image: {e}"), "fix or unset ARCUS_LAB_DEBIAN_MIRROR"),
    }
    if let Ok(BaseSource::Image(image)) = &base {
        let present = match Engine::connect().await {
            Ok(engine) => engine.image_id(image).await.ok().flatten().is_some(),
            Err(_) => false,
        };
        report(
            present,
            format!("base image {image} on this engine"),
            &format!(
                "the lab never pulls it: docker load -i FILE (an image saved elsewhere), or docker tag ID {image}"
            ),
        );
    } else {
        let mmdebstrap = std::process::Command::new("mmdebstrap").arg("--version").output().is_ok();
        report(
            mmdebstrap,
            "mmdebstrap on the PATH".into(),
            "apt-get install -y mmdebstrap (lab up installs it itself when run as root on Debian)",
        );
    }
    if let Ok(BaseSource::Mirror(_)) = &base {
        report(
            std::path::Path::new(DEBIAN_KEYRING).exists(),
            format!("{DEBIAN_KEYRING} (mmdebstrap checks the mirror's signatures with it)"),
            "install debian-archive-keyring (apt-get, pacman; Fedora: dnf install debian-keyring)",
        );
    }
    let free = free_gib(&arcus_lab::paths::workspace_root());
    report(
        free >= 5.0,
        format!("{free:.1} GiB free under the workspace"),
        "free disk space: the images and builds need about 5 GiB",
    );
    // what the next `lab up` has to make first, and about how long that takes here
    let engine = Engine::connect().await.ok();
    for line in crate::first_up::lines(engine.as_ref()).await {
        println!("{line}");
    }
    Ok(if problems == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn free_gib(path: &std::path::Path) -> f64 {
    let Ok(c_path) = std::ffi::CString::new(path.to_string_lossy().as_bytes()) else { return 0.0 };
    // SAFETY: statvfs only writes into the zeroed struct we pass.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 {
        return 0.0;
    }
    (stat.f_bavail as f64 * stat.f_frsize as f64) / (1u64 << 30) as f64
}
