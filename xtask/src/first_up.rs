//! `doctor`'s look ahead at `lab up`: the parts it will do on this machine (compile the release
//! binaries, install mmdebstrap, make the base rootfs, build the images) and about how long each
//! takes: the time last measured here (`build-times.json`), else the project's own machines'.

use arcus_lab::build_times::{self, Measured};
use arcus_lab::images::{self, BaseSource};
use arcus_lab::{paths, Engine};

/// Cold times of the parts on the project's machines (Debian 12, 2 cores, shared with other work;
/// they differ by 2x from one to the next): the release binaries 384 s and the host image 175 s
/// measured with `cargo build --release` and `docker build --no-cache` under a load of about 10;
/// mmdebstrap's rootfs 15-17 s unloaded (docs: lab-environment.md), taken as a minute with the
/// import; apt's install of mmdebstrap and the admin image (copies, no RUN of note) under a minute.
const MACHINE_KIND: &[(&str, f64)] = &[
    (build_times::BINARIES, 380.0),
    (build_times::MMDEBSTRAP, 60.0),
    ("base", 60.0),
    ("host", 180.0),
    ("admin", 30.0),
];

/// One part of the first `lab up`: what it is, whether it is still to do, how long it takes here.
struct Part {
    what: String,
    to_do: bool,
    secs: Option<(f64, &'static str)>,
}

/// The lines `doctor` prints about the first `lab up`; `engine` is None when it cannot be reached
/// (then the images count as to be built).
pub async fn lines(engine: Option<&Engine>) -> Vec<String> {
    let measured = build_times::load(&paths::state_dir());
    let time = |part: &str| -> Option<(f64, &'static str)> {
        match measured.get(part) {
            Some(Measured { secs, .. }) => Some((*secs, "its last time here")),
            None => MACHINE_KIND
                .iter()
                .find(|(p, _)| *p == part)
                .map(|(_, secs)| (*secs, "on the project's 2-core machines; not measured here yet")),
        }
    };
    let mut parts = Vec::new();
    let release = paths::target_dir().join("release");
    let built = release.join("arcus").exists() && release.join("memcached").exists();
    parts.push(Part {
        what: "compile the arcus and memcached binaries (cargo build --release)".into(),
        to_do: !built,
        secs: time(build_times::BINARIES),
    });
    let references = match engine {
        Some(engine) => images::references(engine).await.ok(),
        None => None,
    };
    let (base, host) = match references {
        Some([base, host]) => (Some(base), Some(host)),
        None => (None, None),
    };
    let base_present = present(engine, base.as_deref()).await;
    let from_mmdebstrap = !matches!(BaseSource::chosen(), Ok(BaseSource::Image(_)));
    if from_mmdebstrap && !base_present && which_mmdebstrap().is_none() {
        parts.push(Part {
            what: "install mmdebstrap (apt-get; its output in target/arcus-lab/apt-mmdebstrap.log)".into(),
            to_do: true,
            secs: time(build_times::MMDEBSTRAP),
        });
    }
    let name =
        |reference: &Option<String>, kind: &str| reference.clone().unwrap_or_else(|| format!("arcus-lab/{kind}"));
    parts.push(Part {
        what: format!("make the base image {}", name(&base, "base")),
        to_do: !base_present,
        secs: time("base"),
    });
    parts.push(Part {
        what: format!("build the host image {}", name(&host, "host")),
        to_do: !present(engine, host.as_deref()).await,
        secs: time("host"),
    });
    let admin_present = match engine {
        Some(engine) => {
            images::present(engine).await.unwrap_or_default().iter().any(|i| i.starts_with("arcus-lab/admin:"))
        }
        None => false,
    };
    parts.push(Part {
        what: "build the admin image (again whenever the binaries change)".into(),
        to_do: !(built && admin_present),
        secs: time("admin"),
    });

    let mut lines = vec!["what the next `lab up` does here first, and about how long each part takes:".to_string()];
    let mut total = 0.0;
    for part in &parts {
        let state = if part.to_do { "to do" } else { "done " };
        let secs = if part.to_do { part.secs } else { None };
        let secs = match secs {
            Some((secs, how)) => format!("  ({}, {how})", duration(secs)),
            None => String::new(),
        };
        if part.to_do {
            total += part.secs.map_or(0.0, |(s, _)| s);
        }
        lines.push(format!("  {state} {}{secs}", part.what));
    }
    let whole = match measured.get(build_times::LAB_UP) {
        Some(m) => format!("; the last `lab up` here took {} in all", duration(m.secs)),
        None => String::new(),
    };
    lines.push(format!("  then  start the machines and type the runbook on them{whole}"));
    lines.push(match total {
        0.0 => "  nothing to build: the machines start at once".to_string(),
        _ => format!("  about {} of building before the machines start", duration(total)),
    });
    lines
}

/// Whether the engine has the image (unknown counts as not).
async fn present(engine: Option<&Engine>, reference: Option<&str>) -> bool {
    match (engine, reference) {
        (Some(engine), Some(reference)) => engine.image_exists(reference).await.unwrap_or(false),
        _ => false,
    }
}

fn which_mmdebstrap() -> Option<()> {
    std::process::Command::new("mmdebstrap").arg("--version").output().ok().map(|_| ())
}

/// `45 s`, `3 min 10 s`.
fn duration(secs: f64) -> String {
    let secs = secs.round() as u64;
    match secs {
        0..60 => format!("{secs} s"),
        _ if secs.is_multiple_of(60) => format!("{} min", secs / 60),
        _ => format!("{} min {} s", secs / 60, secs % 60),
    }
}
