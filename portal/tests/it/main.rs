//! Integration tests of the portal router.

mod browser;
mod credits;
mod doc_routes;
mod documents;
mod forms;
mod fuzz;
mod history;
mod links;
mod operator;
mod organizer;
mod pages;
mod pdf_font;
mod qr;
mod screens;
mod seed;
mod served;
mod share_pages;
mod shares;
mod systems;
mod taps;
mod upload;
mod verify_pages;
mod webdriver;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, header};
use http_body_util::BodyExt;
use keys::Clock;
use portal::documents::pdf::FontSearch;
use portal::signin::{PortalSession, save_session, session_cookie};
use portal::store::attendance::Status;
use storage::Db;
use storage::testing::TestEnv;
use time::Date;
use tower::ServiceExt;
use web::Site;
use web::ops::Probes;

/// The portal's public URL in tests.
pub const PUBLIC_URL: &str = "http://127.0.0.1:8081";

/// A portal on a test environment.
#[derive(Debug)]
pub struct TestApp {
    router: Router,
    /// The database.
    pub db: Db,
    /// The portal's document signer (same keys as the router's).
    pub signer: portal::documents::Signer,
    /// The router's clock (manual: it moves only when a test moves it).
    pub clock: Clock,
    env: TestEnv,
}

/// The PDF font settings of a test app: the configured file and where else to look.
type Font = (std::path::PathBuf, FontSearch);

fn router(env: &TestEnv, signer: &portal::documents::Signer, clock: Clock, font: &Font) -> Router {
    let probes = Probes { db: env.db.db.clone(), kv: env.kv.clone(), metrics: web::metrics::recorder() };
    let config = portal::PortalConfig {
        public_url: PUBLIC_URL.into(),
        idp_url: "http://127.0.0.1:8080".into(),
        client_id: "portal".into(),
        client_secret: None,
        trusted_proxies: Vec::new(),
    };
    let documents = portal::documents::routes::DocumentService::with_font_search(
        signer.clone(),
        font.0.clone(),
        font.1.clone(),
    );
    portal::build(config, probes, Arc::new(web::Templates::load().unwrap()), documents, clock)
}

async fn signer(env: &TestEnv, clock: &Clock) -> portal::documents::Signer {
    let (master, _) = keys::MasterKey::generate();
    portal::documents::Signer::open(env.db.db.clone(), master, PUBLIC_URL, clock.now()).await.unwrap()
}

impl TestApp {
    /// A portal whose clock starts at the system clock's second.
    pub async fn new(env: TestEnv) -> Self {
        Self::with(env, Clock::manual_now(), (font_path(), FontSearch::System)).await
    }

    /// A portal whose clock starts at Unix second `unix`.
    pub async fn at(env: TestEnv, unix: i64) -> Self {
        Self::with(env, Clock::manual(unix), (font_path(), FontSearch::System)).await
    }

    /// A portal whose "today" is `day` (noon in Japan).
    pub async fn on(env: TestEnv, day: Date) -> Self {
        Self::with(env, Clock::on_day(day), (font_path(), FontSearch::System)).await
    }

    /// A portal whose PDF font is `font_path`, else a Japanese font in `search`.
    pub async fn with_font(env: TestEnv, font_path: std::path::PathBuf, search: FontSearch) -> Self {
        Self::with(env, Clock::manual_now(), (font_path, search)).await
    }

    async fn with(env: TestEnv, clock: Clock, font: Font) -> Self {
        let signer = signer(&env, &clock).await;
        let router = router(&env, &signer, clock.clone(), &font);
        Self { router, db: env.db.db.clone(), signer, clock, env }
    }

    /// Moves "today" to `day`, noon in Japan (for everything: dates, keys, timestamps).
    pub fn set_today(&mut self, day: Date) {
        self.clock.set_day(day);
    }

    pub fn db(&self) -> &Db {
        &self.env.db.db
    }

    /// The KV the router uses.
    pub fn kv(&self) -> Arc<dyn storage::Kv> {
        self.env.kv.clone()
    }

