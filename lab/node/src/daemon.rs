//! Process identity before any thread exists: dropping root privileges (-u) and daemonizing (-d).

use std::ffi::CString;

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
    // SAFETY: getuid/geteuid have no preconditions.
    if unsafe { libc::getuid() } != 0 && unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    let user = user.ok_or(DaemonError::RootWithoutUser)?;
    let name = CString::new(user).map_err(|_| DaemonError::UnknownUser(user.into()))?;
    // SAFETY: name is a valid C string; getpwnam's result is read before any other call.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(DaemonError::UnknownUser(user.into()));
    }
    // SAFETY: pw is non-null and points to getpwnam's static record.
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    let fail = |_| DaemonError::Identity(user.into(), std::io::Error::last_os_error());
    // SAFETY: plain system calls on integers.
    unsafe {
        check(libc::setgroups(0, std::ptr::null())).map_err(fail)?;
        check(libc::setgid(gid)).map_err(fail)?;
        check(libc::setuid(uid)).map_err(fail)?;
    }
    Ok(())
}

fn check(rc: libc::c_int) -> Result<(), ()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(())
    }
}

/// Forks into the background: the launcher exits 0 at once, the child starts a new session,
/// moves to `/` and points stdin/stdout (and stderr unless `keep_stderr`) at /dev/null.
/// Must run before any thread is started.
pub fn daemonize(keep_stderr: bool) -> Result<(), DaemonError> {
    // SAFETY: no other thread exists yet, so fork is safe; the parent only calls _exit.
    match unsafe { libc::fork() } {
        -1 => return Err(DaemonError::Fork(std::io::Error::last_os_error())),
        0 => {}
        _ => unsafe { libc::_exit(0) },
    }
    // SAFETY: plain system calls in the single-threaded child.
    unsafe {
        if libc::setsid() == -1 {
            return Err(DaemonError::Fork(std::io::Error::last_os_error()));
        }
        let _ = libc::chdir(c"/".as_ptr());
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::dup2(null, 1);
            if !keep_stderr {
                libc::dup2(null, 2);
            }
            if null > 2 {
                libc::close(null);
            }
        }
    }
    Ok(())
}
