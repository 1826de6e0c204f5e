//! `/shares`: a signed-in doctor shares chosen facts with a verifier who has no account — a link
//! (and its QR code) and a short code to type, with a lifetime of 10 minutes to 7 days, for one
//! view or any number — lists their shares, revokes one, and reads the log of every check.
//! The link and the code are shown once, when the share is made: only their hashes are kept
//! (`store::shares`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;
use web::csrf::CsrfToken;
use web::templates::Context;
use web::{Lang, PageError};

use crate::AppState;
use crate::linking;
use crate::pages::qr_check_in::qr_svg;
use crate::pages::{SignedIn, render_form, store_error};
use crate::signin::PortalSession;
use crate::store::links::LinkStatus;
use crate::store::shares::{self, FIELDS, LIFETIME_SECS, Share};

/// Lifetimes offered by the form, in seconds.
pub const LIFETIMES: [i64; 5] = [600, 3_600, 86_400, 3 * 86_400, 7 * 86_400];
/// Most shares listed.
const LIST: usize = 50;
/// Most log entries listed.
const LOG: i64 = 100;

#[derive(Debug, Serialize)]
struct ShareRow {
    id: String,
    created: String,
    expires: String,
    fields: Vec<String>,
    uses: String,
    /// `active`, `expired`, `revoked`, `used_up`.
    status: &'static str,
    /// The status in the page's language.
    status_label: String,
}

/// One verification-log entry as `/shares` and `/account` list it
/// (`portal/_verification_log.html`).
#[derive(Debug, Serialize)]
pub struct LogRow {
    at: String,
    kind: String,
    outcome: String,
    shown: Vec<String>,
    verifier_ip: String,
    verifier: Option<String>,
}

