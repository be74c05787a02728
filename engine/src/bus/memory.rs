//! The in-process bus: one broadcast channel per bus channel, for a single server.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::{Bus, BusError, BusKind, BusMessage, SUBSCRIBER_BUFFER};

#[derive(Default)]
pub struct InProcessBus {
    channels: Mutex<HashMap<String, broadcast::Sender<BusMessage>>>,
}

impl InProcessBus {
    fn sender(&self, channel: &str) -> broadcast::Sender<BusMessage> {
        // A poisoned lock only means another thread panicked mid-insert; the map is still valid.
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        channels
            .entry(channel.to_string())
            .or_insert_with(|| broadcast::channel(SUBSCRIBER_BUFFER).0)
            .clone()
    }
}

#[async_trait]
impl Bus for InProcessBus {
    fn kind(&self) -> BusKind {
        BusKind::InProcess
    }

    async fn publish(&self, channel: &str, payload: &str) -> Result<(), BusError> {
        // No subscriber is not an error: nobody is watching right now.
        let _ = self.sender(channel).send(BusMessage {
            channel: channel.to_string(),
            payload: payload.to_string(),
        });
        Ok(())
    }

    async fn subscribe(&self, channel: &str) -> Result<broadcast::Receiver<BusMessage>, BusError> {
        Ok(self.sender(channel).subscribe())
    }

    async fn ping(&self) -> Result<(), BusError> {
        Ok(())
    }

    async fn close(&self) {}
}
