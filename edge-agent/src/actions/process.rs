//! Child processes of actions. Each command runs in its own process group, so cancelling
//! it (or its timeout) kills everything it started, not just the first process. The
//! groups in flight are recorded under the work dir, so an agent restarted after a crash
//! kills what its previous life left running.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

use protocol::{MAX_LOG_LINE_BYTES, cut_log_line};
use telemetry::opentelemetry::KeyValue;

use crate::actions::{ActionContext, ActionError};

/// Lines kept for error messages and outputs.
const TAIL_LINES: usize = 20;

/// Lines read ahead of the log's outbox: when the outbox is full, reading stops, the pipe
/// fills and the command waits (backpressure instead of memory).
const LINES_IN_FLIGHT: usize = 256;

/// Variables a command inherits from the agent, when set: where programs are and how text
/// is encoded. Nothing else — not the agent's enrollment token, not whatever the agent's
/// own environment holds. `HOME` is the attempt's directory.
const INHERITED: &[&str] = &["PATH", "LANG", "LC_ALL", "TZ", "DOCKER_HOST"];

/// What marks a daemon (and what it starts) as this machine's, for the local target's
/// teardown: the agent's work dir.
const DAEMON_MARKER: &str = "RATCHET_AGENT_WORK_DIR";

/// A command with an explicit environment: [`INHERITED`], `HOME`, and what the caller adds.
pub fn clean_command(program: impl AsRef<std::ffi::OsStr>, home: &Path) -> Command {
    let mut command = Command::new(program);
    command.env_clear();
    for var in INHERITED {
        if let Some(value) = std::env::var_os(var) {
            command.env(var, value);
        }
    }
    command.env("HOME", home);
    command
}

/// A daemon's program: on the PATH, or where Debian's packages put daemons (`/usr/sbin`,
/// which a service's PATH may lack).
pub fn system_program(name: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).exists()));
    let packaged = Path::new("/usr/sbin").join(name);
    if !on_path && packaged.exists() {
        packaged
    } else {
        PathBuf::from(name)
    }
}

/// Start `program args` as a daemon: in a process group of its own (the attempt's end
/// does not stop it; it carries the machine's marker for the teardown), its output
/// appended to `log`. The agent keeps it as a child only to reap it when it exits. (A program that
/// daemonizes itself would race the attempt's end: its group is killed when the command
/// returns, possibly before the forked daemon left it.)
pub fn spawn_daemon(
    ctx: &ActionContext,
    program: &Path,
    args: &[OsString],
    log: &Path,
    cwd: &Path,
    run_as: Option<(u32, u32)>,
) -> Result<(), ActionError> {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| ActionError::retryable(format!("cannot open {}: {e}", log.display())))?;
    let err = out
        .try_clone()
        .map_err(|e| ActionError::retryable(format!("cannot open {}: {e}", log.display())))?;
    let mut command = clean_command(program, cwd);
    command
        .args(args)
        .env(DAEMON_MARKER, &ctx.work_dir)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // A process group of its own: not the attempt's, which goes when the attempt ends.
        .process_group(0)
        .kill_on_drop(false);
    if let Some((uid, gid)) = run_as {
        command.uid(uid).gid(gid);
    }
    let mut child = command
        .spawn()
        .map_err(|e| ActionError::fatal(format!("cannot start `{}`: {e}", program.display())))?;
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    Ok(())
}

/// SIGKILL every process whose command line names `path` (a daemon's config or data
/// dir): what an earlier attempt left running, or a fault's victim. Answers how many.
pub fn kill_naming(path: &Path) -> usize {
    let needle = path.to_string_lossy();
    let own = std::process::id() as i32;
    let mut killed = 0;
    for process in procfs::process::all_processes()
        .into_iter()
        .flatten()
        .flatten()
    {
        let names = process
            .cmdline()
            .is_ok_and(|args| args.iter().any(|a| a.contains(needle.as_ref())));
        if names && process.pid != own {
            let pid = Pid::from_raw(process.pid);
            if nix::sys::signal::kill(pid, Signal::SIGKILL).is_ok() {
                killed += 1;
            }
        }
    }
    killed
}

