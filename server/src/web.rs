//! The web dashboard's built assets (`web/dist`). Release builds embed them in the binary;
//! debug builds read them from disk, so `npm run build` shows up without recompiling.

use axum::body::Body;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "$CARGO_MANIFEST_DIR/../web/dist"]
#[allow_missing = true]
struct Assets;

/// The pages' Content-Security-Policy: everything from this server only, no inline or
/// injected scripts, never inside a frame. Styles may be inline (React Flow, CodeMirror and
/// Redoc write `<style>` elements); the API reference's search runs in a blob worker.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; \
object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// Shown when the server was built before the dashboard was.
const NOT_BUILT: &str = "<!doctype html><title>Ratchet</title><h1>Ratchet</h1>\
<p>The web dashboard has not been built. Run <code>npm --prefix web ci &amp;&amp; npm --prefix web run build</code> \
and rebuild the server (or run <code>bash scripts/demo</code>). The API is up: see <a href=\"/readyz\">/readyz</a>.</p>";

pub async fn serve_asset(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    // Unknown API paths are API errors, not the dashboard.
    if path.starts_with("api/") {
        return crate::api::problem::ApiError::not_found(
            "no such API endpoint (see /api/v1/openapi.json)",
        )
        .into_response();
    }
    if let Some(file) = Assets::get(path).filter(|_| !path.is_empty()) {
        // Vite puts content hashes in asset names: they never change, so cache them for good.
        let cache = if path.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        let mime = mime_guess::from_path(path).first_or_octet_stream();
        return response(file.data.into_owned(), mime.as_ref(), cache);
    }
    // Every other path is a client-side route of the single-page app.
    match Assets::get("index.html") {
        Some(index) => response(
            index.data.into_owned(),
            "text/html; charset=utf-8",
            "no-cache",
        ),
        None => response(
            NOT_BUILT.as_bytes().to_vec(),
            "text/html; charset=utf-8",
            "no-cache",
        ),
    }
}

fn response(body: Vec<u8>, content_type: &str, cache_control: &'static str) -> Response {
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if content_type.starts_with("text/html") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    response
}
