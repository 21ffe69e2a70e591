//! Process identity before any thread exists: dropping root privileges (-u) and daemonizing (-d).

use std::fs::OpenOptions;
use std::os::fd::{AsRawFd, IntoRawFd};

use nix::errno::Errno;
use nix::unistd::{daemon, dup2_stderr, dup2_stdin, dup2_stdout, geteuid, getuid, setgid, setgroups, setuid, User};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DaemonError {
    #[error("can't run as root without the -u switch")]
    RootWithoutUser,
    #[error("can't find the user {0} to switch to")]
    UnknownUser(String),
    #[error("failed to assume identity of user {0}: {1}")]
    Identity(String, std::io::Error),
    #[error("failed to daemon() in order to daemonize: {0}")]
    Fork(std::io::Error),
}

impl DaemonError {
    /// arcus-memcached's exit code for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            DaemonError::RootWithoutUser => 64,
            DaemonError::UnknownUser(_) => 67,
            DaemonError::Identity(..) | DaemonError::Fork(_) => 71,
        }
    }
}

/// As root, switches to `user` (required); as anyone else, keeps the identity.
pub fn drop_privileges(user: Option<&str>) -> Result<(), DaemonError> {
    if !getuid().is_root() && !geteuid().is_root() {
        return Ok(());
    }
    let user = user.ok_or(DaemonError::RootWithoutUser)?;
    // getpwnam_r: a name with a NUL byte, an unknown name and a failed lookup are all unknown.
    let Ok(Some(pw)) = User::from_name(user) else {
        return Err(DaemonError::UnknownUser(user.into()));
    };
    let fail = |errno: Errno| DaemonError::Identity(user.into(), errno.into());
    setgroups(&[]).map_err(fail)?;
    setgid(pw.gid).map_err(fail)?;
    setuid(pw.uid).map_err(fail)?;
    Ok(())
}

/// Forks into the background: the launcher exits 0 at once, the child starts a new session,
/// moves to `/` and points stdin/stdout (and stderr unless `keep_stderr`) at /dev/null.
/// Must run before any thread is started.
pub fn daemonize(keep_stderr: bool) -> Result<(), DaemonError> {
    // daemon(3), as arcus-memcached calls it: fork (the parent _exits 0), setsid, chdir("/");
    // with noclose, since stderr may stay. No thread exists yet, so forking is sound.
    daemon(false, true).map_err(|errno| DaemonError::Fork(errno.into()))?;
    if let Ok(null) = OpenOptions::new().read(true).write(true).open("/dev/null") {
        let _ = dup2_stdin(&null);
        let _ = dup2_stdout(&null);
        if !keep_stderr {
            let _ = dup2_stderr(&null);
        }
        if null.as_raw_fd() <= 2 {
            // It is one of the standard descriptors itself (one was closed): leave it open.
            let _ = null.into_raw_fd();
        }
    }
    Ok(())
}