/// SIGKILL a process and its children (a postmaster and its backends, at once), and wait
/// (at most 10 s) until they are gone: a server started again on the same data needs its
/// shared memory and port free.
pub async fn kill_with_children(pid: i32) {
    let children: Vec<i32> = procfs::process::all_processes()
        .into_iter()
        .flatten()
        .flatten()
        .filter(|p| p.stat().is_ok_and(|s| s.ppid == pid))
        .map(|p| p.pid)
        .collect();
    let all: Vec<Pid> = std::iter::once(pid)
        .chain(children)
        .map(Pid::from_raw)
        .collect();
    for p in &all {
        let _ = nix::sys::signal::kill(*p, Signal::SIGKILL);
    }
    let alive = |p: &Pid| {
        procfs::process::Process::new(p.as_raw())
            .and_then(|p| p.stat())
            .is_ok_and(|s| s.state != 'Z')
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while all.iter().any(alive) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The first line `program flag` prints (its version), when it answers one.
pub async fn version_line(program: &Path, flag: &str, home: &Path) -> Option<String> {
    let out = clean_command(program, home).arg(flag).output().await.ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next()?.trim();
    (out.status.success() && !first.is_empty()).then(|| first.to_string())
}

/// The last `n` lines of a file (a daemon's log, for an error message).
pub fn tail_of(path: &Path, n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// A command to run.
pub struct Cmd {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    /// Run as this (uid, gid) (PostgreSQL refuses root).
    pub run_as: Option<(u32, u32)>,
    pub timeout: Option<Duration>,
}

impl Cmd {
    pub fn new(program: impl Into<PathBuf>) -> Cmd {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            run_as: None,
            timeout: None,
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Cmd {
        self.args.push(arg.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Cmd {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Cmd {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Cmd {
        self.cwd = Some(dir.into());
        self
    }

    pub fn run_as(mut self, ids: Option<(u32, u32)>) -> Cmd {
        self.run_as = ids;
        self
    }

    pub fn timeout(mut self, timeout: Option<Duration>) -> Cmd {
        self.timeout = timeout;
        self
    }

    /// The command as a person would type it (for logs and errors).
    pub fn display(&self) -> String {
        let mut s = self.program.display().to_string();
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }
}

/// How a command ended.
#[derive(Debug)]
pub struct Finished {
    /// The exit code; 128 + the signal number when killed by a signal.
    pub exit_code: i32,
    pub tail: Vec<String>,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }

    /// A failure message with the command's last lines, which usually say why.
    pub fn failure(&self, what: &str) -> String {
        format!(
            "{what} exited with code {}:\n{}",
            self.exit_code,
            self.tail.join("\n")
        )
    }
}

/// Run `cmd`, passing each output line to `on_line` and to the task's log. Cancellation and
/// the timeout kill the whole process group (SIGTERM, then SIGKILL after the grace).
pub async fn run(
    cmd: &Cmd,
    ctx: &ActionContext,
    on_line: impl FnMut(Stream, &str),
) -> Result<Finished, ActionError> {
    let program = cmd
        .program
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    let span = ctx.trace.child(
        format!("exec {program}"),
        vec![KeyValue::new(
            "process.command_line",
            masked(&cmd.display()),
        )],
    );
    let finished = run_untraced(cmd, ctx, on_line).await;
    match &finished {
        Ok(f) => {
            span.set(KeyValue::new("process.exit.code", i64::from(f.exit_code)));
            span.end(
                (!f.success())
                    .then(|| format!("exited with {}", f.exit_code))
                    .as_deref(),
            );
        }
        Err(e) => span.end(Some(&e.message)),
    }
    finished
}

/// `line` with the passwords it may carry masked — a URL's (`postgres://u:secret@h`) and a
/// conninfo's (`password=secret`) — for a span, which leaves the machine for a collector.
fn masked(line: &str) -> String {
    line.split(' ')
        .map(|word| {
            if let Some((head, value)) = word.split_once("password=") {
                let rest = value.find(['&', ' ']).map_or("", |i| &value[i..]);
                return format!("{head}password=***{rest}");
            }
            match (word.find("://"), word.rfind('@')) {
                (Some(scheme), Some(at)) if at > scheme => {
                    let user = &word[scheme + 3..at];
                    match user.split_once(':') {
                        Some((name, _)) => {
                            format!("{}{name}:***{}", &word[..scheme + 3], &word[at..])
                        }
                        None => word.to_string(),
                    }
                }
                _ => word.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

async fn run_untraced(
    cmd: &Cmd,
    ctx: &ActionContext,
    mut on_line: impl FnMut(Stream, &str),
) -> Result<Finished, ActionError> {
    let home = cmd.cwd.as_deref().unwrap_or(&ctx.attempt_dir);
    let mut command = clean_command(&cmd.program, home);
    command
        .args(&cmd.args)
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = &cmd.cwd {
        command.current_dir(dir);
    }
    if let Some((uid, gid)) = cmd.run_as {
        command.uid(uid).gid(gid);
    }
    let mut child = command.spawn().map_err(|e| {
        ActionError::fatal(format!("cannot start `{}`: {e}", cmd.program.display()))
    })?;
    let pid = child.id().and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
    let record = GroupRecord::new(&ctx.work_dir, pid);

    let (tx, mut lines) = tokio::sync::mpsc::channel(LINES_IN_FLIGHT);
    let readers = [
        child
            .stdout
            .take()
            .map(|s| tokio::spawn(read_lines(s, Stream::Stdout, tx.clone()))),
        child
            .stderr
            .take()
            .map(|s| tokio::spawn(read_lines(s, Stream::Stderr, tx.clone()))),
    ];
    drop(tx);
    let mut tail = VecDeque::with_capacity(TAIL_LINES);
    let mut take = |stream: Stream, line: String| {
        on_line(stream, &line);
        ctx.log.line(line.clone());
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    };

    let deadline = cmd.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut timed_out = false;
    let status = loop {
        let room = ctx.log.has_room();
        tokio::select! {
            Some((stream, line)) = lines.recv(), if room => take(stream, line),
            () = ctx.log.room(), if !room => {}
            status = child.wait() => break status,
            () = ctx.cancel.cancelled() => {
                kill_group(pid, ctx.config.kill_grace, &mut child).await;
                break child.wait().await;
            }
            () = sleep_until(deadline) => {
                timed_out = true;
                kill_group(pid, ctx.config.kill_grace, &mut child).await;
                break child.wait().await;
            }
        }
    };
    // What the command left running in its group goes with it; then drain its output.
    let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some((stream, line)) = lines.recv().await {
            take(stream, line);
        }
    })
    .await;
    for reader in readers.into_iter().flatten() {
        reader.abort();
    }
    drop(record);
    let status = status
        .map_err(|e| ActionError::retryable(format!("cannot wait for `{}`: {e}", cmd.display())))?;
    if ctx.cancel.is_cancelled() {
        return Err(ActionError::retryable("cancelled"));
    }
    if timed_out {
        return Err(ActionError::fatal(format!(
            "`{}` timed out after {:?} and was killed",
            cmd.display(),
            cmd.timeout.unwrap_or_default()
        )));
    }
    use std::os::unix::process::ExitStatusExt;
    let exit_code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1);
    Ok(Finished {
        exit_code,
        tail: tail.into_iter().collect(),
    })
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Read lines, each cut to [`MAX_LOG_LINE_BYTES`] (the rest of a longer line is read and
/// dropped as it comes, so a line of gigabytes takes no more memory than a short one).
async fn read_lines(
    stream: impl AsyncRead + Unpin,
    which: Stream,
    tx: tokio::sync::mpsc::Sender<(Stream, String)>,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let mut kept: Vec<u8> = Vec::new();
    let mut total = 0usize;
    loop {
        let chunk = match reader.fill_buf().await {
            Ok(chunk) => chunk,
            Err(_) => return,
        };
        if chunk.is_empty() {
            if total > 0 {
                let _ = tx.send((which, finish_line(&kept, total))).await;
            }
            return;
        }
        let (part, ends_line) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], true),
            None => (chunk, false),
        };
        let room = MAX_LOG_LINE_BYTES.saturating_sub(kept.len());
        kept.extend_from_slice(&part[..part.len().min(room)]);
        total += part.len();
        let used = part.len() + usize::from(ends_line);
        reader.consume(used);
        if ends_line {
            let line = finish_line(&kept, total);
            kept.clear();
            total = 0;
            if tx.send((which, line)).await.is_err() {
                return;
            }
        }
    }
}

/// A line as text: lossy UTF-8, no trailing `\r`, with a marker when it was cut.
fn finish_line(kept: &[u8], total: usize) -> String {
    let mut line = String::from_utf8_lossy(kept).into_owned();
    if total > MAX_LOG_LINE_BYTES {
        return cut_log_line(line, total);
    }
    if line.ends_with('\r') {
        line.pop();
    }
    line
}

/// SIGTERM the group, give it the grace, then SIGKILL.
async fn kill_group(pid: i32, grace: Duration, child: &mut tokio::process::Child) {
    let group = Pid::from_raw(pid);
    let _ = killpg(group, Signal::SIGTERM);
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        let _ = killpg(group, Signal::SIGKILL);
    }
}

/// A process group in flight, recorded as `<work dir>/groups/<pgid>` while it runs.
struct GroupRecord(Option<PathBuf>);

impl GroupRecord {
    fn new(work_dir: &Path, pid: i32) -> GroupRecord {
        let dir = work_dir.join("groups");
        let path = dir.join(pid.to_string());
        let ok = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&path, b""))
            .is_ok();
        GroupRecord(ok.then_some(path))
    }
}

impl Drop for GroupRecord {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Kill the process groups a previous run of the agent left behind (it was killed
/// mid-task). Called once at start, before any action runs.
pub fn kill_leftovers(work_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(work_dir.join("groups")) else {
        return;
    };
    for entry in entries.flatten() {
        let pgid = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok());
        if let Some(pgid) = pgid
            && pgid > 1
            && killpg(Pid::from_raw(pgid), Signal::SIGKILL).is_ok()
        {
            tracing::warn!(
                pgid,
                "killed a process group left by an earlier run of the agent"
            );
        }
        let _ = std::fs::remove_file(entry.path());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_spans_command_line_carries_no_password() {
        let masked = super::masked(
            "stroppy run x -D url=postgres://bench:s3cret@10.0.0.5:5432/db psql host=h password=hunter2 user=u",
        );
        assert_eq!(
            masked,
            "stroppy run x -D url=postgres://bench:***@10.0.0.5:5432/db psql host=h password=*** user=u"
        );
        assert!(!masked.contains("s3cret") && !masked.contains("hunter2"));
        assert_eq!(
            super::masked("pgbench -c 8 postgres://u@h/db"),
            "pgbench -c 8 postgres://u@h/db"
        );
    }
}
