//! `GET /jwks`: the public signing keys (RFC 7517), including keys about to sign and keys
//! recently replaced.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use web::ApiError;

use crate::app::AppState;

/// How long relying parties may cache the set; the rotation lead must exceed it.
pub const MAX_AGE_SECS: u64 = 300;
const CACHE_CONTROL: &str = "public, max-age=300";

/// Handler.
pub async fn get(State(state): State<AppState>) -> Response {
    match state.0.keys.jwks_text(state.0.clock.now()).await {
        Ok(set) => {
            let mut res = set.to_string().into_response();
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/jwk-set+json"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL));
            res
        }
        Err(e) => ApiError::internal(e).into_response(),
    }
}
