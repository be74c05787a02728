//! Caps on requests that hold a connection for long (agent long polls, SSE streams): per
//! token and over the whole server, so one client cannot take every connection. Over a
//! cap the request is answered 429 with `Retry-After`; a held request frees its place when
//! it ends (its [`Permit`] is dropped).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use crate::api::problem::ApiError;

/// Long polls one agent session may hold at once (an agent polls one at a time; a second
/// covers a poll the agent gave up on while the server still holds it).
pub const POLLS_PER_SESSION: usize = 2;
/// Long polls held at once over the whole server.
pub const POLLS_TOTAL: usize = 4096;
/// SSE streams one API token may hold at once (a dashboard tab holds one or two).
pub const STREAMS_PER_TOKEN: usize = 32;
/// SSE streams held at once over the whole server.
pub const STREAMS_TOTAL: usize = 1024;

/// The caps of one kind of long-lived request.
pub struct Limiter {
    /// What is held, for the 429's detail ("long polls", "SSE streams").
    what: &'static str,
    per_token: usize,
    total: usize,
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    total: usize,
    by_token: HashMap<Uuid, usize>,
}

impl Limiter {
    pub fn new(what: &'static str, per_token: usize, total: usize) -> Arc<Limiter> {
        Arc::new(Limiter {
            what,
            per_token,
            total,
            held: Mutex::default(),
        })
    }

    /// A place for one more request of `token`, or 429.
    pub fn acquire(self: &Arc<Self>, token: Uuid) -> Result<Permit, ApiError> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let mine = held.by_token.get(&token).copied().unwrap_or(0);
        if mine >= self.per_token {
            return Err(ApiError::too_many(
                format!(
                    "this token already holds {mine} {} (at most {} at once); close one or try again later",
                    self.what, self.per_token
                ),
                1,
            ));
        }
        if held.total >= self.total {
            return Err(ApiError::too_many(
                format!(
                    "the server holds {} {} already (its limit); try again later",
                    held.total, self.what
                ),
                5,
            ));
        }
        held.total += 1;
        *held.by_token.entry(token).or_default() += 1;
        Ok(Permit {
            limiter: self.clone(),
            token,
        })
    }

    /// How many are held now.
    pub fn held(&self) -> usize {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).total
    }
}

/// One held place; given back when dropped.
pub struct Permit {
    limiter: Arc<Limiter>,
    token: Uuid,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut held = self.limiter.held.lock().unwrap_or_else(|e| e.into_inner());
        held.total = held.total.saturating_sub(1);
        if let Some(n) = held.by_token.get_mut(&self.token) {
            *n -= 1;
            if *n == 0 {
                held.by_token.remove(&self.token);
            }
        }
    }
}

/// The server's caps.
#[derive(Clone)]
pub struct Limits {
    pub polls: Arc<Limiter>,
    pub streams: Arc<Limiter>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            polls: Limiter::new("long polls", POLLS_PER_SESSION, POLLS_TOTAL),
            streams: Limiter::new("SSE streams", STREAMS_PER_TOKEN, STREAMS_TOTAL),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_over_its_cap_is_refused_until_a_place_frees() {
        let limiter = Limiter::new("long polls", 2, 3);
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let first = limiter.acquire(a).unwrap();
        let _second = limiter.acquire(a).unwrap();
        let refused = limiter.acquire(a).err().unwrap();
        assert_eq!(refused.status, axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.retry_after_s, Some(1));
        let _other = limiter.acquire(b).unwrap();
        // The server's cap: three in all.
        assert!(limiter.acquire(b).is_err());
        drop(first);
        assert_eq!(limiter.held(), 2);
        assert!(limiter.acquire(a).is_ok());
    }
}
