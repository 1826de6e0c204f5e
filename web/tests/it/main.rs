//! Integration tests of the shared web plumbing, through real routers in process.

mod csrf;
mod errors;
mod ops;
mod pages;
mod serve;
mod surface;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use http_body_util::BodyExt;
use storage::testing::TestEnv;
use tower::ServiceExt;
use web::ops::Probes;
use web::{Site, Templates};

/// A service router wrapped like the idp's and portal's, for a given site URL.
#[derive(Debug)]
pub struct TestApp {
    pub router: Router,
    pub _env: TestEnv,
}

impl TestApp {
    pub async fn new(routes: Router, public_url: &str) -> Self {
        let env = TestEnv::sqlite_memory().await;
        let probes = Probes { db: env.db.db.clone(), kv: env.kv.clone(), metrics: web::metrics::recorder() };
        let templates = Arc::new(Templates::load().expect("templates"));
        let router = web::service::wrap(routes, Site::new("test", public_url), templates, probes);
        Self { router, _env: env }
    }

    pub async fn send(&self, req: Request<Body>) -> Response<Body> {
        self.router.clone().oneshot(req).await.unwrap()
    }
}

pub async fn body_text(res: Response<Body>) -> String {
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}
