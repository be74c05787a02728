//! The agent protocol's client side. Every call says whether it is worth retrying: the
//! server away or overloaded (connection errors, 5xx, 429) is temporary; a 4xx refusal is
//! final for that message.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use protocol::{
    Ack, LogBatch, Poll, PollAnswer, ProgressBatch, Registered, Registration, TaskResult, paths,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The server could not be reached or failed: try again later.
    #[error("{0}")]
    Temporary(String),
    /// The server refused the message (4xx): sending it again would not help.
    #[error("refused ({status}): {detail}")]
    Refused { status: u16, detail: String },
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// The server's replicas: one URL (a load balancer), or several to fail over between.
    bases: Arc<Vec<String>>,
    /// The one in use; a replica that cannot be reached hands over to the next.
    current: Arc<AtomicUsize>,
}

impl Client {
    /// `server_url`: one URL, or several separated by commas (the replicas of one server).
    pub fn new(server_url: &str) -> anyhow::Result<Client> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("ratchet-agent/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let bases: Vec<String> = server_url
            .split(',')
            .map(|u| u.trim().trim_end_matches('/').to_string())
            .filter(|u| !u.is_empty())
            .collect();
        anyhow::ensure!(!bases.is_empty(), "RATCHET_SERVER_URL is empty");
        Ok(Client {
            http,
            bases: Arc::new(bases),
            current: Arc::default(),
        })
    }

    /// The replica in use, and its number.
    fn base(&self) -> (usize, &str) {
        let i = self.current.load(Ordering::Relaxed) % self.bases.len();
        (i, &self.bases[i])
    }

    /// Replica `failed` could not be reached: the next call goes to the next one (unless
    /// another call moved on already).
    fn fail_over(&self, failed: usize) {
        if self.bases.len() > 1
            && self
                .current
                .compare_exchange(
                    failed,
                    (failed + 1) % self.bases.len(),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            tracing::warn!(from = %self.bases[failed], to = %self.bases[(failed + 1) % self.bases.len()], "server replica unreachable; failing over");
        }
    }

    async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        token: &str,
        body: &B,
        timeout: Duration,
    ) -> Result<R, CallError> {
        let (replica, base) = self.base();
        let url = format!("{base}{path}");
        let response = self
            .http
            .post(&url)
            .bearer_auth(token)
            .json(body)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| {
                // Not there, or there and hung: the next replica may answer.
                if e.is_connect() || e.is_timeout() {
                    self.fail_over(replica);
                }
                CallError::Temporary(format!("POST {url}: {e}"))
            })?;
        let status = response.status();
        if status.is_success() {
            if status == reqwest::StatusCode::NO_CONTENT {
                return serde_json::from_value(serde_json::Value::Null)
                    .map_err(|e| CallError::Temporary(format!("POST {url}: {e}")));
            }
            return response
                .json()
                .await
                .map_err(|e| CallError::Temporary(format!("POST {url}: unreadable answer: {e}")));
        }
        // The server's problem document says why; keep its `detail`.
        let text = response.text().await.unwrap_or_default();
        let detail = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["detail"].as_str().map(str::to_string))
            .unwrap_or(text);
        if matches!(status.as_u16(), 502..=504) {
            self.fail_over(replica); // a load balancer or a replica on its way down
        }
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            Err(CallError::Temporary(format!(
                "POST {url}: {status}: {detail}"
            )))
        } else {
            Err(CallError::Refused {
                status: status.as_u16(),
                detail,
            })
        }
    }

    pub async fn register(
        &self,
        enrollment_token: &str,
        registration: &Registration,
    ) -> Result<Registered, CallError> {
        self.post(
            paths::REGISTER,
            enrollment_token,
            registration,
            Duration::from_secs(30),
        )
        .await
    }

    pub async fn poll(&self, session: &str, poll: &Poll) -> Result<PollAnswer, CallError> {
        // The server holds the poll up to `wait_s`; allow for that plus the network.
        let timeout = Duration::from_secs(u64::from(poll.wait_s) + 15);
        self.post(paths::POLL, session, poll, timeout).await
    }

    pub async fn logs(&self, session: &str, batch: &LogBatch) -> Result<Ack, CallError> {
        self.post(paths::LOGS, session, batch, Duration::from_secs(30))
            .await
    }

    pub async fn progress(&self, session: &str, batch: &ProgressBatch) -> Result<Ack, CallError> {
        self.post(paths::PROGRESS, session, batch, Duration::from_secs(30))
            .await
    }

    pub async fn result(&self, session: &str, result: &TaskResult) -> Result<Ack, CallError> {
        self.post(paths::RESULT, session, result, Duration::from_secs(30))
            .await
    }

    pub async fn deregister(&self, session: &str) -> Result<(), CallError> {
        self.post::<_, ()>(
            paths::DEREGISTER,
            session,
            &serde_json::json!({}),
            Duration::from_secs(10),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn an_unreachable_replica_hands_over_to_the_next() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Replica 2 answers every request with a refusal; replica 1 is not there at all.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let up = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let body = r#"{"detail":"replica 2 says no"}"#;
                let answer = format!(
                    "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        let down = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let client = Client::new(&format!("http://{down}/, http://{up}")).unwrap();
        let registration = Registration {
            name: "a".into(),
            version: "0".into(),
            protocol: protocol::PROTOCOL_VERSION,
            labels: Default::default(),
            actions: vec![],
            slots: 1,
            host: Default::default(),
        };
        let first = client.register("t", &registration).await;
        assert!(matches!(first, Err(CallError::Temporary(_))), "{first:?}");
        let second = client.register("t", &registration).await;
        assert!(
            matches!(&second, Err(CallError::Refused { status: 403, detail }) if detail == "replica 2 says no"),
            "{second:?}"
        );
        assert!(Client::new(" , ").is_err(), "no URL at all is refused");
    }
}
