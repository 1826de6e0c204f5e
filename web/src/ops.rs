//! Operational endpoints: `/healthz` (the process is up), `/readyz` (database
//! and key-value store answer; 503 naming the failing part) on every listener, and
//! `/metrics` (Prometheus) on the management listener only ([`management_router`]).
//!
//! A service may add [`OptionalCheck`]s to `/readyz`: parts it serves its core without (the
//! portal's PDF font). A failing one is listed with `"required": false` and makes the answer
//! `"status": "degraded"` — still 200, so a load balancer keeps sending traffic while an
//! operator (or monitoring reading the body) sees what to fix.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use storage::{Db, Kv};

/// What `/readyz` probes and `/metrics` renders.
#[derive(Debug, Clone)]
pub struct Probes {
    /// The database.
    pub db: Db,
    /// The key-value store.
    pub kv: Arc<dyn Kv>,
    /// The process's metrics.
    pub metrics: PrometheusHandle,
}

/// A part of a service that `/readyz` reports without making the service unready.
pub trait OptionalCheck: Send + Sync + std::fmt::Debug {
    /// The key under `checks` (`pdf_font`).
    fn name(&self) -> &'static str;
    /// `Ok` when the part works, else what is wrong (shown in `/readyz`). Called on every
    /// `/readyz`: must be cheap.
    fn check(&self) -> Result<(), String>;
}

/// The optional checks of a listener.
type Optional = Arc<[Arc<dyn OptionalCheck>]>;

/// How long one readiness probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Routes `/healthz`, `/readyz` of a public listener.
pub fn router(probes: Probes) -> Router {
    router_with(probes, Vec::new())
}

/// [`router`] with `optional` checks in `/readyz`.
pub fn router_with(probes: Probes, optional: Vec<Arc<dyn OptionalCheck>>) -> Router {
    let optional: Optional = optional.into();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(move |p: State<Probes>| readyz(p, optional.clone())))
        .with_state(probes)
}

/// The management listener's routes (`metrics_listen`, loopback by default, never public):
/// `/metrics` (Prometheus, the whole process: every service's requests), `/healthz`, `/readyz`.
pub fn management_router(probes: Probes) -> Router {
    router(probes.clone()).merge(Router::new().route("/metrics", get(metrics)).with_state(probes))
}

async fn healthz() -> Response {
    no_store(Json(json!({"status": "ok"})).into_response())
}

async fn readyz(State(p): State<Probes>, optional: Optional) -> Response {
    let (db, kv) = tokio::join!(
        tokio::time::timeout(PROBE_TIMEOUT, p.db.ping()),
        tokio::time::timeout(PROBE_TIMEOUT, p.kv.ping()),
    );
    let db = flatten(db.map(|r| r.map_err(|e| e.to_string())));
    let kv = flatten(kv.map(|r| r.map_err(|e| e.to_string())));
    let ready = db.is_ok() && kv.is_ok();
    // The body names the failing part; its error text goes to the log only.
    let show = |part: &str, r: Result<(), String>| match r {
        Ok(()) => "ok",
        Err(e) => {
            tracing::warn!(part, error = %e, "readiness probe failed");
            "unavailable"
        }
    };
    let mut checks = json!({
        "database": { "backend": p.db.backend().name(), "status": show("database", db) },
        "kv": { "backend": p.kv.backend().name(), "status": show("kv", kv) },
    });
    let mut degraded = false;
    for check in optional.iter() {
        let status = show(check.name(), check.check());
        degraded |= status != "ok";
        checks[check.name()] = json!({ "status": status, "required": false });
    }
    let body = json!({
        "status": match (ready, degraded) {
            (false, _) => "unavailable",
            (true, true) => "degraded",
            (true, false) => "ready",
        },
        "checks": checks,
    });
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    no_store((status, Json(body)).into_response())
}

fn flatten(r: Result<Result<(), String>, tokio::time::error::Elapsed>) -> Result<(), String> {
    r.unwrap_or_else(|_| Err(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())))
}

async fn metrics(State(p): State<Probes>) -> Response {
    let mut res = p.metrics.render().into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    res
}

fn no_store(mut res: Response) -> Response {
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
