//! The Terraform CLI, run for one deployment's work dir: `init`, `apply`, `output`,
//! `state list`, `destroy`. Terraform gets a clean environment (its own settings and the
//! cloud credentials, nothing else of the server's), its machine-readable output is turned
//! into log lines with every secret masked, and a cancelled apply is interrupted the way
//! Terraform expects (SIGINT, so it writes its state), never killed outright.

mod output;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio_util::bytes::BytesMut;
use tokio_util::codec::{Decoder, LinesCodec};
use tokio_util::sync::CancellationToken;

pub use self::output::{Secrets, parse_line};

/// How long an interrupted Terraform gets to write its state and stop before it is killed.
const INTERRUPT_GRACE: Duration = Duration::from_secs(120);

/// How long a command waits for the state lock another Terraform of the same deployment
/// holds (an apply being interrupted, say).
const LOCK_TIMEOUT: &str = "-lock-timeout=5m";

/// How often the output Terraform writes is read.
const TAIL_INTERVAL: Duration = Duration::from_millis(200);

/// Terraform's output lines are cut at this length before they are logged.
const MAX_LINE: usize = 8 * 1024;

/// The variables Terraform inherits from the server, when set: where things are, and the
/// cloud's credentials and settings (`YC_*`). Nothing else (the server's database URL, its
/// tokens) reaches it.
const INHERITED: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "TZ",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];
const INHERITED_PREFIXES: &[&str] = &["YC_", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"];

/// The Terraform CLI of this server.
#[derive(Debug, Clone)]
pub struct Terraform {
    pub bin: PathBuf,
    /// `TF_CLI_CONFIG_FILE`: provider mirrors, plugin cache.
    pub cli_config: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum TerraformError {
    #[error(
        "cannot run {bin}: {error} (install it with `bash scripts/install-terraform`, or set RATCHET_TERRAFORM_BIN)"
    )]
    Spawn { bin: String, error: std::io::Error },
    #[error("terraform {command} failed: {message}")]
    Failed { command: String, message: String },
    #[error("terraform {command} was interrupted (cancelled)")]
    Interrupted { command: String },
    #[error("terraform {command}: unreadable output: {message}")]
    Output { command: String, message: String },
}

/// Where a running command's lines go, what they must not show, and what may interrupt it.
pub struct Io<'a> {
    pub log: &'a (dyn Fn(String) + Send + Sync),
    /// Masked in every line (tokens in the user data, credentials).
    pub secrets: &'a Secrets,
    /// Interrupts the command when cancelled (`None`: runs to its end).
    pub cancel: Option<CancellationToken>,
    /// The step's span: each command is a span under it (when traces are exported).
    pub traceparent: Option<&'a str>,
}

impl Terraform {
    /// `terraform init` with the providers the module needs.
    pub async fn init(&self, dir: &Path, io: &Io<'_>) -> Result<(), TerraformError> {
        self.run(dir, "init", &["-input=false", "-no-color"], io)
            .await
            .map(drop)
    }

    /// `terraform apply` of `var_file`, with machine-readable progress.
    pub async fn apply(
        &self,
        dir: &Path,
        var_file: &Path,
        io: &Io<'_>,
    ) -> Result<(), TerraformError> {
        self.change(dir, "apply", var_file, io).await
    }

    /// `terraform destroy` of everything in the deployment's state.
    pub async fn destroy(
        &self,
        dir: &Path,
        var_file: &Path,
        io: &Io<'_>,
    ) -> Result<(), TerraformError> {
        self.change(dir, "destroy", var_file, io).await
    }

    async fn change(
        &self,
        dir: &Path,
        command: &str,
        var_file: &Path,
        io: &Io<'_>,
    ) -> Result<(), TerraformError> {
        let var_file = format!("-var-file={}", var_file.display());
        let args = [
            "-auto-approve",
            "-input=false",
            "-json",
            LOCK_TIMEOUT,
            &var_file,
        ];
        self.run(dir, command, &args, io).await.map(drop)
    }

