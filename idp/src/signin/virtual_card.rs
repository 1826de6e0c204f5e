//! Demo mode only: *virtual cards* that sign the sign-in challenge with test-PKI keys held by
//! the server, so a newcomer can sign in without a card. The token they make goes through the
//! same validation as a real card's. Never mounted unless demo mode is on.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hpki::testpki::VirtualCard;
use serde::Deserialize;
use web::Lang;

use crate::app::AppState;
use crate::rate_limit::{self, ClientIp};
use crate::signin::card;

/// One virtual card offered on the sign-in page.
#[derive(Debug, Clone)]
pub struct DemoCard {
    /// Short id used in the form.
    pub id: String,
    /// What the Japanese page shows (name and role).
    pub label: String,
    /// What the English page shows.
    pub label_en: String,
    /// The card.
    pub card: VirtualCard,
}

/// Form of `POST /login/virtual-card`.
#[derive(Debug, Deserialize)]
pub struct VirtualLogin {
    card: String,
    request: Option<String>,
}

/// `POST /login/virtual-card`: signs a fresh challenge with the chosen virtual card and signs in.
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    lang: Lang,
    client_ip: ClientIp,
    Form(f): Form<VirtualLogin>,
) -> Response {
    let app = &state.0;
    if let Err(l) =
        rate_limit::hit(app, "sign_in_ip", &client_ip.subject(), app.config.rate_limits.sign_in_per_ip).await
    {
        return rate_limited_page(l.retry_after);
    }
    let Some(card) = app.config.demo_cards.iter().find(|c| c.id == f.card) else {
        return web::PageError::not_found().into_response();
    };
    let nonce = STANDARD.encode(rand::random::<[u8; 32]>());
    let token = match card.card.token(app.site.origin(), &nonce, card.card.default_algorithm()) {
        Ok(t) => t,
        Err(e) => return web::PageError::internal(e).into_response(),
    };
    let ip = client_ip.audit();
    let previous = crate::session::current(app, &headers, state.0.clock.now()).await;
    match card::complete(
        app,
        &token,
        &nonce,
        f.request.as_deref().filter(|r| !r.is_empty()),
        ip,
        lang,
        state.0.clock.now(),
    )
    .await
    {
        Ok((next, cookie)) => {
            if let Some(old) = previous {
                crate::session::revoke(
                    app,
                    &old,
                    "replaced_by_sign_in",
                    client_ip.audit(),
                    state.0.clock.now(),
                )
                .await;
            }
            let mut res = Redirect::to(&next).into_response();
            res.headers_mut().append(header::SET_COOKIE, cookie);
            res
        }
        Err(refused) if refused.status() == StatusCode::TOO_MANY_REQUESTS => {
            let retry = refused
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or(60);
            rate_limited_page(retry)
        }
        // The card was refused (e.g. the revoked demo card): show why, as a page.
        // Back to the sign-in page of the same request (the idp's root is no way on).
        Err(refused) => web::PageError::new(refused.status(), "card_failed", "demo_card_refused")
            .with_back(back_to_sign_in(f.request.as_deref()))
            .into_response(),
    }
}

/// `/login`, with the pending authorization request when it has the shape of one.
fn back_to_sign_in(request: Option<&str>) -> String {
    match request.filter(|r| {
        !r.is_empty()
            && r.len() <= 128
            && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }) {
        Some(r) => format!("/login?request={r}"),
        None => "/login".to_owned(),
    }
}

/// The 429 page with `Retry-After`.
fn rate_limited_page(retry_after: u64) -> Response {
    let mut res =
        web::PageError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited_title", "rate_limited_message")
            .into_response();
    res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    res
}
