//! How the admin tool starts a cache node over ssh, as a shell line: shared by the admin's
//! `memcached start` and the harness's `restart-node`, which starts a node again the same way.

/// `command` with its output sent to a temporary file that is shown once it exits. A daemon it
/// starts inherits that file, not the pipe to the caller: arcus-memcached's `-d -v` keeps its
/// stdout and stderr open, which would keep an ssh session (or an exec's pipe) open for the
/// daemon's whole life.
pub fn detached(command: &str) -> String {
    format!("out=$(mktemp) && {{ ({command}) > \"$out\" 2>&1; rc=$?; cat \"$out\"; rm -f \"$out\"; exit $rc; }}")
}