    /// The router, to serve on a real port.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    pub async fn send(&self, req: Request<Body>) -> Response<Body> {
        self.router.clone().oneshot(req).await.unwrap()
    }

    /// Puts a session in the KV the way the sign-in callback does and returns its `Cookie`
    /// header value (test-only: no route of the portal creates sessions without the idp).
    pub async fn sign_in(&self, sub: &str, name: &str, roles: &[&str], claim: Option<&str>) -> String {
        let session = PortalSession {
            sid: format!("sid-{sub}-{}", rand_suffix()),
            sub: sub.into(),
            name: Some(name.into()),
            hc_roles: vec!["Medical Doctor".into()],
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            medical_registration_number: claim.map(str::to_owned),
            card: None,
            id_token: "not-a-token".into(),
        };
        save_session(self.env.kv.as_ref(), &session).await.unwrap();
        session_cookie(&Site::new("portal", PUBLIC_URL), &session.sid)
    }

    /// [`Self::sign_in`] as a doctor who signed in with a card (the idp's `hpki` claim).
    pub async fn sign_in_with_card(&self, sub: &str, name: &str, subscriber: &str) -> String {
        let session = PortalSession {
            sid: format!("sid-{sub}-{}", rand_suffix()),
            sub: sub.into(),
            name: Some(name.into()),
            hc_roles: vec!["Medical Doctor".into()],
            roles: vec![],
            medical_registration_number: None,
            card: Some(portal::signin::CardKey {
                issuer: "C=JP, O=JMA, CN=HPKI Test CA".into(),
                subscriber_id: subscriber.into(),
            }),
            id_token: "not-a-token".into(),
        };
        save_session(self.env.kv.as_ref(), &session).await.unwrap();
        session_cookie(&Site::new("portal", PUBLIC_URL), &session.sid)
    }

    /// A doctor `sub` with a confirmed link to `number` (entered on `/me/registration`,
    /// confirmed on the organizer page); returns their cookie.
    pub async fn linked_doctor(&self, sub: &str, number: &str, name: &str) -> String {
        seed::doctor(self.db(), number, name).await;
        let doctor = self.sign_in(sub, name, &[], None).await;
        let (status, _, _) =
            self.post_form("/me/registration", &doctor, &[("registration_number", number)]).await;
        assert_eq!(status, 303);
        let organizer = self.sign_in(&format!("org-{sub}"), "事務局　花子", &["organizer"], None).await;
        let (_, location, _) =
            self.post_form("/organizer/links", &organizer, &[("action", "confirm"), ("sub", sub)]).await;
        assert_eq!(location.as_deref(), Some("/organizer/links?done=confirm&count=1"));
        doctor
    }

    /// Doctor 123456 (linked as `sub`, one confirmed record in FY2026) issues a yearly
    /// statement on `/documents`; returns their cookie and the document id.
    pub async fn issued_statement(&self, sub: &str) -> (String, String) {
        let doctor = self.linked_doctor(sub, "123456", "山田　太郎").await;
        let credits = [("jma_cme", "74", 300), ("jma_cme", "76", 200)];
        seed::attend(
            self.db(),
            "123456",
            "B1",
            time::macros::date!(2026 - 06 - 01),
            Status::Confirmed,
            &credits,
        )
        .await;
        let (status, location, body) =
            self.post_form("/documents", &doctor, &[("kind", "statement"), ("fiscal_year", "2026")]).await;
        assert_eq!(status, 303, "{body}");
        let location = location.unwrap();
        let id =
            location.strip_prefix("/documents?issued=").unwrap_or_else(|| panic!("{location}")).to_owned();
        (doctor, id)
    }

    /// GET with a cookie; returns status, `Location` and body.
    pub async fn get(&self, uri: &str, cookie: &str) -> (u16, Option<String>, String) {
        let req = Request::get(uri).header(header::COOKIE, cookie).header(header::ACCEPT, "text/html");
        let res = self.send(req.body(Body::empty()).unwrap()).await;
        let status = res.status().as_u16();
        let location = res.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_owned());
        (status, location, text(res).await)
    }

    /// A fresh CSRF cookie (`name=value`) and its token, as a browser gets them from a page.
    async fn csrf(&self) -> (String, String) {
        let res = self.send(Request::get("/").body(Body::empty()).unwrap()).await;
        let set = res.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
        let csrf = set.split(';').next().unwrap().to_owned();
        let token = csrf.split_once('=').unwrap().1.to_owned();
        (csrf, token)
    }

    /// Sends `req` and returns status, `Location` and body.
    async fn answer(&self, req: Request<Body>) -> (u16, Option<String>, String) {
        let res = self.send(req).await;
        let status = res.status().as_u16();
        let location = res.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_owned());
        (status, location, text(res).await)
    }

    /// POST a form with a valid CSRF token (fetched with a GET first).
    pub async fn post_form(
        &self,
        uri: &str,
        cookie: &str,
        fields: &[(&str, &str)],
    ) -> (u16, Option<String>, String) {
        let (csrf, token) = self.csrf().await;
        let mut body = form_urlencoded::Serializer::new(String::new());
        body.append_pair("csrf_token", &token);
        for (k, v) in fields {
            body.append_pair(k, v);
        }
        let req = Request::post(uri)
            .header(header::COOKIE, format!("{cookie}; {csrf}"))
            .header(header::ACCEPT, "text/html")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body.finish()))
            .unwrap();
        self.answer(req).await
    }

    /// POST a `multipart/form-data` form as a browser sends it: the CSRF token first, then
    /// `parts` as (name, file name for a file part, content).
    pub async fn post_multipart(
        &self,
        uri: &str,
        cookie: &str,
        parts: &[(&str, Option<&str>, &[u8])],
    ) -> (u16, Option<String>, String) {
        self.multipart(uri, cookie, parts, true).await
    }

    /// [`Self::post_multipart`] without the CSRF token part (the cookie is there).
    pub async fn post_multipart_without_token(
        &self,
        uri: &str,
        cookie: &str,
        parts: &[(&str, Option<&str>, &[u8])],
    ) -> (u16, Option<String>, String) {
        self.multipart(uri, cookie, parts, false).await
    }

    async fn multipart(
        &self,
        uri: &str,
        cookie: &str,
        parts: &[(&str, Option<&str>, &[u8])],
        send_token: bool,
    ) -> (u16, Option<String>, String) {
        let (csrf, token) = self.csrf().await;
        let boundary = "----shikakuTestBoundary7MA4YWxk";
        let mut body = Vec::new();
        let with_token = std::iter::once(("csrf_token", None, token.as_bytes())).filter(|_| send_token);
        for (name, file, content) in with_token.chain(parts.iter().copied()) {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            let disposition = match file {
                Some(f) => format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: text/csv\r\n\r\n"
                ),
                None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
            };
            body.extend_from_slice(disposition.as_bytes());
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let req = Request::post(uri)
            .header(header::COOKIE, format!("{cookie}; {csrf}"))
            .header(header::ACCEPT, "text/html")
            .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
            .body(Body::from(body))
            .unwrap();
        self.answer(req).await
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Unix seconds of the system clock (for data written outside a [`TestApp`]'s clock).
pub fn now() -> i64 {
    Clock::system().now()
}

/// The Japanese font of the PDFs (Debian fonts-noto-cjk).
pub fn font_path() -> std::path::PathBuf {
    portal::documents::pdf::DEFAULT_FONT_PATH.into()
}

pub async fn text(res: Response<Body>) -> String {
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}