    /// The module's outputs (`terraform output -json`).
    pub async fn outputs(
        &self,
        dir: &Path,
        io: &Io<'_>,
    ) -> Result<serde_json::Value, TerraformError> {
        let text = self.run(dir, "output", &["-json"], io).await?;
        serde_json::from_str(&text).map_err(|e| TerraformError::Output {
            command: "output".into(),
            message: e.to_string(),
        })
    }

    /// The resources the state still holds (`terraform state list`); empty: nothing left.
    pub async fn resources(&self, dir: &Path, io: &Io<'_>) -> Result<Vec<String>, TerraformError> {
        let text = self.run(dir, "state", &["list"], io).await?;
        Ok(text
            .lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect())
    }

    fn command(&self, dir: &Path) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.bin);
        command.env_clear().current_dir(dir);
        for (key, value) in inherited_env() {
            command.env(key, value);
        }
        command
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_DATA_DIR", dir.join(".terraform"));
        if let Some(config) = &self.cli_config {
            command.env("TF_CLI_CONFIG_FILE", config);
        }
        command
    }

    /// Run `terraform <command> <args>` in `dir`; answers its stdout for the commands
    /// whose output is data (`output`, `state list`), logs it for the others.
    async fn run(
        &self,
        dir: &Path,
        command: &str,
        args: &[&str],
        io: &Io<'_>,
    ) -> Result<String, TerraformError> {
        let span =
            telemetry::Trace::start(io.traceparent, format!("terraform {command}"), Vec::new());
        let answer = self.run_untraced(dir, command, args, io).await;
        span.end(answer.as_ref().err().map(ToString::to_string).as_deref());
        answer
    }

    async fn run_untraced(
        &self,
        dir: &Path,
        command: &str,
        args: &[&str],
        io: &Io<'_>,
    ) -> Result<String, TerraformError> {
        // Its output goes to files, not pipes: a Terraform writing to the pipe of a server
        // that died would die too, mid-apply, before it saved its state.
        let output = |stream: &str| {
            let path = dir.join(format!(".terraform-{stream}.log"));
            std::fs::File::create(&path).map(|file| (path, file))
        };
        let spawn_error = |error| TerraformError::Spawn {
            bin: self.bin.display().to_string(),
            error,
        };
        let (out_path, out_file) = output("out").map_err(spawn_error)?;
        let (err_path, err_file) = output("err").map_err(spawn_error)?;
        let child = self
            .command(dir)
            .arg(command)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out_file)
            .stderr(err_file)
            // Its own process group: a Ctrl-C at the server's terminal is not its signal.
            .process_group(0)
            .spawn()
            .map_err(spawn_error)?;
        let out = Tail::open(&out_path).await.map_err(spawn_error)?;
        let err = Tail::open(&err_path).await.map_err(spawn_error)?;
        let run = Running {
            command: command.to_string(),
            progress: args.contains(&"-json") && command != "output",
            captures: command == "output" || command == "state",
            secrets: io.secrets.clone(),
            cancel: io.cancel.clone().unwrap_or_default(),
        };
        // Terraform is driven by a task of its own: when the step that started it goes away
        // (cancelled, then aborted), Terraform is still interrupted properly and waited for.
        let (lines, mut logged) = mpsc::unbounded_channel();
        let driver = tokio::spawn(run.drive(child, [out, err], lines));
        while let Some(line) = logged.recv().await {
            (io.log)(line);
        }
        driver.await.map_err(|e| TerraformError::Failed {
            command: command.to_string(),
            message: format!("its driver failed: {e}"),
        })?
    }
}

/// One running Terraform command.
struct Running {
    command: String,
    /// Its stdout is `-json` progress, to be rendered.
    progress: bool,
    /// Its stdout is the answer (`output -json`, `state list`).
    captures: bool,
    secrets: Secrets,
    cancel: CancellationToken,
}

