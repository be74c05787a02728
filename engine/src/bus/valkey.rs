//! The Valkey bus (Redis protocol, through `fred`): PUBLISH/SUBSCRIBE fan out messages to
//! every replica. One connection publishes; one subscriber connection per server receives
//! and forwards to local broadcast channels.
//!
//! Valkey may go away: both connections reconnect by themselves (backing off to 5 s), a
//! publish meanwhile fails at once instead of queueing (the engine must not wait on its
//! bus), and everything degrades to what the store says — workers poll, log streams read
//! the store each second, status streams tell their pages to re-read. One warning when the
//! connection is lost, one line when it is back.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use fred::clients::SubscriberClient;
use fred::prelude::*;
use fred::types::config::Config as FredConfig;
use tokio::sync::{Mutex, broadcast};

use super::{Bus, BusError, BusKind, BusMessage, SUBSCRIBER_BUFFER};

type Channels = Arc<std::sync::Mutex<HashMap<String, broadcast::Sender<BusMessage>>>>;

pub struct ValkeyBus {
    publisher: Client,
    subscriber: SubscriberClient,
    channels: Channels,
    /// Serialises SUBSCRIBE so two callers don't both subscribe the same channel.
    subscribe_lock: Mutex<()>,
    forwarder: tokio::task::JoinHandle<()>,
    resubscriber: tokio::task::JoinHandle<()>,
    /// Log the connection's loss and return.
    watchers: [tokio::task::JoinHandle<Result<(), fred::error::Error>>; 2],
}

/// A command that takes longer fails: the caller carries on without the bus.
const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// `host:port` of a Valkey URL, without the password.
fn describe(config: &FredConfig) -> String {
    match &config.server {
        fred::types::config::ServerConfig::Centralized { server } => {
            format!("{}:{}", server.host, server.port)
        }
        other => format!("{other:?}"),
    }
}

impl ValkeyBus {
    pub async fn connect(url: &str) -> Result<Self, BusError> {
        // fred speaks Redis URLs; Valkey is the same protocol.
        let url = match url.strip_prefix("valkey://") {
            Some(rest) => format!("redis://{rest}"),
            None => url.to_string(),
        };
        if !url.starts_with("redis://") {
            return Err(BusError::InvalidUrl(
                "the scheme must be redis:// or valkey://".into(),
            ));
        }
        let config = FredConfig::from_url(&url).map_err(|e| BusError::InvalidUrl(e.to_string()))?;
        let target = describe(&config);
        let connect_err = |source| BusError::Connect {
            target: target.clone(),
            source,
        };
        let builder = || {
            let mut builder = Builder::from_config(config.clone());
            builder
                .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2))
                .with_performance_config(|p| p.default_command_timeout = COMMAND_TIMEOUT);
            builder
        };
        let publisher = builder().build().map_err(connect_err)?;
        publisher.init().await.map_err(connect_err)?;
        let subscriber = builder().build_subscriber_client().map_err(connect_err)?;
        subscriber.init().await.map_err(connect_err)?;
        // Each reconnection attempt fails with an error: say the loss once, and the return.
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (lost, back) = (down.clone(), down);
        let watchers = [
            publisher.on_error(move |(error, _)| {
                let first = !lost.swap(true, std::sync::atomic::Ordering::Relaxed);
                async move {
                    if first {
                        tracing::warn!(%error, "lost the Valkey bus; replicas fall back to polling the database until it is back");
                    }
                    Ok(())
                }
            }),
            publisher.on_reconnect(move |_| {
                let was_down = back.swap(false, std::sync::atomic::Ordering::Relaxed);
                async move {
                    if was_down {
                        tracing::warn!("the Valkey bus is back");
                    }
                    Ok(())
                }
            }),
        ];
        // After a reconnect the subscriber re-issues its SUBSCRIBE commands by itself.
        let resubscriber = subscriber.manage_subscriptions();

        let channels: Channels = Arc::default();
        let mut messages = subscriber.message_rx();
        let forward_to = channels.clone();
        let forwarder = tokio::spawn(async move {
            loop {
                match messages.recv().await {
                    Ok(message) => {
                        let channel = message.channel.to_string();
                        let Some(payload) = message.value.as_string() else {
                            continue;
                        };
                        let sender = forward_to
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .get(&channel)
                            .cloned();
                        if let Some(sender) = sender {
                            let _ = sender.send(BusMessage { channel, payload });
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "bus subscriber lagged behind Valkey");
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        Ok(ValkeyBus {
            publisher,
            subscriber,
            channels,
            subscribe_lock: Mutex::new(()),
            forwarder,
            resubscriber,
            watchers,
        })
    }
}

#[async_trait]
impl Bus for ValkeyBus {
    fn kind(&self) -> BusKind {
        BusKind::Valkey
    }

    async fn publish(&self, channel: &str, payload: &str) -> Result<(), BusError> {
        if !self.publisher.is_connected() {
            return Err(BusError::Unavailable);
        }
        let _: i64 = self.publisher.publish(channel, payload).await?;
        Ok(())
    }

    fn connected(&self) -> bool {
        self.publisher.is_connected() && self.subscriber.is_connected()
    }

    async fn subscribe(&self, channel: &str) -> Result<broadcast::Receiver<BusMessage>, BusError> {
        let _guard = self.subscribe_lock.lock().await;
        let existing = self
            .channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(channel)
            .map(|s| s.subscribe());
        if let Some(receiver) = existing {
            return Ok(receiver);
        }
        let (sender, receiver) = broadcast::channel(SUBSCRIBER_BUFFER);
        self.channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(channel.to_string(), sender);
        // Register locally first so nothing published right after SUBSCRIBE returns is lost.
        self.subscriber.subscribe(channel).await?;
        Ok(receiver)
    }

    async fn ping(&self) -> Result<(), BusError> {
        let _: String = self.publisher.ping(None).await?;
        Ok(())
    }

    async fn close(&self) {
        self.forwarder.abort();
        self.resubscriber.abort();
        for watcher in &self.watchers {
            watcher.abort();
        }
        let _ = self.subscriber.quit().await;
        let _ = self.publisher.quit().await;
    }
}
