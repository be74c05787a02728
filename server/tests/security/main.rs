//! The trust boundaries (README, "Security model"), each proved against the real server:
//! what a write token, an agent and a suite may reach, and what they may not.
//!
//! - `workflows`: built-in workflows start only through the domain; machine names and work
//!   dirs stay under the data dir; a provision never acts for another run.
//! - `agents`: reserved actions, run-bound tasks, attempt ownership, caps on polls.
//! - `suites`: the database settings policy, bounded and capped errors, Stroppy inputs.
//! - `host`: clean environments, bounded output lines and results.
//! - `surface`: tokens in URLs, the admin scope, security headers, masked secrets.
//! - `leaks`: a whole example suite on PostgreSQL; no secret in any log, response, stream
//!   or work dir.

#[path = "../common/mod.rs"]
mod common;

mod agents;
mod host;
mod leaks;
mod suites;
mod surface;
mod workflows;

pub use common::token_with_scope;
use common::{ADMIN_TOKEN, Api};
use protocol::{PROTOCOL_VERSION, paths};
use serde_json::{Value, json};

/// An agent speaking the protocol directly (a rogue one, or one the test steers).
pub struct RawAgent {
    pub base: String,
    pub session: String,
    pub id: String,
}

impl RawAgent {
    /// Register with `enrollment`; answers the agent, or the refusal (status, body).
    pub async fn register(
        base: &str,
        enrollment: &str,
        name: &str,
        actions: &[&str],
        labels: Value,
    ) -> Result<RawAgent, (u16, Value)> {
        let registration = json!({
            "name": name, "version": "test", "protocol": PROTOCOL_VERSION,
            "labels": labels, "actions": actions, "slots": 4,
        });
        let (status, body) = post(base, paths::REGISTER, enrollment, &registration).await;
        if status != 201 {
            return Err((status, body));
        }
        Ok(RawAgent {
            base: base.to_string(),
            session: body["session_token"].as_str().unwrap().to_string(),
            id: body["agent_id"].as_str().unwrap().to_string(),
        })
    }

    pub async fn call(&self, path: &str, body: &Value) -> (u16, Value) {
        post(&self.base, path, &self.session, body).await
    }

    /// Poll until an assignment comes.
    pub async fn next_assignment(&self) -> Value {
        loop {
            if let Some(a) = self.poll(2).await.pop() {
                return a;
            }
        }
    }

    /// One poll: the assignments it got.
    pub async fn poll(&self, wait_s: u32) -> Vec<Value> {
        let (status, body) = self
            .call(
                paths::POLL,
                &json!({"running": [], "free_slots": 4, "wait_s": wait_s}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["assignments"].as_array().cloned().unwrap_or_default()
    }

    pub async fn logs(&self, task: &str, attempt: i64) -> (u16, Value) {
        self.call(
            paths::LOGS,
            &json!({"task_id": task, "attempt": attempt, "lines": [{"seq": 0, "at": 0, "line": "injected"}]}),
        )
        .await
    }

    pub async fn progress(&self, task: &str, attempt: i64) -> (u16, Value) {
        self.call(
            paths::PROGRESS,
            &json!({"task_id": task, "attempt": attempt, "points": [{"seq": 0, "at": 0, "values": {"tps": 1e9}}]}),
        )
        .await
    }

    pub async fn result(&self, task: &str, attempt: i64, output: Value) -> (u16, Value) {
        self.call(
            paths::RESULT,
            &json!({"task_id": task, "attempt": attempt, "result": {"outcome": "completed", "output": output}}),
        )
        .await
    }
}

async fn post(base: &str, path: &str, token: &str, body: &Value) -> (u16, Value) {
    let r = common::http()
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The admin API of a server.
pub fn admin(base: &str) -> Api {
    Api::new(base, ADMIN_TOKEN)
}

/// A one-task workflow whose task only an agent with `zone` can take; answers the run id.
pub async fn start_shell(api: &Api, name: &str, zone: &str, command: &str) -> String {
    api.start(json!({
        "name": name, "version": "1",
        "tasks": [{"name": "t", "action": "shell", "with": {"command": command},
                   "desired_labels": {"zone": {"value": zone}}, "execution_timeout": "5m"}],
    }))
    .await
}

/// The problem document's `detail`, or every error's message joined.
pub fn problem_text(body: &Value) -> String {
    let mut text = body["detail"].as_str().unwrap_or_default().to_string();
    for e in body["errors"].as_array().into_iter().flatten() {
        text.push('\n');
        text.push_str(e["path"].as_str().unwrap_or_default());
        text.push_str(": ");
        text.push_str(e["message"].as_str().unwrap_or_default());
    }
    text
}
