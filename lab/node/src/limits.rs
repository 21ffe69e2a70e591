//! What memcached settles from the flags before it drops privileges: the core file limit (`-r`),
//! room in the open-file limit for `-c` connections, and the check that `-c` leaves room for
//! the listening sockets. Each failure has memcached's message and exit code.

use nix::sys::resource::{getrlimit, setrlimit, Resource, RLIM_INFINITY};
use thiserror::Error;

use crate::cli::Args;

/// Descriptors memcached keeps beyond `-c` for ZooKeeper and the like.
const SPARE_FILES: i32 = 20;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum LimitError {
    #[error("failed to ensure corefile creation")]
    Core,
    #[error("failed to getrlimit number of files")]
    ReadOpenFiles,
    #[error("failed to set rlimit for open files. Try running as root or requesting smaller maxconns value.")]
    OpenFiles,
    #[error(
        "Configuration error. \nYou specified {conns} connections, but the system will use at least {structures}\nconnection structures to start."
    )]
    TooFewConnections { conns: i32, structures: i32 },
}

impl LimitError {
    /// arcus-memcached's exit code for this failure (EX_OSERR, EX_USAGE).
    pub fn exit_code(&self) -> i32 {
        match self {
            LimitError::Core | LimitError::ReadOpenFiles | LimitError::OpenFiles => 71,
            LimitError::TooFewConnections { .. } => 64,
        }
    }
}

/// Applies the limits in memcached's order; logs the failure and exits with its code.
pub fn apply_or_exit(args: &Args) {
    if let Err(e) = apply(args) {
        crate::log!("{e}");
        std::process::exit(e.exit_code());
    }
}

fn apply(args: &Args) -> Result<(), LimitError> {
    if args.core_limit {
        raise_core_limit()?;
    }
    make_room_for_connections(args.max_conns)?;
    let structures = connection_structures(args);
    if args.max_conns <= structures {
        return Err(LimitError::TooFewConnections { conns: args.max_conns, structures });
    }
    Ok(())
}

/// Unlimited core files if allowed, else up to the hard limit; a soft limit of 0 is a failure.
fn raise_core_limit() -> Result<(), LimitError> {
    let (_, hard) = getrlimit(Resource::RLIMIT_CORE).map_err(|_| LimitError::Core)?;
    if setrlimit(Resource::RLIMIT_CORE, RLIM_INFINITY, RLIM_INFINITY).is_err() {
        let _ = setrlimit(Resource::RLIMIT_CORE, hard, hard);
    }
    match getrlimit(Resource::RLIMIT_CORE) {
        Ok((soft, _)) if soft > 0 => Ok(()),
        _ => Err(LimitError::Core),
    }
}

/// Raises the open-file limit to `-c` + 20 when it is lower, the hard limit with it if needed.
/// As in C, the sum is an int compared with the unsigned limit: a negative `-c` below -20 asks
/// for an impossible limit and fails.
fn make_room_for_connections(max_conns: i32) -> Result<(), LimitError> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(|_| LimitError::ReadOpenFiles)?;
    let wanted = max_conns.wrapping_add(SPARE_FILES) as i64 as u64;
    let soft = soft.max(wanted);
    let hard = hard.max(soft);
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).map_err(|_| LimitError::OpenFiles)
}

/// The connection structures memcached needs before any client: two for TCP listening (when a
/// TCP port is given), two per worker thread for UDP (when a UDP port is given).
fn connection_structures(args: &Args) -> i32 {
    let tcp = if args.port != 0 { 2 } else { 0 };
    let udp = if args.udp_port != 0 { args.threads.wrapping_mul(2) } else { 0 };
    tcp + udp
}
