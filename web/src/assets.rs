//! Static files (`static/`), embedded in the binary and served at `/static/…`.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use include_dir::{Dir, include_dir};

use crate::ApiError;

static ASSETS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../static");

/// Handler for `/static/{*path}`.
pub async fn serve(Path(path): Path<String>) -> Response {
    let Some(file) = ASSETS.get_file(&path) else {
        return ApiError::not_found(&format!("/static/{path}")).into_response();
    };
    let mime = match path.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    };
    let mut res = file.contents().to_vec().into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    if let Some(scope) = WORKER_SCOPES.iter().find(|(file, _)| *file == path).map(|(_, scope)| *scope) {
        h.insert("service-worker-allowed", HeaderValue::from_static(scope));
    }
    res
}

/// Service workers served from `/static/` and the wider scope each may control
/// (`Service-Worker-Allowed`): the venue kiosk's, for the portal's event pages.
const WORKER_SCOPES: [(&str, &str); 1] = [("kiosk-sw.js", "/organizer/events/")];
