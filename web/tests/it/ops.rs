//! `/healthz`, `/readyz` and `/metrics`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use storage::testing::{OwnRedis, TestDb};
use tower::ServiceExt;
use web::ops::{self, Probes};

use crate::{TestApp, body_text};

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn healthz_and_readyz_when_all_is_well() {
    let app = TestApp::new(Router::new(), "http://127.0.0.1:1").await;
    let res = app.send(get("/healthz")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body_text(res).await, r#"{"status":"ok"}"#);
    let res = app.send(get("/readyz")).await;
    assert_eq!(res.status(), StatusCode::OK);
    insta::assert_snapshot!(body_text(res).await, @r#"{"checks":{"database":{"backend":"sqlite","status":"ok"},"kv":{"backend":"memory","status":"ok"}},"status":"ready"}"#);
}

#[tokio::test]
async fn readyz_names_the_failing_part_and_recovers() {
    let Some(redis) = OwnRedis::start().await else { return };
    let port = redis.port();
    let db = TestDb::sqlite().await;
    let kv = storage::kv::connect(Some(&redis.url()), "ready:").await.unwrap();
    let router = ops::router(Probes { db: db.db.clone(), kv: kv.clone(), metrics: web::metrics::recorder() });
    let ready = |r: Router| async move {
        let res = r.oneshot(get("/readyz")).await.unwrap();
        (res.status(), body_text(res).await)
    };
    assert_eq!(ready(router.clone()).await.0, StatusCode::OK);

    redis.stop();
    let (status, body) = ready(router.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "unavailable");
    assert_eq!(v["checks"]["database"]["status"], "ok");
    // The failing part is named; its error text is only logged.
    assert_eq!(v["checks"]["kv"]["status"], "unavailable");

    let _redis = OwnRedis::start_on(port).await;
    let mut recovered = false;
    for _ in 0..50 {
        if ready(router.clone()).await.0 == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(recovered, "readyz is 200 again once Redis is back");
}

#[tokio::test]
async fn readyz_reports_a_closed_database() {
    let db = TestDb::sqlite().await;
    let router = ops::router(Probes {
        db: db.db.clone(),
        kv: Arc::new(storage::MemoryKv::new()),
        metrics: web::metrics::recorder(),
    });
    db.db.close().await;
    let res = router.oneshot(get("/readyz")).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let v: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
    assert_eq!(v["checks"]["database"]["status"], "unavailable");
    assert_eq!(v["checks"]["kv"]["status"], "ok");
}

/// An optional part that works until told otherwise.
#[derive(Debug, Default)]
struct Part(std::sync::atomic::AtomicBool);

impl ops::OptionalCheck for Part {
    fn name(&self) -> &'static str {
        "pdf_font"
    }

    fn check(&self) -> Result<(), String> {
        if self.0.load(std::sync::atomic::Ordering::Relaxed) { Err("font missing".into()) } else { Ok(()) }
    }
}

#[tokio::test]
async fn readyz_lists_a_failing_optional_part_as_degraded_and_stays_200() {
    let db = TestDb::sqlite().await;
    let part = Arc::new(Part::default());
    let router = ops::router_with(
        Probes {
            db: db.db.clone(),
            kv: Arc::new(storage::MemoryKv::new()),
            metrics: web::metrics::recorder(),
        },
        vec![part.clone()],
    );
    let res = router.clone().oneshot(get("/readyz")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    insta::assert_snapshot!(body_text(res).await, @r#"{"checks":{"database":{"backend":"sqlite","status":"ok"},"kv":{"backend":"memory","status":"ok"},"pdf_font":{"required":false,"status":"ok"}},"status":"ready"}"#);
    part.0.store(true, std::sync::atomic::Ordering::Relaxed);
    let res = router.clone().oneshot(get("/readyz")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "a load balancer keeps sending traffic");
    insta::assert_snapshot!(body_text(res).await, @r#"{"checks":{"database":{"backend":"sqlite","status":"ok"},"kv":{"backend":"memory","status":"ok"},"pdf_font":{"required":false,"status":"unavailable"}},"status":"degraded"}"#);
    db.db.close().await;
    let res = router.oneshot(get("/readyz")).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let v: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
    assert_eq!(v["status"], "unavailable");
}

#[tokio::test]
async fn metrics_count_requests() {
    let app = TestApp::new(Router::new(), "http://127.0.0.1:1").await;
    app.send(get("/healthz")).await;
    app.send(get("/no-such-page")).await;
    // Not on the public listener; on the management one.
    assert_eq!(app.send(get("/metrics")).await.status(), StatusCode::NOT_FOUND);
    let probes =
        Probes { db: app._env.db.db.clone(), kv: app._env.kv.clone(), metrics: web::metrics::recorder() };
    let res = ops::management_router(probes).oneshot(get("/metrics")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = body_text(res).await;
    assert!(
        text.contains(
            "http_requests_total{service=\"test\",method=\"GET\",route=\"/healthz\",status=\"200\"}"
        ),
        "{text}"
    );
    assert!(text.contains("route=\"unmatched\",status=\"404\""), "{text}");
    assert!(text.contains("http_request_duration_seconds"), "{text}");
}
