//! What the admin tool's test files share.

use std::path::PathBuf;

/// A directory under the system's temp dir, removed when dropped (a failing test included).
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// `<temp>/arcus-<name>-<pid>`, created.
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("arcus-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
