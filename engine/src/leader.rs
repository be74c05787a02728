//! One replica at a time runs the loops every replica could run (the engine's sweep with
//! its timers and crons, the server's leak guard): the holder of a named lease, renewed
//! each round. A holder that stops renewing (it died) loses the lease after its term, and
//! the next replica to look takes it over — the hand-over is bounded by one term. The
//! engine gives its sweep's up when it shuts down ([`Leadership::resign`]), so a rolling
//! restart hands it over at once.
//!
//! Taking over is a read, a release and an insert, not one conditional write: two replicas
//! that find it expired at the same moment may both lead for a round.
//!
//! That is why the work under a leadership must be safe to run twice (row locks and
//! status-guarded writes keep it exactly-once): the lease keeps replicas from all doing it
//! at once, and a moment of two leaders costs a duplicate look, never a duplicate effect.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use crate::clock::{Clock, SystemClock};
use crate::store::{Lease, LeaseStore, StoreError};

/// Lease kind of every leadership.
pub const LEADER: &str = "leader";

pub struct Leadership {
    leases: Arc<dyn LeaseStore>,
    key: String,
    /// This replica, as the lease's holder.
    me: String,
    term: Duration,
}

impl Leadership {
    pub fn new(leases: Arc<dyn LeaseStore>, key: &str, term: Duration) -> Leadership {
        Leadership {
            leases,
            key: key.to_string(),
            me: format!("replica-{}", Uuid::new_v4()),
            term,
        }
    }

    /// Does this replica lead? Renews the lease when it is ours; takes it when it is free
    /// or its holder stopped renewing it. Terms run on the wall clock, whatever clock the
    /// engine keeps (a replica that died must lose it in real time).
    pub async fn lead(&self) -> Result<bool, StoreError> {
        let now = SystemClock.now();
        let until =
            json!({ "until": now + i64::try_from(self.term.as_millis()).unwrap_or(i64::MAX) });
        let current = self
            .leases
            .leases(Some(LEADER), None)
            .await?
            .into_iter()
            .find(|l| l.key == self.key);
        if let Some(lease) = current {
            if lease.holder == self.me {
                self.leases
                    .update_lease_data(LEADER, &self.key, &until)
                    .await?;
                return Ok(true);
            }
            let renewed_until = lease.data.as_ref().and_then(|d| d["until"].as_i64());
            if renewed_until.is_some_and(|at| at > now) {
                return Ok(false);
            }
            self.leases.release_lease(LEADER, &self.key).await?;
        }
        // Of replicas taking it at once, one insert wins.
        let lease = Lease {
            kind: LEADER.into(),
            key: self.key.clone(),
            holder: self.me.clone(),
            amount: 0,
            data: Some(until),
        };
        self.leases.acquire_lease(&lease, None, now).await
    }

    /// Give the lease up if this replica holds it (a graceful shutdown: the next replica
    /// need not wait out the term).
    pub async fn resign(&self) {
        let held = self
            .leases
            .leases(Some(LEADER), Some(&self.me))
            .await
            .is_ok_and(|l| l.iter().any(|l| l.key == self.key));
        if held {
            let _ = self.leases.release_lease(LEADER, &self.key).await;
        }
    }
}
