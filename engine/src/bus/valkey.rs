//! The Valkey bus (Redis protocol, through `fred`): PUBLISH/SUBSCRIBE fan out messages to
//! every replica. One connection publishes; one subscriber connection per server receives
//! and forwards to local broadcast channels.

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
}

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
        let publisher = Builder::from_config(config.clone())
            .build()
            .map_err(connect_err)?;
        publisher.init().await.map_err(connect_err)?;
        let subscriber = Builder::from_config(config)
            .build_subscriber_client()
            .map_err(connect_err)?;
        subscriber.init().await.map_err(connect_err)?;
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
        })
    }
}

#[async_trait]
impl Bus for ValkeyBus {
    fn kind(&self) -> BusKind {
        BusKind::Valkey
    }

    async fn publish(&self, channel: &str, payload: &str) -> Result<(), BusError> {
        let _: i64 = self.publisher.publish(channel, payload).await?;
        Ok(())
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
        let _ = self.subscriber.quit().await;
        let _ = self.publisher.quit().await;
    }
}
