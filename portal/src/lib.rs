//! The portal: doctors' training history, credits and attendance certificates. A relying party
//! of the idp. This crate is a library: [`build`] gives the router, the `shikaku` binary serves it.

pub mod api;
pub mod credits;
pub mod documents;
pub mod history;
pub mod idp_api;
pub mod import;
pub mod kv_keys;
pub mod linking;
pub mod pages;
pub mod roles;
pub mod signin;
pub mod store;
pub mod taps;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::HeaderMap;
use axum::middleware::from_fn_with_state;
use axum::response::Html;
use axum::routing::{get, post};
use web::csrf::CsrfToken;
use web::ops::Probes;
use web::{Lang, PageError, Site, Templates};

/// The portal's settings.
#[derive(Debug, Clone)]
pub struct PortalConfig {
    /// Public base URL (`https://portal.example.jp`).
    pub public_url: String,
    /// The idp's public URL (the issuer the portal signs in with).
    pub idp_url: String,
    /// The portal's client id at the idp.
    pub client_id: String,
    /// The portal's client secret at the idp (`client_secret_basic`).
    pub client_secret: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`trusted_proxies`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// Everything a handler can reach.
#[derive(Debug)]
pub struct App {
    /// Templates and texts.
    pub templates: Arc<Templates>,
    /// Public URL and cookie settings.
    pub site: Site,
    /// Settings.
    pub config: PortalConfig,
    /// Database and key-value store.
    pub probes: Probes,
    /// The idp's discovered metadata.
    pub provider: signin::Provider,
    /// Where "now" and "today" come from (the process's one clock; manual in tests).
    pub clock: keys::Clock,
    /// Document signing and PDF drawing.
    pub documents: documents::routes::DocumentService,
    /// The idp's service API (card reads), with the portal's own token.
    pub idp_api: idp_api::IdpApi,
}

/// The shared state handed to handlers.
#[derive(Debug, Clone)]
pub struct AppState(pub Arc<App>);

impl FromRef<AppState> for Site {
    fn from_ref(s: &AppState) -> Site {
        s.0.site.clone()
    }
}

/// The portal router with every shared layer. `clock` is the process's one clock
/// ([`keys::Clock::system`] but in tests and benchmarks).
pub fn build(
    config: PortalConfig,
    probes: Probes,
    templates: Arc<Templates>,
    documents: documents::routes::DocumentService,
    clock: keys::Clock,
) -> Router {
    let site = Site::new("portal", &config.public_url);
    let app = Arc::new(App {
        templates: templates.clone(),
        site: site.clone(),
        config,
        probes: probes.clone(),
        provider: signin::Provider::default(),
        clock,
        documents,
        idp_api: idp_api::IdpApi::default(),
    });
    let pdf_font: Arc<dyn web::ops::OptionalCheck> = Arc::new(PdfFontCheck(app.clone()));
    let routes = Router::new()
        .route("/", get(home))
        .route("/login", get(signin::login))
        .route("/callback", get(signin::callback))
        .route("/logout", post(signin::logout))
        .route("/history", get(history::page))
        .route("/documents", get(documents::page::show).post(documents::page::submit))
        .route("/documents/{file}", get(documents::download::pdf))
        .route("/me/registration", get(pages::registration::show).post(pages::registration::submit))
        .route("/account", get(pages::account::show))
        .route("/shares", get(pages::shares::show).post(pages::shares::create))
        .route("/shares/{id}/revoke", post(pages::shares::revoke))
        .route("/verify", get(pages::verify::code_form).post(pages::verify::code_submit))
        .route("/verify/in-person", get(pages::verify::in_person).post(pages::verify::in_person_submit))
        .route("/verify/in-person/challenge", get(pages::verify::in_person_challenge))
        .route("/verify/{token}", get(pages::verify::link).post(pages::verify::link_submit))
        .route("/organizer/links", get(pages::organizer_links::show).post(pages::organizer_links::decide))
        .route(
            "/organizer/import",
            get(pages::organizer_import::show)
                .post(pages::organizer_import::submit)
                .layer(DefaultBodyLimit::max(web::csrf::MAX_UPLOAD_BYTES)),
        )
        .route("/organizer/import/{job}", get(pages::organizer_import::job))
        .route("/organizer/events", get(pages::organizer_events::list))
        .route("/organizer/events/new", get(pages::event_form::new_form).post(pages::event_form::create))
        .route("/organizer/events/{id}", get(pages::organizer_events::show))
        .route(
            "/organizer/events/{id}/edit",
            get(pages::event_form::edit_form).post(pages::event_form::update),
        )
        .route("/organizer/events/{id}/attendance", post(pages::organizer_events::decide))
        .route("/organizer/events/{id}/kiosk", get(pages::kiosk::page))
        .route("/organizer/events/{id}/qr", get(pages::qr_check_in::show))
        .route("/attend/{id}", get(pages::qr_check_in::attend_page).post(pages::qr_check_in::attend_submit))
        .route(
            "/organizer/events/{id}/kiosk/taps",
            post(pages::kiosk::tap).layer(DefaultBodyLimit::max(pages::kiosk::MAX_TAP_BYTES)),
        )
        .route("/organizer/events/{id}/attendance.csv", get(pages::organizer_events::export))
        .route("/operator/documents", get(pages::operator_documents::show))
        .route("/operator/documents/revoke", post(pages::operator_documents::revoke))
        .route("/jwks", get(documents::routes::jwks))
        .route("/v/{id}", get(documents::routes::verify))
        .layer(from_fn_with_state(site.clone(), web::csrf::protect));
    // The API for programs: bearer tokens, no cookies, so no CSRF layer; problem+json refusals.
    let api = Router::new()
        .route("/api/v1/openapi.json", get(api::openapi))
        .route(
            "/api/v1/events/{id}/attendance",
            get(api::get_attendance)
                .post(api::post_attendance)
                .layer(DefaultBodyLimit::max(api::MAX_BODY_BYTES)),
        )
        .layer(axum::middleware::from_fn(web::surface::api));
    let routes = routes.merge(api).with_state(AppState(app));
    web::service::wrap_with(routes, site, templates, probes, vec![pdf_font])
}

/// `/readyz` check `pdf_font`: the Japanese font of the PDFs is there. Without it the portal
/// serves everything but the PDFs (503 page), so it stays ready, "degraded".
#[derive(Debug)]
struct PdfFontCheck(Arc<App>);

impl web::ops::OptionalCheck for PdfFontCheck {
    fn name(&self) -> &'static str {
        "pdf_font"
    }

    fn check(&self) -> Result<(), String> {
        self.0.documents.font_status()
    }
}

async fn home(
    State(state): State<AppState>,
    headers: HeaderMap,
    lang: Lang,
    csrf: CsrfToken,
) -> Result<Html<String>, PageError> {
    let mut ctx = web::templates::Context::new();
    let mut session = signin::current(&state, &headers).await;
    if let Some(s) = &mut session {
        s.hc_roles = s.hc_roles.iter().map(|r| roles::hc_role_name(r, lang).to_owned()).collect();
    }
    ctx.insert("session", &session);
    ctx.insert("csrf_token", &csrf.0);
    state.0.templates.render("portal/home.html", lang, &ctx).map(Html).map_err(PageError::internal)
}
