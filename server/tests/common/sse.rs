//! A test's SSE client: reads a streaming response event by event.

use std::time::Duration;

/// One server-sent event.
#[derive(Debug)]
pub struct Sse {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

/// Reads events from a streaming response.
pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    pub async fn next(&mut self) -> Option<Sse> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = Sse {
                    event: "message".into(),
                    id: None,
                    data: String::new(),
                };
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event.event = v.trim().into();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        event.id = Some(v.trim().into());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        event.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if block.trim_start().starts_with(':') {
                    continue; // keep-alive comment
                }
                return Some(event);
            }
            let chunk = tokio::time::timeout(Duration::from_secs(30), self.response.chunk())
                .await
                .ok()?
                .ok()??;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

impl SseReader {
    /// A log stream's lines (the `line` of each `log` event) until its `end` event, within
    /// `secs`; any other event is a failure.
    pub async fn log_lines_until_end(&mut self, secs: u64) -> Vec<String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        let mut lines = Vec::new();
        loop {
            assert!(
                std::time::Instant::now() < deadline,
                "the stream never ended"
            );
            let event = self
                .next()
                .await
                .expect("the stream closed without an end event");
            match event.event.as_str() {
                "log" => {
                    let line: serde_json::Value = serde_json::from_str(&event.data).unwrap();
                    lines.push(line["line"].as_str().unwrap().to_string());
                }
                "end" => return lines,
                other => panic!("unexpected event {other}"),
            }
        }
    }
}

pub async fn open(url: &str, last_event_id: Option<&str>) -> SseReader {
    let mut request = super::http().get(url).bearer_auth(super::ADMIN_TOKEN);
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    SseReader {
        response,
        buffer: String::new(),
    }
}
