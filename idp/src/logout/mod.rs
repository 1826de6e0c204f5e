//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): `GET|POST /logout`.
//!
//! With a valid `id_token_hint` for the current session the session ends at once; otherwise
//! the person confirms on a page (a form with CSRF protection), so that no third party can sign
//! anyone out. `post_logout_redirect_uri` must exactly match the client's registration; an
//! unregistered one is never redirected to. Clients of the ended session with a back-channel
//! logout URI are told in the background ([`crate::logout::backchannel`]).

pub mod backchannel;

use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use web::csrf::CsrfToken;
use web::{Lang, PageError};

use crate::app::{App, AppState};
use crate::rate_limit::ClientIp;
use crate::session::{self, Session};
use crate::store::clients as client_store;
use crate::{audit, ids};

/// Parameters of `/logout`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Params {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    client_id: Option<String>,
    /// Set by the confirmation form.
    confirm: Option<String>,
}

fn bad(key: &'static str) -> PageError {
    PageError::new(StatusCode::BAD_REQUEST, "logout_error_title", key)
}

/// Checks the request; returns the client id and the redirect target, if any.
async fn check(
    app: &App,
    p: &Params,
    now: i64,
) -> Result<(Option<serde_json::Value>, Option<String>), PageError> {
    let hint = match &p.id_token_hint {
        Some(h) => {
            Some(app.keys.verify_jws_any_age(h, "JWT", now).await.map_err(|_| bad("logout_error_bad_hint"))?)
        }
        None => None,
    };
    let hinted_client = hint.as_ref().and_then(|c| c["aud"].as_str().map(str::to_owned));
    if let (Some(a), Some(b)) = (&hinted_client, &p.client_id)
        && a != b
    {
        return Err(bad("logout_error_bad_hint"));
    }
    let client_id = hinted_client.or_else(|| p.client_id.clone());
    let target = match &p.post_logout_redirect_uri {
        None => None,
        Some(uri) => {
            let id = client_id.as_deref().ok_or(bad("logout_error_bad_redirect"))?;
            let client = client_store::find_client(&app.db, id)
                .await
                .map_err(PageError::internal)?
                .ok_or(bad("logout_error_bad_redirect"))?;
            if !client.post_logout_uri_allowed(uri) {
                return Err(bad("logout_error_bad_redirect"));
            }
            let mut target = uri.clone();
            if let Some(s) = &p.state {
                target.push(if target.contains('?') { '&' } else { '?' });
                target.push_str(
                    &form_urlencoded::Serializer::new(String::new()).append_pair("state", s).finish(),
                );
            }
            Some(target)
        }
    };
    Ok((hint, target))
}

async fn finish(
    app: &Arc<App>,
    session: Option<Session>,
    target: Option<String>,
    ip: &ClientIp,
    lang: Lang,
    now: i64,
) -> Response {
    let mut cookie = None;
    if let Some(s) = &session {
        cookie = Some(session::end(app, s).await);
        backchannel::notify(app, s, now).await;
        app.audit
            .log(
                now,
                audit::Entry {
                    event: "logout".into(),
                    outcome: "success".into(),
                    actor: Some(s.account_id.clone()),
                    ip: ip.audit(),
                    detail: serde_json::json!({ "sid_hash": ids::hash(&s.sid), "clients": s.clients }),
                    ..audit::Entry::default()
                },
            )
            .await;
    }
    let mut res = match target {
        Some(t) => Redirect::to(&t).into_response(),
        None => match app.templates.render("idp/logged_out.html", lang, &web::templates::Context::new()) {
            Ok(html) => Html(html).into_response(),
            Err(e) => PageError::internal(e).into_response(),
        },
    };
    if let Some(c) = cookie {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// `GET /logout`.
pub async fn get(
    State(state): State<AppState>,
    client_ip: ClientIp,
    headers: HeaderMap,
    lang: Lang,
    csrf: CsrfToken,
    Query(p): Query<Params>,
) -> Response {
    let app = &state.0;
    let now = state.0.clock.now();
    let (hint, target) = match check(app, &p, now).await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let session = session::current(app, &headers, now).await;
    let hint_matches = match (&hint, &session) {
        (Some(h), Some(s)) => h["sid"].as_str() == Some(ids::hash(&s.sid).as_str()),
        (Some(_), None) => true,
        _ => false,
    };
    if session.is_none() || hint_matches {
        return finish(app, session, target, &client_ip, lang, now).await;
    }
    let mut ctx = web::templates::Context::new();
    ctx.insert("csrf_token", &csrf.0);
    ctx.insert(
        "params",
        &serde_json::json!({
            "id_token_hint": p.id_token_hint, "post_logout_redirect_uri": p.post_logout_redirect_uri,
            "state": p.state, "client_id": p.client_id,
        }),
    );
    match app.templates.render("idp/logout.html", lang, &ctx) {
        Ok(html) => Html(html).into_response(),
        Err(e) => PageError::internal(e).into_response(),
    }
}

/// `POST /logout` (the confirmation form).
pub async fn post(
    State(state): State<AppState>,
    client_ip: ClientIp,
    headers: HeaderMap,
    lang: Lang,
    Form(p): Form<Params>,
) -> Response {
    let app = &state.0;
    let now = state.0.clock.now();
    let (_, target) = match check(app, &p, now).await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    if p.confirm.as_deref() != Some("yes") {
        return Redirect::to("/").into_response();
    }
    finish(app, session::current(app, &headers, now).await, target, &client_ip, lang, now).await
}