impl Running {
    async fn drive(
        self,
        mut child: tokio::process::Child,
        [mut out, mut err]: [Tail; 2],
        log: mpsc::UnboundedSender<String>,
    ) -> Result<String, TerraformError> {
        let say = |line: String| {
            let _ = log.send(line); // nobody listening (the step is gone) is fine
        };
        let pid = child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .map(Pid::from_raw);
        let mut errors = Vec::new();
        let mut captured = String::new();
        // Set once cancelled (SIGINT sent): when Terraform must be gone by.
        let mut interrupted: Option<tokio::time::Instant> = None;
        let status = loop {
            let kill_at = interrupted.unwrap_or_else(far_future);
            let exited = tokio::select! {
                status = child.wait() => Some(status),
                () = tokio::time::sleep(TAIL_INTERVAL) => None,
                () = self.cancel.cancelled(), if interrupted.is_none() => {
                    say("cancelled: interrupting terraform so it saves its state".into());
                    if let Some(pid) = pid {
                        let _ = kill(pid, Signal::SIGINT);
                    }
                    interrupted = Some(tokio::time::Instant::now() + INTERRUPT_GRACE);
                    None
                }
                () = tokio::time::sleep_until(kill_at), if interrupted.is_some() => {
                    say("terraform did not stop in time: killed (its state lock may need `terraform force-unlock`)".into());
                    let _ = child.start_kill();
                    None
                }
            };
            let end = exited.is_some();
            for line in out.lines(end).await {
                let line = self.secrets.mask(&line);
                if self.captures {
                    captured.push_str(&line);
                    captured.push('\n');
                } else if let Some(parsed) = self.progress.then(|| parse_line(&line)).flatten() {
                    if parsed.is_error {
                        errors.push(parsed.message.clone());
                    }
                    say(parsed.message);
                } else {
                    say(line);
                }
            }
            for line in err.lines(end).await {
                let line = self.secrets.mask(&line);
                if !line.trim().is_empty() {
                    errors.push(line.clone());
                    say(line);
                }
            }
            if let Some(status) = exited {
                break status.map_err(|e| TerraformError::Failed {
                    command: self.command.clone(),
                    message: format!("cannot wait for it: {e}"),
                })?;
            }
        };
        if interrupted.is_some() {
            return Err(TerraformError::Interrupted {
                command: self.command,
            });
        }
        if status.success() {
            return Ok(captured);
        }
        let message = if errors.is_empty() {
            format!("exit status {status}")
        } else {
            errors.join("; ")
        };
        Err(TerraformError::Failed {
            command: self.command,
            message,
        })
    }
}

/// A file Terraform writes, read as it grows, in lines of at most `MAX_LINE` bytes (longer
/// ones are cut: the output is read, never trusted to be small).
struct Tail {
    file: tokio::fs::File,
    buffer: BytesMut,
    codec: LinesCodec,
}

impl Tail {
    async fn open(path: &Path) -> std::io::Result<Tail> {
        Ok(Tail {
            file: tokio::fs::File::open(path).await?,
            buffer: BytesMut::new(),
            codec: LinesCodec::new_with_max_length(MAX_LINE),
        })
    }

    /// The lines written since the last call; at the `end`, the last unfinished one too.
    async fn lines(&mut self, end: bool) -> Vec<String> {
        let mut lines = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = self.file.read(&mut chunk).await.unwrap_or(0);
            self.buffer.extend_from_slice(&chunk[..n]);
            loop {
                match self.codec.decode(&mut self.buffer) {
                    Ok(Some(line)) => lines.push(line),
                    Ok(None) => break,
                    Err(_) => lines.push("[a line longer than 8 KiB, cut]".into()),
                }
            }
            if n == 0 {
                break;
            }
        }
        if end && let Ok(Some(line)) = self.codec.decode_eof(&mut self.buffer) {
            lines.push(line);
        }
        lines
    }
}

fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(365 * 24 * 3600)
}

fn inherited_env() -> Vec<(OsString, OsString)> {
    std::env::vars_os()
        .filter(|(key, _)| {
            key.to_str().is_some_and(|k| {
                INHERITED.contains(&k) || INHERITED_PREFIXES.iter().any(|p| k.starts_with(p))
            })
        })
        .collect()
}
