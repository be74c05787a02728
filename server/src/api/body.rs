//! Request bodies parsed strictly: a malformed body is a 400 that names the field at fault
//! by its path (`tasks[2].retries: invalid type ...`), not a generic "bad JSON".

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::api::problem::ApiError;

/// The largest body the API accepts (suites and workflow definitions are small; log
/// batches are bounded by the agent).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// A JSON body of type `T`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = content_type(&req).unwrap_or_else(|| "application/json".into());
        if !content_type.starts_with("application/json") {
            return Err(unsupported(format!(
                "expected Content-Type: application/json, got {content_type}"
            )));
        }
        parse_json(&read_body(req, state).await?).map(JsonBody)
    }
}

/// Parse JSON, naming the path of the first bad field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ApiError::bad_request(format!("invalid request body: {inner}"))
        } else {
            ApiError::bad_request(format!("invalid request body at `{path}`: {inner}"))
        }
    })
}

/// Path parameters; a malformed one (not a UUID, ...) is a problem+json 400 naming it.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> axum::extract::FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e| ApiError::new(e.status(), format!("invalid path: {}", e.body_text())))
    }
}

/// Query parameters; an unknown or malformed one is a problem+json 400 naming it.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::bad_request(format!("invalid query: {}", e.body_text())))
    }
}

/// A document body (a suite, a workflow definition): YAML or JSON as its `Content-Type`
/// says, UTF-8 text. Another content type is 415, bytes that are not text 400.
pub struct DocumentBody {
    pub text: String,
    pub format: crate::document::Format,
}

impl<S: Send + Sync> FromRequest<S> for DocumentBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = content_type(&req);
        let format = crate::document::Format::from_content_type(content_type.as_deref())
            .ok_or_else(|| {
                unsupported(format!(
                    "unsupported Content-Type `{}`: send application/yaml or application/json",
                    content_type.unwrap_or_default()
                ))
            })?;
        let text = String::from_utf8(read_body(req, state).await?.to_vec())
            .map_err(|_| ApiError::bad_request("the document is not UTF-8 text"))?;
        Ok(DocumentBody { text, format })
    }
}

fn content_type(req: &Request) -> Option<String> {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn unsupported(detail: String) -> ApiError {
    ApiError::new(axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE, detail)
}

/// The whole body, within the route's limit (413 past it).
async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state)
        .await
        .map_err(|e| match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                e.status(),
                format!("the request body is too large: at most {MAX_BODY_BYTES} bytes (agent results: {} bytes)", protocol::MAX_RESULT_BYTES),
            ),
            status => ApiError::new(status, format!("cannot read the request body: {e}")),
        })
}
