//! Group commit: requests that arrive while the previous batch is being written go into the
//! next one, so under load many reports (or new runs) share one transaction and one commit,
//! and with no load a request is written at once.

use std::future::Future;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

type Request<T, R> = (T, oneshot::Sender<Result<R, String>>);

/// The sending side: submit one item, wait for its own answer.
pub(crate) struct Batcher<T, R> {
    requests: mpsc::UnboundedSender<Request<T, R>>,
}

impl<T, R> Batcher<T, R> {
    pub(crate) async fn submit(&self, item: T) -> Result<R, String> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send((item, reply))
            .map_err(|_| "the engine is stopping".to_string())?;
        answer
            .await
            .map_err(|_| "the engine is stopping".to_string())?
    }
}

/// Create a batcher and the loop that writes its batches with `write`, which answers each
/// item of a batch in order. The loop ends when `stop` is cancelled.
pub(crate) fn batcher<T, R, F, Fut>(
    max_batch: usize,
    stop: CancellationToken,
    mut write: F,
) -> (Batcher<T, R>, impl Future<Output = ()> + Send)
where
    T: Send + 'static,
    R: Send + 'static,
    F: FnMut(Vec<T>) -> Fut + Send + 'static,
    Fut: Future<Output = Vec<Result<R, String>>> + Send,
{
    let (requests, mut pending) = mpsc::unbounded_channel::<Request<T, R>>();
    let run = async move {
        let mut batch = Vec::with_capacity(max_batch);
        loop {
            tokio::select! {
                received = pending.recv_many(&mut batch, max_batch) => if received == 0 { return },
                () = stop.cancelled() => return,
            }
            let (items, replies): (Vec<T>, Vec<_>) = batch.drain(..).unzip();
            for (answer, reply) in write(items).await.into_iter().zip(replies) {
                let _ = reply.send(answer);
            }
        }
    };
    (Batcher { requests }, run)
}
