//! Integration tests of the portal router.

mod credits;
mod pages;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use http_body_util::BodyExt;
use storage::testing::TestEnv;
use tower::ServiceExt;
use web::ops::Probes;

/// A portal on a test environment.
#[derive(Debug)]
pub struct TestApp {
    router: Router,
    _env: TestEnv,
}

impl TestApp {
    pub async fn new(env: TestEnv) -> Self {
        let probes = Probes { db: env.db.db.clone(), kv: env.kv.clone(), metrics: web::metrics::recorder() };
        let config = portal::PortalConfig {
            public_url: "http://127.0.0.1:8081".into(),
            idp_url: "http://127.0.0.1:8080".into(),
            client_id: "portal".into(),
            client_secret: None,
        };
        let router = portal::build(config, probes, Arc::new(web::Templates::load().unwrap()));
        Self { router, _env: env }
    }

    pub async fn send(&self, req: Request<Body>) -> Response<Body> {
        self.router.clone().oneshot(req).await.unwrap()
    }
}

pub async fn text(res: Response<Body>) -> String {
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}