/// Unix seconds as `YYYY-MM-DD HH:MM` in Japan.
pub fn when(unix: i64) -> String {
    let jst = time::UtcOffset::from_hms(9, 0, 0).unwrap_or(time::UtcOffset::UTC);
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| t.to_offset(jst))
        .map(|t| {
            format!(
                "{}-{:02}-{:02} {:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_default()
}

fn status(s: &Share, now: i64) -> &'static str {
    shares::refusal(s, now).map_or("active", shares::Refusal::as_str)
}

/// The latest entries of `sub`'s verification log, in `lang`.
pub async fn log_rows(app: &crate::App, lang: Lang, sub: &str) -> Result<Vec<LogRow>, PageError> {
    let t = |key: &str| app.templates.text(lang, key).to_owned();
    Ok(shares::find_verifications(&app.probes.db, sub, LOG)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(|e| LogRow {
            at: when(e.at),
            kind: t(&format!("shares_kind_{}", e.kind)),
            outcome: t(&format!("shares_outcome_{}", e.outcome)),
            shown: e.shown.iter().map(|f| t(&format!("shares_field_{f}"))).collect(),
            verifier_ip: e.verifier_ip,
            verifier: e.verifier,
        })
        .collect())
}

/// The page: the form, the doctor's shares and their verification log; `made` is a share just
/// made with its link and code (shown this once).
async fn page(
    state: &AppState,
    session: &PortalSession,
    lang: Lang,
    csrf: &CsrfToken,
    made: Option<(String, String)>,
    error: Option<&'static str>,
) -> Result<Response, PageError> {
    let app = &state.0;
    let db = &app.probes.db;
    let now = app.clock.now();
    let t = |key: &str| app.templates.text(lang, key).to_owned();
    let field_label = |f: &str| t(&format!("shares_field_{f}"));
    let rows: Vec<ShareRow> = shares::find_shares(db, &session.sub)
        .await
        .map_err(store_error)?
        .into_iter()
        .take(LIST)
        .map(|s| ShareRow {
            created: when(s.created_at),
            expires: when(s.expires_at),
            fields: s.disclose.iter().map(|f| field_label(f)).collect(),
            uses: match s.max_uses {
                Some(m) => format!("{} / {m}", s.uses),
                None => s.uses.to_string(),
            },
            status: status(&s, now),
            status_label: t(&format!("shares_status_{}", status(&s, now))),
            id: s.id,
        })
        .collect();
    let log = log_rows(app, lang, &session.sub).await?;
    let fields: Vec<(&str, String)> = FIELDS.iter().map(|f| (*f, field_label(f))).collect();
    let lifetimes: Vec<(i64, String)> =
        LIFETIMES.iter().map(|s| (*s, t(&format!("shares_lifetime_{s}")))).collect();
    let mut ctx = Context::new();
    ctx.insert("csrf_token", &csrf.0);
    ctx.insert("has_card", &session.card.is_some());
    ctx.insert("fields", &fields);
    ctx.insert("lifetimes", &lifetimes);
    ctx.insert("shares", &rows);
    ctx.insert("log", &log);
    ctx.insert("form_error", &error);
    if let Some((token, code)) = made {
        let url = format!("{}/verify/{token}", app.site.public_url().trim_end_matches('/'));
        ctx.insert("made_qr", &qr_svg(&url)?);
        ctx.insert("made_url", &url);
        ctx.insert("made_code", &code);
    }
    let mut res = render_form(state, "portal/shares.html", lang, &ctx, error.is_some())?;
    if ctx.get("made_url").is_some() {
        // The link and the code are shown once; no cache keeps them.
        res.headers_mut()
            .insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    }
    Ok(res)
}

/// `GET /shares`.
pub async fn show(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    lang: Lang,
    csrf: CsrfToken,
) -> Result<Response, PageError> {
    page(&state, &session, lang, &csrf, None, None).await
}

/// `POST /shares`: `field` (one per disclosed field), `lifetime` (seconds, one of
/// [`LIFETIMES`]), `uses` (`once` or `many`).
pub async fn create(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    lang: Lang,
    csrf: CsrfToken,
    body: Bytes,
) -> Result<Response, PageError> {
    let app = &state.0;
    let Some(card) = session.card.clone() else {
        return page(&state, &session, lang, &csrf, None, Some("shares_error_no_card")).await;
    };
    let (mut fields, mut lifetime, mut uses) = (Vec::new(), None, None);
    for (k, v) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "field" => {
                if let Some(f) = FIELDS.iter().find(|f| **f == v)
                    && !fields.iter().any(|x| x == f)
                {
                    fields.push((*f).to_owned());
                }
            }
            "lifetime" => lifetime = v.parse::<i64>().ok().filter(|s| LIFETIME_SECS.contains(s)),
            "uses" => uses = Some(v.into_owned()),
            _ => {}
        }
    }
    if fields.is_empty() {
        return page(&state, &session, lang, &csrf, None, Some("shares_error_no_field")).await;
    }
    let (Some(lifetime), Some(max_uses)) = (
        lifetime,
        match uses.as_deref() {
            Some("once") => Some(Some(1)),
            Some("many") => Some(None),
            _ => None,
        },
    ) else {
        return page(&state, &session, lang, &csrf, None, Some("shares_error_form")).await;
    };
    let db = &app.probes.db;
    let now = app.clock.now();
    let registration_number = match linking::resolve(db, &session, now).await.map_err(store_error)? {
        Some(link) if link.status == LinkStatus::Confirmed => Some(link.registration_number),
        _ => None,
    };
    if registration_number.is_none()
        && fields.iter().any(|f| f == "registration_number" || f == "kana" || f == "credits")
    {
        return page(&state, &session, lang, &csrf, None, Some("shares_error_no_link")).await;
    }
    // Keep the fields in the page's order.
    fields.sort_by_key(|f| FIELDS.iter().position(|x| x == f));
    let share = Share {
        id: crate::documents::new_id(),
        owner_sub: session.sub.clone(),
        registration_number,
        card_issuer: card.issuer,
        card_subscriber: card.subscriber_id,
        disclose: fields,
        max_uses,
        uses: 0,
        created_at: now,
        expires_at: now + lifetime,
        revoked_at: None,
    };
    let (token, code) = shares::new_secrets();
    shares::create_share(db, &share, &token, &code).await.map_err(store_error)?;
    tracing::info!(share = %share.id, fields = %share.disclose.join(","), lifetime, "share made");
    page(&state, &session, lang, &csrf, Some((token, code)), None).await
}

/// `POST /shares/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let app = &state.0;
    if !shares::revoke_share(&app.probes.db, &id, &session.sub, app.clock.now()).await.map_err(store_error)? {
        return Err(PageError::new(
            StatusCode::NOT_FOUND,
            "shares_not_found_title",
            "shares_not_found_message",
        ));
    }
    tracing::info!(share = %id, "share revoked");
    Ok(Redirect::to("/shares").into_response())
}
