//! Everything the agent owes the server — log lines, progress points, results — goes
//! through one FIFO queue drained by one sender. Order is kept (an attempt's last log lines
//! arrive before its result), and nothing is lost while the server is away: a batch is sent
//! again, with the same sequence numbers, until the server takes it (it ignores lines it
//! already has) or refuses it for good.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use protocol::{
    AttemptRef, AttemptResult, LogBatch, LogEntry, ProgressBatch, ProgressPoint, TaskResult,
};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::client::{CallError, Client};

/// Lines (or points) sent in one request at most.
const MAX_BATCH: usize = 1000;

/// What may wait in the queue while the server is away or slow: past either bound, actions
/// stop reading their commands' output until the queue drains (the commands wait on their
/// pipes). Results are always queued.
const MAX_QUEUED_ITEMS: usize = 50_000;
const MAX_QUEUED_BYTES: usize = 64 * 1024 * 1024;

enum Item {
    Log(AttemptRef, LogEntry),
    Progress(AttemptRef, ProgressPoint),
    Result(TaskResult),
}

/// What the sender takes from the queue's front in one request.
enum Batch {
    Logs(LogBatch),
    Progress(ProgressBatch),
    Result(TaskResult),
}

impl Batch {
    fn len(&self) -> usize {
        match self {
            Batch::Logs(b) => b.lines.len(),
            Batch::Progress(b) => b.points.len(),
            Batch::Result(_) => 1,
        }
    }
}

impl Item {
    /// Roughly what it takes in memory (for the queue's bound).
    fn size(&self) -> usize {
        match self {
            Item::Log(_, l) => l.line.len() + 64,
            Item::Progress(_, p) => p.values.len() * 32 + 64,
            Item::Result(_) => 0,
        }
    }
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Item>,
    /// The sum of the queued items' sizes.
    bytes: usize,
    /// Attempts whose result is not delivered yet: polls still list them as running, so
    /// the server does not hand them to another agent meanwhile.
    undelivered: HashSet<AttemptRef>,
}

#[derive(Default)]
pub struct Outbox {
    queue: Mutex<Queue>,
    wake: Notify,
    /// Told when the queue shrinks (writers waiting for room).
    drained: Notify,
}

impl Outbox {
    fn push(&self, item: Item) {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if let Item::Result(r) = &item {
            queue.undelivered.insert(AttemptRef {
                task_id: r.task_id,
                attempt: r.attempt,
            });
        }
        queue.bytes += item.size();
        queue.items.push_back(item);
        drop(queue);
        self.wake.notify_one();
    }

    /// Is the queue below its bounds?
    pub fn has_room(&self) -> bool {
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        queue.items.len() < MAX_QUEUED_ITEMS && queue.bytes < MAX_QUEUED_BYTES
    }

    /// Wait until the queue is below its bounds.
    pub async fn room(&self) {
        loop {
            let drained = self.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            if self.has_room() {
                return;
            }
            drained.await;
        }
    }

    pub fn result(&self, result: TaskResult) {
        self.push(Item::Result(result));
    }

    pub fn undelivered_results(&self) -> Vec<AttemptRef> {
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        queue.undelivered.iter().copied().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .items
            .is_empty()
    }

    /// The log lines queued so far (tests look at what an action logged).
    #[cfg(test)]
    pub fn queued_lines(&self) -> Vec<String> {
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        queue
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Log(_, l) => Some(l.line.clone()),
                _ => None,
            })
            .collect()
    }

    /// The next request: consecutive lines (or points) of one attempt, or one result.
    fn next_batch(&self) -> Option<Batch> {
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let first = queue.items.front()?;
        Some(match first {
            Item::Result(r) => Batch::Result(r.clone()),
            Item::Log(attempt, _) => {
                let lines = queue
                    .items
                    .iter()
                    .take(MAX_BATCH)
                    .map_while(|i| match i {
                        Item::Log(a, l) if a == attempt => Some(l.clone()),
                        _ => None,
                    })
                    .collect();
                Batch::Logs(LogBatch {
                    task_id: attempt.task_id,
                    attempt: attempt.attempt,
                    lines,
                })
            }
            Item::Progress(attempt, _) => {
                let points = queue
                    .items
                    .iter()
                    .take(MAX_BATCH)
                    .map_while(|i| match i {
                        Item::Progress(a, p) if a == attempt => Some(p.clone()),
                        _ => None,
                    })
                    .collect();
                Batch::Progress(ProgressBatch {
                    task_id: attempt.task_id,
                    attempt: attempt.attempt,
                    points,
                })
            }
        })
    }

    /// The batch is delivered (or refused for good): drop it from the queue's front.
    fn done(&self, batch: &Batch) {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let n = batch.len().min(queue.items.len());
        let freed: usize = queue.items.drain(..n).map(|i| i.size()).sum();
        queue.bytes = queue.bytes.saturating_sub(freed);
        if let Batch::Result(r) = batch {
            queue.undelivered.remove(&AttemptRef {
                task_id: r.task_id,
                attempt: r.attempt,
            });
        }
        drop(queue);
        self.drained.notify_waiters();
    }

    /// The server refused the result at the queue's front as too large (an older server's
    /// smaller limit): it must not be lost, so the attempt fails with a result that says
    /// why, in its place.
    fn replace_oversized_result(&self, result: &TaskResult, detail: &str) {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(Item::Result(front)) = queue.items.front_mut()
            && front.task_id == result.task_id
            && front.attempt == result.attempt
        {
            front.result = AttemptResult::Failed {
                error: format!("the attempt's result was too large for the server: {detail}"),
                retryable: false,
            };
        }
    }

    /// The sender: runs until `stop`, then returns (what is left stays queued).
    pub async fn send_loop(
        self: Arc<Self>,
        client: Client,
        session: watch::Receiver<String>,
        stop: CancellationToken,
    ) {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(15));
        loop {
            let Some(batch) = self.next_batch() else {
                tokio::select! {
                    () = self.wake.notified() => continue,
                    () = stop.cancelled() => return,
                }
            };
            let token = session.borrow().clone();
            let sent = match &batch {
                Batch::Logs(b) => client.logs(&token, b).await.map(drop),
                Batch::Progress(b) => client.progress(&token, b).await.map(drop),
                Batch::Result(r) => client.result(&token, r).await.map(drop),
            };
            match sent {
                Ok(()) => {
                    backoff.reset();
                    self.done(&batch);
                }
                Err(CallError::Refused {
                    status: 413,
                    detail,
                }) if matches!(batch, Batch::Result(_)) => {
                    if let Batch::Result(r) = &batch {
                        tracing::warn!(task = %r.task_id, %detail, "the server refused a result as too large; reporting a failure instead");
                        self.replace_oversized_result(r, &detail);
                    }
                }
                // The session is being renewed, or the server is away: same batch, later.
                Err(e @ (CallError::Temporary(_) | CallError::Refused { status: 401, .. })) => {
                    tracing::warn!(error = %e, "cannot deliver to the server; will retry");
                    tokio::select! {
                        () = tokio::time::sleep(backoff.next_delay()) => {}
                        () = stop.cancelled() => return,
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, items = batch.len(), "the server refused a message; dropping it");
                    self.done(&batch);
                }
            }
        }
    }
}

