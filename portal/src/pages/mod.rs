//! The portal's pages for signed-in people: the doctor's registration link and the
//! organizer's review of links. The history page lives in [`crate::history`].

pub mod account;
pub mod event_form;
pub mod kiosk;
pub mod operator_documents;
pub mod organizer_events;
pub mod organizer_import;
pub mod organizer_links;
pub mod qr_check_in;
pub mod registration;
pub mod shares;
pub mod verify;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use web::templates::Context;
use web::{Lang, PageError};

use crate::AppState;
use crate::signin::{self, PortalSession};

/// Extractor: the signed-in person's session; otherwise the request is answered with a redirect
/// to `/login`.
#[derive(Debug, Clone)]
pub struct SignedIn(pub PortalSession);

/// Extractor: the session of a signed-in organizer (or operator); otherwise a redirect to
/// `/login` or the 403 page.
#[derive(Debug, Clone)]
pub struct Organizer(pub PortalSession);

/// Extractor: the session of a signed-in operator; otherwise a redirect to `/login` or the 403
/// page.
#[derive(Debug, Clone)]
pub struct Operator(pub PortalSession);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        signed_in(state, &parts.headers).await.map(Self)
    }
}

impl FromRequestParts<AppState> for Organizer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        organizer(state, &parts.headers).await.map(Self)
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        operator(state, &parts.headers).await.map(Self)
    }
}

/// Extractor: the client's address — the peer, or behind a trusted proxy the address it names
/// ([`fn@web::client_ip`], `trusted_proxies`); `None` when unknown (a router called in-process).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl ClientIp {
    /// The address as the logs record it (`unknown` when not known).
    pub fn text(&self) -> String {
        self.0.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
    }
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(web::client_ip(parts, &state.0.config.trusted_proxies)))
    }
}

/// Staff roles (the `roles` claim) that may review links.
pub const ORGANIZER_ROLES: [&str; 2] = ["organizer", "operator"];

/// The signed-in session, or a redirect to `/login`.
pub async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<PortalSession, Response> {
    signin::current(state, headers).await.ok_or_else(|| Redirect::to("/login").into_response())
}

/// Whether the session holds an organizer (or operator) role.
pub fn is_organizer(session: &PortalSession) -> bool {
    session.roles.iter().any(|r| ORGANIZER_ROLES.contains(&r.as_str()))
}

/// The organizer's session, or the response to send instead (redirect to `/login` or 403).
pub async fn organizer(state: &AppState, headers: &HeaderMap) -> Result<PortalSession, Response> {
    let session = signed_in(state, headers).await?;
    if !is_organizer(&session) {
        return Err(forbidden().into_response());
    }
    Ok(session)
}

/// The staff role of operators: everything organizers do, and revoking documents.
pub const OPERATOR_ROLE: &str = "operator";

/// The operator's session, or the response to send instead (redirect to `/login` or 403).
pub async fn operator(state: &AppState, headers: &HeaderMap) -> Result<PortalSession, Response> {
    let session = signed_in(state, headers).await?;
    if !session.roles.iter().any(|r| r == OPERATOR_ROLE) {
        return Err(forbidden().into_response());
    }
    Ok(session)
}

/// 403 page for a signed-in person without the role a page needs.
pub fn forbidden() -> PageError {
    PageError::new(StatusCode::FORBIDDEN, "error_forbidden_title", "error_forbidden_message")
}

/// Renders a page template.
pub fn render(state: &AppState, name: &str, lang: Lang, ctx: &Context) -> Result<Response, PageError> {
    state.0.templates.render(name, lang, ctx).map(|h| Html(h).into_response()).map_err(PageError::internal)
}

/// Renders a form page: 422 when the submission was refused (`invalid`), else 200.
pub fn render_form(
    state: &AppState,
    name: &str,
    lang: Lang,
    ctx: &Context,
    invalid: bool,
) -> Result<Response, PageError> {
    let mut res = render(state, name, lang, ctx)?;
    if invalid {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

/// A "done" notice for a page: its locale key and how many items it counts.
pub fn notice(done: Option<(&str, u64)>) -> Option<std::collections::HashMap<&'static str, String>> {
    done.map(|(key, count)| {
        std::collections::HashMap::from([("key", key.to_owned()), ("count", count.to_string())])
    })
}

/// The event `id`, or the 404 page.
pub async fn event_or_404(state: &AppState, id: &str) -> Result<crate::store::events::Event, PageError> {
    crate::store::events::find_event(&state.0.probes.db, id)
        .await
        .map_err(store_error)?
        .ok_or_else(PageError::not_found)
}

/// Store failures become the internal-error page (logged with an id).
pub fn store_error(e: crate::store::StoreError) -> PageError {
    PageError::internal(e)
}
