//! User events: pushed by people and systems, they satisfy `wait_for` event conditions of
//! waiting tasks and start the workflows whose `on_events` triggers match.

use serde_json::Value;

use crate::engine::{Engine, EngineError};
use crate::model::{RunId, UserEvent};

/// What pushing an event did.
#[derive(Debug, Clone, PartialEq)]
pub struct Pushed {
    pub event: UserEvent,
    /// Runs started by `on_events` triggers.
    pub started: Vec<RunId>,
}

impl Engine {
    pub async fn push_event(
        &self,
        key: &str,
        payload: Value,
        metadata: Value,
    ) -> Result<Pushed, EngineError> {
        let (event, changes) = self
            .store()
            .push_event(key, &payload, &metadata, self.now())
            .await?;
        for change in &changes {
            self.inner.publish(change).await;
        }
        // The newest version of each workflow listens (rows come by name, then age).
        let mut newest: Vec<(String, String)> = Vec::new();
        for (name, version, _) in self.store().workflows().await? {
            match newest.last_mut() {
                Some(last) if last.0 == name => last.1 = version,
                _ => newest.push((name, version)),
            }
        }
        let mut started = Vec::new();
        for (name, version) in newest {
            let Some(def) = self.store().workflow(&name, &version).await? else {
                continue;
            };
            if def
                .on_events
                .iter()
                .any(|t| t.fires(key, &payload, &metadata))
            {
                started.push(
                    self.run_workflow(&name, &version, payload.clone())
                        .await?
                        .id,
                );
            }
        }
        Ok(Pushed { event, started })
    }
}
