//! Runs a command on a host: over the system `ssh` as root, or through `sh -c` when the host is this
//! machine (`localhost`, or a name or address of one of its own interfaces, 127.0.0.1 included).
//! stdout and stderr come back merged, in order, as one text. One ssh connection per host is kept
//! open for the life of the command and closed at its end.

use std::collections::HashMap;
use std::net::{ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The deadline of an ordinary command (a start, a stop, a status query).
pub const COMMAND_DEADLINE: Duration = Duration::from_secs(60);

/// What a command reads on stdin.
pub enum Input {
    Null,
    Bytes(Vec<u8>),
}

/// One command for one host.
pub struct Job {
    pub host: String,
    /// Directory to run in (`cd <dir> && <command>`); not shown in the `run:` line.
    pub cwd: Option<String>,
    pub command: String,
    pub input: Input,
    pub deadline: Duration,
}

impl Job {
    pub fn new(host: &str, cwd: Option<&str>, command: impl Into<String>) -> Job {
        Job {
            host: host.to_string(),
            cwd: cwd.map(String::from),
            command: command.into(),
            input: Input::Null,
            deadline: COMMAND_DEADLINE,
        }
    }
}

/// How a command went.
pub struct Outcome {
    pub host: String,
    /// Whether it ran over ssh (the host counts as contacted).
    pub remote: bool,
    /// stdout and stderr, merged.
    pub output: String,
    pub result: Result<(), RunError>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot start {program}: {cause}")]
    Spawn { program: &'static str, cause: std::io::Error },
    #[error("ssh failed (exit status 255): the host is unreachable or refused the key")]
    Ssh,
    #[error("exit status {0}")]
    Exit(i32),
    #[error("killed by a signal")]
    Signal,
    #[error("no end within {0} s; killed")]
    Timeout(u64),
}

/// Whether `host` is this machine: `localhost`, or it resolves to an address one of its own
/// interfaces has (binding a socket to it succeeds). Covers 127.0.0.1, the own hostname and IP.
pub fn is_local(host: &str) -> bool {
    host == "localhost"
        || (host, 0)
            .to_socket_addrs()
            .map(|mut addrs| addrs.any(|a| UdpSocket::bind((a.ip(), 0)).is_ok()))
            .unwrap_or(false)
}

/// Quotes a word for the shell: as it is when every byte is safe bare, else in single quotes
/// (`'` as `'\''`). Not `shlex::try_quote`, whose quoting differs: it double-quotes a word that
/// holds `'` (`"it's"`, where the test below wants `'it'\''s'`) and quotes `=` and `,`, which
/// stay bare here (`/srv/a=b`), so the command lines the hosts run (and `ps` shows) would change.
pub fn sh_quote(word: &str) -> String {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-:,=+@".contains(&b)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// ssh's options for every connection: key authentication only, 1 s to connect, any host key.
const SSH_OPTIONS: [&str; 5] =
    ["BatchMode=yes", "ConnectTimeout=1", "StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null", "LogLevel=ERROR"];

/// How long a master connection outlives its last use if `disconnect_all` never runs (a killed
/// process).
const MASTER_IDLE: &str = "ControlPersist=30";

/// One shared ssh connection per host for the life of the command, as Fabric kept its
/// connections: the first command for a host opens a master connection, later ones (in parallel
/// too) ride on it, `disconnect_all` closes them.
struct Masters {
    /// Holds the control sockets (`%C`: a hash of the connection, short enough for a socket path).
    dir: PathBuf,
    /// Per host: whether its master is up, decided once.
    hosts: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<bool>>>>,
}

static MASTERS: LazyLock<Masters> = LazyLock::new(|| Masters {
    dir: std::env::temp_dir().join(format!("arcus-ssh-{}", std::process::id())),
    hosts: Mutex::new(HashMap::new()),
});

/// `ssh` with the common options and the control socket; callers add `root@<host>` and the rest.
fn ssh_command() -> tokio::process::Command {
    let mut ssh = tokio::process::Command::new("ssh");
    for option in SSH_OPTIONS {
        ssh.arg("-o").arg(option);
    }
    ssh.arg("-o").arg(format!("ControlPath={}/%C", MASTERS.dir.display()));
    ssh
}

/// Opens the master connection to `host` once; false if it could not be opened (commands then
/// connect on their own and fail with ssh's own message).
async fn ensure_master(host: &str) -> bool {
    let cell = {
        let mut hosts = MASTERS.hosts.lock().expect("ssh masters");
        hosts.entry(host.to_string()).or_default().clone()
    };
    *cell
        .get_or_init(|| async {
            if std::fs::create_dir_all(&MASTERS.dir).is_err() {
                return false;
            }
            let mut ssh = ssh_command();
            // -f: into the background once authenticated; -N: no command.
            ssh.args(["-o", "ControlMaster=yes", "-o", MASTER_IDLE, "-f", "-N", &format!("root@{host}")]);
            ssh.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).kill_on_drop(true);
            matches!(
                tokio::time::timeout(Duration::from_secs(10), ssh.status()).await,
                Ok(Ok(status)) if status.success()
            )
        })
        .await
}

/// Closes every master connection and removes their sockets.
pub async fn disconnect_all() {
    let hosts: Vec<String> = {
        let hosts = MASTERS.hosts.lock().expect("ssh masters");
        hosts.iter().filter(|(_, up)| up.get() == Some(&true)).map(|(h, _)| h.clone()).collect()
    };
    futures_util::future::join_all(hosts.iter().map(|host| async move {
        let mut ssh = ssh_command();
        ssh.args(["-O", "exit", &format!("root@{host}")]);
        ssh.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).kill_on_drop(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), ssh.status()).await;
    }))
    .await;
    let _ = std::fs::remove_dir_all(&MASTERS.dir);
}

