//! Integration tests of the idp, on SQLite + memory always and PostgreSQL + Redis when
//! configured.

mod account;
mod audit;
mod backchannel;
#[path = "../../../portal/tests/it/browser.rs"]
mod browser;
mod cache;
mod card_page;
mod card_reads;
mod cards;
mod certificate;
mod client_jwt;
mod errors;
mod forms;
mod license;
mod lifecycle;
mod live;
mod mtls;
mod oidc;
mod par;
mod passkeys;
mod rate_limit;
mod revocation;
mod rp_flows;
mod signing_keys;
#[path = "../../../portal/tests/it/webdriver.rs"]
mod webdriver;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use http_body_util::BodyExt;
use idp::{App, IdpConfig};
use keys::{Clock, KeyPolicy, MasterKey, SigningAlg};
use storage::testing::TestEnv;
use tower::ServiceExt;
use web::ops::Probes;

/// Builds an idp on a test environment.
#[derive(Debug)]
pub struct TestApp {
    pub router: Router,
    pub app: Arc<App>,
    pub master_text: String,
}

/// Options for [`TestApp`].
#[derive(Debug, Clone)]
pub struct TestAppBuilder {
    algs: Vec<SigningAlg>,
    master_text: Option<String>,
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder { algs: vec![SigningAlg::ES256], master_text: None }
    }

    pub async fn get(&self, path: &str) -> Response<Body> {
        self.router.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap()
    }
}

pub const POLICY: KeyPolicy =
    KeyPolicy { publish_lead: Duration::from_secs(3600), retention: Duration::from_secs(86_400) };

impl TestAppBuilder {
    pub fn algs(mut self, algs: &[SigningAlg]) -> Self {
        self.algs = algs.to_vec();
        self
    }

    pub fn master_key(mut self, text: &str) -> Self {
        self.master_text = Some(text.to_owned());
        self
    }

    pub async fn build(self, env: &TestEnv) -> Result<TestApp, idp::IdpError> {
        let master_text = self.master_text.unwrap_or_else(|| MasterKey::generate().1);
        let master = MasterKey::from_base64(&master_text).unwrap();
        let probes = Probes { db: env.db.db.clone(), kv: env.kv.clone(), metrics: web::metrics::recorder() };
        let config = IdpConfig {
            signing_algs: self.algs,
            key_policy: POLICY,
            ..IdpConfig::new("http://127.0.0.1:8080")
        };
        let templates = Arc::new(web::Templates::load().unwrap());
        let (router, app) = idp::build(config, probes, templates, master, Clock::manual_now()).await?;
        Ok(TestApp { router, app, master_text })
    }
}

/// Unix seconds of the system clock (for data written outside an app's clock; an app's own
/// clock starts at the system clock's second and moves only when a test moves it).
pub fn now() -> i64 {
    Clock::system().now()
}

pub async fn body_json(res: Response<Body>) -> serde_json::Value {
    serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap()
}
