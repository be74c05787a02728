//! A deadline for requests that should answer promptly (everything but the SSE streams and
//! the agents' long poll): a stuck request is answered 503 with a problem document instead
//! of holding its connection for good.

use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::problem::ApiError;

/// Requests that are not streams answer within this.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The agents' long poll waits up to 30 s for work by design; a little more for the rest.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(45);

pub async fn within(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let mut e = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the request did not finish within {}s; the server is overloaded or a dependency is slow, try again",
                    limit.as_secs()
                ),
            );
            e.retry_after_s = Some(5);
            e.into_response()
        }
    }
}