/// Runs one job to its end or its deadline.
pub async fn run(job: Job) -> Outcome {
    let remote = !is_local(&job.host);
    let script = match &job.cwd {
        Some(dir) => format!("cd {} && {}", sh_quote(dir), job.command),
        None => job.command.clone(),
    };
    let (program, mut command) = if remote {
        ensure_master(&job.host).await;
        let mut ssh = ssh_command();
        ssh.args(["-o", "ControlMaster=no", &format!("root@{}", job.host)]).arg(script);
        ("ssh", ssh)
    } else {
        let mut sh = tokio::process::Command::new("sh");
        sh.arg("-c").arg(script);
        ("sh", sh)
    };
    let (output, result) = execute(program, &mut command, job.input, job.deadline).await;
    Outcome { host: job.host, remote, output, result }
}

/// Runs jobs in parallel; the outcomes come back in the jobs' order.
pub async fn run_all(jobs: Vec<Job>) -> Vec<Outcome> {
    let handles: Vec<_> = jobs.into_iter().map(|job| tokio::spawn(run(job))).collect();
    let mut outcomes = Vec::new();
    for handle in handles {
        outcomes.push(handle.await.expect("a remote job panicked"));
    }
    outcomes
}

async fn execute(
    program: &'static str,
    command: &mut tokio::process::Command,
    input: Input,
    deadline: Duration,
) -> (String, Result<(), RunError>) {
    let spawn_error = |cause| (String::new(), Err(RunError::Spawn { program, cause }));
    let (reader, writer) = match std::io::pipe() {
        Ok(pipe) => pipe,
        Err(source) => return spawn_error(source),
    };
    let writer_copy = match writer.try_clone() {
        Ok(copy) => copy,
        Err(source) => return spawn_error(source),
    };
    command.stdout(writer_copy).stderr(writer).kill_on_drop(true);
    let mut bytes = None;
    match input {
        Input::Null => command.stdin(Stdio::null()),
        Input::Bytes(b) => {
            bytes = Some(b);
            command.stdin(Stdio::piped())
        }
    };
    let spawned = command.spawn();
    // The command keeps our copies of the pipe ends: replace them so that only the child holds them
    // and the reader sees the end of the output when the child (and its children) close it.
    command.stdout(Stdio::null()).stderr(Stdio::null()).stdin(Stdio::null());
    let mut child = match spawned {
        Ok(child) => child,
        Err(source) => return spawn_error(source),
    };
    if let (Some(bytes), Some(mut stdin)) = (bytes, child.stdin.take()) {
        tokio::spawn(async move {
            // A child that exits without reading all its input is not our error to report.
            let _ = stdin.write_all(&bytes).await;
        });
    }
    let collected = Arc::new(Mutex::new(Vec::new()));
    let reading = tokio::spawn(read_into(reader, collected.clone()));
    let status = tokio::time::timeout(deadline, child.wait()).await;
    // A daemon the command started may keep the pipe open: give the rest of the output a moment.
    let _ = tokio::time::timeout(Duration::from_millis(500), reading).await;
    let output = String::from_utf8_lossy(&collected.lock().expect("output buffer")).into_owned();
    let result = match status {
        Err(_) => {
            let _ = child.kill().await;
            Err(RunError::Timeout(deadline.as_secs()))
        }
        Ok(Err(cause)) => Err(RunError::Spawn { program, cause }),
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => match status.code() {
            Some(255) if program == "ssh" => Err(RunError::Ssh),
            Some(code) => Err(RunError::Exit(code)),
            None => Err(RunError::Signal),
        },
    };
    (output, result)
}

/// Reads the merged output until its end, appending to `into` as it arrives.
async fn read_into(reader: std::io::PipeReader, into: Arc<Mutex<Vec<u8>>>) {
    let Ok(mut receiver) = tokio::net::unix::pipe::Receiver::from_owned_fd(reader.into()) else {
        return;
    };
    let mut chunk = [0u8; 8192];
    while let Ok(n) = receiver.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        into.lock().expect("output buffer").extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_hosts() {
        assert!(is_local("127.0.0.1"));
        assert!(is_local("localhost"));
        let own = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert!(is_local(own.trim()));
        assert!(!is_local("192.0.2.1"), "TEST-NET-1 is nobody's address");
        assert!(!is_local("no-such-host.invalid"));
    }

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("/opt/arcus"), "/opt/arcus");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote(""), "''");
    }

    #[tokio::test]
    async fn local_run_merges_output_and_reports_status() {
        let outcome = run(Job::new("127.0.0.1", Some("/"), "pwd; echo err >&2; exit 3")).await;
        assert!(!outcome.remote);
        assert_eq!(outcome.output, "/\nerr\n");
        assert!(matches!(outcome.result, Err(RunError::Exit(3))));

        let mut job = Job::new("localhost", None, "cat");
        job.input = Input::Bytes(b"zoo.cfg\n".to_vec());
        let outcome = run(job).await;
        assert_eq!(outcome.output, "zoo.cfg\n");
        assert!(outcome.result.is_ok());
    }

    #[tokio::test]
    async fn deadline_kills() {
        let mut job = Job::new("127.0.0.1", None, "sleep 5");
        job.deadline = Duration::from_millis(200);
        let outcome = run(job).await;
        assert!(matches!(outcome.result, Err(RunError::Timeout(0))));
    }

    #[tokio::test]
    async fn a_daemon_holding_the_pipe_does_not_block() {
        let started = std::time::Instant::now();
        let outcome = run(Job::new("127.0.0.1", None, "echo up; (sleep 3 &)")).await;
        assert_eq!(outcome.output, "up\n");
        assert!(outcome.result.is_ok());
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
