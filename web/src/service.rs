//! The layers every listener gets, outermost first: tracing, metrics, security headers,
//! language negotiation, error pages, refusals in the surface's format ([`surface`]), the ops
//! endpoints, static files and the 404 fallback.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state, map_response_with_state};
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::ops::{self, Probes};
use crate::{Site, Templates, assets, errors, headers, i18n, metrics, surface};

/// Wraps a service's routes with the shared routes and layers.
///
/// Each group of layers is applied as one stack: `Router::layer` boxes every route's service
/// once per call, and a request clones every box on its way in, so one stack per group keeps
/// that to two boxes instead of one per layer (measurable on the token endpoint).
pub fn wrap(routes: Router, site: Site, templates: Arc<Templates>, probes: Probes) -> Router {
    wrap_with(routes, site, templates, probes, Vec::new())
}

/// [`wrap`] with optional checks in `/readyz` (see [`ops::OptionalCheck`]).
pub fn wrap_with(
    routes: Router,
    site: Site,
    templates: Arc<Templates>,
    probes: Probes,
    optional: Vec<Arc<dyn ops::OptionalCheck>>,
) -> Router {
    let pages = ServiceBuilder::new()
        .layer(from_fn_with_state(site.clone(), i18n::negotiate))
        .layer(from_fn_with_state(templates, errors::render_pages))
        .layer(from_fn(surface::pages));
    let shared = ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        .layer(from_fn_with_state(site.clone(), metrics::track))
        .layer(map_response_with_state(site, headers::add))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(30)));
    routes
        .route("/static/{*path}", get(assets::serve))
        .fallback(errors::not_found)
        .layer(pages)
        .merge(ops::router_with(probes, optional))
        .layer(shared)
}
