//! Emergency access (break-glass, MHLW guideline): when a doctor's card is lost or broken, an
//! operator issues a one-time emergency sign-in (`shikaku admin account emergency`, [`issue`])
//! with a reason, valid for a few hours. Its link opens `GET /login/emergency#TOKEN`; the page's
//! script posts the token (`POST /login/emergency`), which is used up and gives a session with
//! the lowest `acr`, [`EMERGENCY_ACR`] (`amr` `otp`). Clients that ask for more (`acr_values`,
//! `--min-acr`) do not accept it; each issue and use is audited and listed on the doctor's
//! `/account`. The token stays in the URL fragment, which no server log sees.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use web::csrf::CsrfToken;
use web::{ApiError, Lang, PageError};

use crate::app::{App, AppState};
use crate::rate_limit::ClientIp;
use crate::session::{self, Authentication};
use crate::signin::audit_failure;
use crate::store::accounts::{self, AccountKind, AccountStatus};
use crate::store::emergency::{self as store, Grant};
use crate::{audit, ids};

/// The `acr` of an emergency session: below the card's and a passkey's.
pub const EMERGENCY_ACR: &str = "emergency";
/// Default lifetime of an emergency sign-in.
pub const DEFAULT_TTL: Duration = Duration::from_secs(4 * 3600);
/// Longest lifetime an operator may give one.
pub const MAX_TTL: Duration = Duration::from_secs(12 * 3600);

/// An issued emergency sign-in.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The token the link carries (shown once).
    pub token: String,
    /// Unix seconds; unusable from then on.
    pub expires_at: i64,
}

/// Why an emergency sign-in cannot be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// No such account.
    #[error("no account {0:?}")]
    NoAccount(String),
    /// Staff accounts have no card to lose; they get a new invitation instead.
    #[error("account {0:?} is staff: use admin staff reinvite")]
    Staff(String),
    /// The account is suspended or removed.
    #[error("account {0:?} is {1}: resume it first")]
    NotActive(String, &'static str),
    /// The reason is empty or too long.
    #[error("the reason must be 1 to 500 characters")]
    Reason,
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The link of an emergency sign-in on the idp at `public_url`.
pub fn link(public_url: &str, token: &str) -> String {
    format!("{}/login/emergency#{token}", public_url.trim_end_matches('/'))
}

/// Issues a one-time emergency sign-in for a doctor's account.
pub async fn issue(
    db: &storage::Db,
    account_id: &str,
    reason: &str,
    issued_by: &str,
    ttl: Duration,
    now: i64,
) -> Result<Issued, IssueError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(IssueError::Reason);
    }
    let account = accounts::find_account(db, account_id)
        .await?
        .ok_or_else(|| IssueError::NoAccount(account_id.to_owned()))?;
    if account.kind == AccountKind::Staff {
        return Err(IssueError::Staff(account_id.to_owned()));
    }
    if account.status != AccountStatus::Active {
        return Err(IssueError::NotActive(account_id.to_owned(), account.status.as_str()));
    }
    let token = ids::new_secret();
    let ttl = ttl.min(MAX_TTL);
    let grant = Grant {
        token_hash: ids::hash(&token),
        account_id: account_id.to_owned(),
        reason: reason.to_owned(),
        issued_by: issued_by.to_owned(),
        created_at: now,
        expires_at: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
        used_at: None,
        used_ip: None,
    };
    store::create_grant(db, &grant).await?;
    Ok(Issued { token, expires_at: grant.expires_at })
}

/// `GET /login/emergency`: the page (the token is in the fragment, read by the script).
pub async fn page(
    State(state): State<AppState>,
    lang: Lang,
    csrf: CsrfToken,
) -> Result<Html<String>, PageError> {
    let app = &state.0;
    let mut ctx = web::templates::Context::new();
    ctx.insert("csrf_token", &csrf.0);
    app.templates.render("idp/emergency.html", lang, &ctx).map(Html).map_err(PageError::internal)
}

/// Body of `POST /login/emergency`.
#[derive(Debug, Deserialize)]
pub struct EmergencyLogin {
    token: String,
}

fn refusal(app: &App, lang: Lang, status: StatusCode, code: &'static str) -> Response {
    let detail = app.templates.text(lang, &format!("emergency_error_{code}")).to_owned();
    ApiError::typed(status, "emergency-sign-in", "Emergency sign-in refused", detail)
        .with_code(code)
        .into_response()
}

/// `POST /login/emergency`: uses the grant up and starts an emergency session.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    lang: Lang,
    client_ip: ClientIp,
    body: Result<Json<EmergencyLogin>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let app = &state.0;
    let now = app.clock.now();
    let ip = client_ip.audit();
    if let Err(res) = crate::signin::limit_sign_in(app, &client_ip, lang).await {
        return res;
    }
    let Ok(Json(body)) = body else {
        return refusal(app, lang, StatusCode::BAD_REQUEST, "malformed");
    };
    let hash = ids::hash(&body.token);
    let grant = match store::find_grant(&app.db, &hash).await {
        Ok(g) => g,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let Some(grant) = grant.filter(|g| g.used_at.is_none() && g.expires_at > now) else {
        audit_failure(app, now, ip, "emergency", "grant_unusable").await;
        return refusal(app, lang, StatusCode::GONE, "grant_unusable");
    };
    match accounts::find_account(&app.db, &grant.account_id).await {
        Ok(Some(a)) if a.status == AccountStatus::Active => {}
        Ok(_) => {
            audit_failure(app, now, ip, "emergency", "account_suspended").await;
            return refusal(app, lang, StatusCode::FORBIDDEN, "account_suspended");
        }
        Err(e) => return ApiError::internal(e).into_response(),
    }
    match store::update_grant_used(&app.db, &hash, ip.as_deref(), now).await {
        Ok(true) => {}
        Ok(false) => return refusal(app, lang, StatusCode::GONE, "grant_unusable"),
        Err(e) => return ApiError::internal(e).into_response(),
    }
    let auth =
        Authentication { auth_time: now, acr: EMERGENCY_ACR.into(), amr: vec!["otp".into()], card: None };
    let (session, cookie) =
        match crate::signin::replace_session(app, &headers, &grant.account_id, auth, client_ip.audit(), now)
            .await
        {
            Ok(v) => v,
            Err(res) => return res,
        };
    let entry = audit::Entry {
        event: "sign_in".into(),
        outcome: "success".into(),
        actor: Some(grant.account_id.clone()),
        ip,
        detail: serde_json::json!({ "method": "emergency", "issued_by": grant.issued_by, "reason": grant.reason, "sid_hash": ids::hash(&session.sid) }),
        ..audit::Entry::default()
    };
    app.audit.log(now, entry).await;
    let mut res = Json(serde_json::json!({ "next": "/account" })).into_response();
    session::set_cookie(res.headers_mut(), cookie);
    res
}
