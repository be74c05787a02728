//! `shell`: a command through `sh -c`, with env, working dir and timeout.

use std::time::{Duration, Instant};

use protocol::actions::{ShellInput, ShellOutput};

use crate::actions::process::{self, Cmd};
use crate::actions::{ActionContext, ActionError, ActionResult, output};

pub async fn run(ctx: &ActionContext) -> ActionResult {
    let input: ShellInput = ctx.input_as()?;
    if input.command.trim().is_empty() {
        return Err(ActionError::fatal(
            "invalid input at `command`: empty command",
        ));
    }
    let mut cmd = Cmd::new("/bin/sh")
        .arg("-c")
        .arg(&input.command)
        .cwd(
            input
                .cwd
                .clone()
                .map_or_else(|| ctx.attempt_dir.clone(), Into::into),
        )
        .timeout(input.timeout_s.map(Duration::from_secs));
    for (k, v) in &input.env {
        cmd = cmd.env(k, v);
    }
    let started = Instant::now();
    let finished = process::run(&cmd, ctx, |_, _| {}).await?;
    if !finished.success() {
        // A failing command is a failed attempt; retries (if the task has any) run it again.
        return Err(ActionError::retryable(finished.failure("the command")));
    }
    output(&ShellOutput {
        exit_code: finished.exit_code,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        tail: finished.tail,
    })
}
