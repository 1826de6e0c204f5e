//! The layers every listener gets, outermost first: tracing, metrics, security headers,
//! language negotiation, error pages, the ops endpoints, static files and the 404 fallback.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware::{from_fn_with_state, map_response_with_state};
use axum::routing::get;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::ops::{self, Probes};
use crate::{Site, Templates, assets, errors, headers, i18n, metrics};

/// Wraps a service's routes with the shared routes and layers.
pub fn wrap(routes: Router, site: Site, templates: Arc<Templates>, probes: Probes) -> Router {
    routes
        .route("/static/{*path}", get(assets::serve))
        .fallback(errors::not_found)
        .layer(from_fn_with_state(templates, errors::render_pages))
        .layer(from_fn_with_state(site.clone(), i18n::negotiate))
        .merge(ops::router(probes))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(30)))
        .layer(map_response_with_state(site.clone(), headers::add))
        .layer(from_fn_with_state(site, metrics::track))
        .layer(TraceLayer::new_for_http())
}