/// An attempt's log: numbers its lines from 0, so re-sent batches are recognised.
#[derive(Clone)]
pub struct LogSink {
    attempt: AttemptRef,
    seq: Arc<AtomicI64>,
    outbox: Arc<Outbox>,
}

impl LogSink {
    pub fn new(attempt: AttemptRef, outbox: Arc<Outbox>) -> LogSink {
        LogSink {
            attempt,
            seq: Arc::default(),
            outbox,
        }
    }

    pub fn line(&self, line: impl Into<String>) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        self.outbox.push(Item::Log(
            self.attempt,
            LogEntry {
                seq,
                at: now_ms(),
                line: protocol::cap_log_line(line.into()),
            },
        ));
    }

    /// Is there room for more lines (see [`Outbox::has_room`])? Output readers check
    /// before taking a line, and otherwise wait for [`LogSink::room`].
    pub fn has_room(&self) -> bool {
        self.outbox.has_room()
    }

    pub async fn room(&self) {
        self.outbox.room().await;
    }
}

/// An attempt's time series (e.g. TPS each second).
#[derive(Clone)]
pub struct ProgressSink {
    attempt: AttemptRef,
    seq: Arc<AtomicI64>,
    outbox: Arc<Outbox>,
}

impl ProgressSink {
    pub fn new(attempt: AttemptRef, outbox: Arc<Outbox>) -> ProgressSink {
        ProgressSink {
            attempt,
            seq: Arc::default(),
            outbox,
        }
    }

    pub fn point(&self, values: impl IntoIterator<Item = (&'static str, f64)>) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let values = values
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        self.outbox.push(Item::Progress(
            self.attempt,
            ProgressPoint {
                seq,
                at: now_ms(),
                values,
            },
        ));
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_makes_writers_wait_until_a_batch_is_delivered() {
        let outbox = Arc::new(Outbox::default());
        let attempt = AttemptRef {
            task_id: uuid::Uuid::now_v7(),
            attempt: 1,
        };
        let log = LogSink::new(attempt, outbox.clone());
        for i in 0..MAX_QUEUED_ITEMS {
            assert!(log.has_room(), "room before line {i}");
            log.line("x");
        }
        assert!(!log.has_room());
        // A result is never held back: it is queued even now.
        outbox.result(TaskResult {
            task_id: attempt.task_id,
            attempt: 1,
            result: AttemptResult::Completed {
                output: serde_json::json!(1),
            },
        });
        assert_eq!(outbox.undelivered_results(), vec![attempt]);
        let waiting = tokio::spawn({
            let log = log.clone();
            async move { log.room().await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "no room yet");
        let batch = outbox.next_batch().unwrap();
        assert_eq!(batch.len(), MAX_BATCH);
        outbox.done(&batch);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("a delivered batch makes room")
            .unwrap();
    }

    #[test]
    fn long_lines_are_cut_before_they_are_queued() {
        let outbox = Arc::new(Outbox::default());
        let log = LogSink::new(
            AttemptRef {
                task_id: uuid::Uuid::now_v7(),
                attempt: 1,
            },
            outbox.clone(),
        );
        log.line("y".repeat(1 << 20));
        let lines = outbox.queued_lines();
        assert!(lines[0].len() <= protocol::MAX_LOG_LINE_BYTES);
        assert!(
            lines[0].ends_with("[line truncated: 1048576 bytes]"),
            "{}",
            &lines[0][lines[0].len() - 60..]
        );
    }
}
