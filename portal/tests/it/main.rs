//! Integration tests of the portal router.

mod credits;
mod documents;
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
    /// The database.
    pub db: storage::Db,
    /// The portal's document signer (same keys as the router's).
    pub signer: portal::documents::Signer,
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
        let (master, _) = idp::keys::MasterKey::generate();
        let signer = portal::documents::Signer::open(env.db.db.clone(), master, &config.public_url, now())
            .await
            .unwrap();
        let documents = portal::documents::routes::DocumentService::new(signer.clone(), font_path());
        let router = portal::build(config, probes, Arc::new(web::Templates::load().unwrap()), documents);
        Self { router, db: env.db.db.clone(), signer, _env: env }
    }

    /// The router, to serve on a real port.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    pub async fn send(&self, req: Request<Body>) -> Response<Body> {
        self.router.clone().oneshot(req).await.unwrap()
    }
}

/// Unix seconds now.
pub fn now() -> i64 {
    idp::app::now()
}

/// The Japanese font of the PDFs (Debian fonts-noto-cjk).
pub fn font_path() -> std::path::PathBuf {
    portal::documents::pdf::DEFAULT_FONT_PATH.into()
}

pub async fn text(res: Response<Body>) -> String {
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}
