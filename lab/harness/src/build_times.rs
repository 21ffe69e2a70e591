//! How long each part of making the lab took on this machine the last time it ran (the release
//! binaries, mmdebstrap's install, the base rootfs, each image, a whole `lab up`), kept in
//! `build-times.json` in the lab's state directory, for `doctor`'s estimate of a first `lab up`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The release build of the `arcus` and `memcached` binaries the admin image carries.
pub const BINARIES: &str = "binaries";
/// `apt-get install mmdebstrap`, when `lab up` installs it.
pub const MMDEBSTRAP: &str = "mmdebstrap";
/// A whole `lab up` (images built or not).
pub const LAB_UP: &str = "lab up";
// the images are recorded under their kind: base, host, admin, arcus-builder

/// One part's last time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    pub secs: f64,
    /// When it was measured (seconds since the epoch).
    pub at: u64,
}

fn file(dir: &Path) -> PathBuf {
    dir.join("build-times.json")
}

/// Every part's last time; none when nothing was recorded (or the file is unreadable).
pub fn load(dir: &Path) -> BTreeMap<String, Measured> {
    std::fs::read_to_string(file(dir)).ok().and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_default()
}

/// Keeps `took` as `part`'s last time. A record, not the work: a failure to write it is ignored.
pub fn record(dir: &Path, part: &str, took: Duration) {
    let mut all = load(dir);
    let at = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    all.insert(part.to_string(), Measured { secs: took.as_secs_f64(), at });
    if let Ok(text) = serde_json::to_string_pretty(&all) {
        let _ = std::fs::create_dir_all(dir);
        let _ = std::fs::write(file(dir), text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_time_of_each_part_is_kept() {
        let dir = std::env::temp_dir().join(format!("arcus-build-times-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(load(&dir).is_empty());
        record(&dir, "host", Duration::from_millis(95_500));
        record(&dir, BINARIES, Duration::from_secs(180));
        record(&dir, "host", Duration::from_secs(20));
        let times = load(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(times.keys().collect::<Vec<_>>(), [BINARIES, "host"]);
        assert_eq!((times["host"].secs, times[BINARIES].secs), (20.0, 180.0));
        assert!(times["host"].at > 1_700_000_000);
    }
}
