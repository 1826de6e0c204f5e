//! QR check-in for online and hybrid sessions. The organizer shows
//! `GET /organizer/events/{id}/qr` (on a projector or a shared screen): a QR code of
//! `/attend/{id}?c=CODE` that changes every [`PERIOD`] seconds (the page reloads itself, no
//! script). CODE is a compact JWS signed with the portal's key (`typ` `attend+jwt`, the event and
//! an `exp` of two periods), so a screenshot stops working within a minute.
//!
//! A doctor scans it with a phone: `GET /attend/{id}?c=CODE` checks the code and trades it for a
//! scan proof (`attend-scan+jwt`, ten minutes, so that signing in with the card or a passkey
//! may take its time) in the redirect `…?s=PROOF`; signed out, the portal's sign-in returns
//! there. The signed-in doctor confirms with a button (`POST /attend/{id}`, CSRF), and their
//! attendance is recorded *provisional* with `source` `qr` and the check-in time, once (key
//! `qr:{event}:{number}`). Refusals are pages: an expired or foreign code (`qr_expired` 410), a
//! day that is not the event's, no confirmed registration-number link yet.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use qrcode::{Color, EcLevel, QrCode};
use serde_json::json;
use web::csrf::CsrfToken;
use web::templates::Context;
use web::{Lang, PageError};

use crate::AppState;
use crate::linking;
use crate::pages::{Organizer, SignedIn, event_or_404, render, store_error};
use crate::store::attendance::{self, NewAttendance, Status};
use crate::store::events::Event;
use crate::store::links::LinkStatus;

/// Seconds each QR code is shown; it stays valid one period more.
pub const PERIOD: i64 = 30;
/// How long a scan proof lets the doctor take to sign in and confirm.
pub const SCAN_TTL: i64 = 600;
/// `typ` of a QR code's JWS.
pub const CODE_TYP: &str = "attend+jwt";
/// `typ` of a scan proof.
pub const SCAN_TYP: &str = "attend-scan+jwt";
/// How a QR check-in is recorded (`attendances.source`).
pub const SOURCE_QR: &str = "qr";

async fn sign(state: &AppState, typ: &str, claims: &serde_json::Value) -> Result<String, PageError> {
    let app = &state.0;
    let key = app
        .documents
        .signer
        .keys()
        .signer(keys::SigningAlg::ES256, app.clock.now())
        .await
        .map_err(PageError::internal)?;
    key.sign_jws(typ, claims).map_err(PageError::internal)
}

/// The event of a code or proof `token` of type `typ`, if it verifies now.
async fn verified(state: &AppState, token: &str, typ: &str, event_id: &str) -> bool {
    let app = &state.0;
    match app.documents.signer.keys().verify_jws(token, typ, app.clock.now()).await {
        Ok(claims) => claims["event"].as_str() == Some(event_id),
        Err(_) => false,
    }
}

fn expired() -> PageError {
    PageError::new(StatusCode::GONE, "qr_expired_title", "qr_expired_message")
}

/// An SVG of `text` as a QR code: one `<rect>` per dark module, presentation attributes only
/// (the CSP forbids inline styles).
pub fn qr_svg(text: &str) -> Result<String, PageError> {
    let code =
        QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(PageError::internal)?;
    let width = code.width();
    let quiet = 4;
    let size = width + 2 * quiet;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" class=\"qr\" role=\"img\" \
         shape-rendering=\"crispEdges\"><rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path fill=\"#000\" d=\""
    );
    for (i, color) in code.to_colors().iter().enumerate() {
        if *color == Color::Dark {
            svg.push_str(&format!("M{} {}h1v1h-1z", i % width + quiet, i / width + quiet));
        }
    }
    svg.push_str("\"/></svg>");
    Ok(svg)
}

fn on_event_day(event: &Event, today: time::Date) -> bool {
    event.starts_on <= today && today <= event.ends_on
}

/// `GET /organizer/events/{id}/qr`: the rotating code.
pub async fn show(
    State(state): State<AppState>,
    _staff: Organizer,
    Path(id): Path<String>,
    lang: Lang,
) -> Result<Response, PageError> {
    let app = &state.0;
    let event = event_or_404(&state, &id).await?;
    let now = app.clock.now();
    let window = now.div_euclid(PERIOD) * PERIOD;
    let code =
        sign(&state, CODE_TYP, &json!({ "event": event.id, "iat": window, "exp": window + 2 * PERIOD }))
            .await?;
    let url = format!("{}/attend/{}?c={code}", app.site.public_url().trim_end_matches('/'), event.id);
    let mut ctx = Context::new();
    ctx.insert("event_id", &event.id);
    ctx.insert("title", &event.title);
    ctx.insert("url", &url);
    ctx.insert("qr_svg", &qr_svg(&url)?);
    ctx.insert("today", &on_event_day(&event, app.clock.today()));
    // Reloaded at the next change of code.
    ctx.insert("refresh", &(window + PERIOD - now).max(1));
    render(&state, "portal/qr.html", lang, &ctx)
}

/// `GET /attend/{id}?c=CODE` (scanned) or `?s=PROOF` (after the sign-in).
pub async fn attend_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    lang: Lang,
    csrf: CsrfToken,
    headers: axum::http::HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let app = &state.0;
    let event = event_or_404(&state, &id).await?;
    if let Some(code) = q.get("c") {
        if !verified(&state, code, CODE_TYP, &event.id).await {
            return Err(expired());
        }
        let now = app.clock.now();
        let proof =
            sign(&state, SCAN_TYP, &json!({ "event": event.id, "iat": now, "exp": now + SCAN_TTL })).await?;
        return Ok(Redirect::to(&format!("/attend/{}?s={proof}", event.id)).into_response());
    }
    let Some(proof) = q.get("s") else { return Err(expired()) };
    if !verified(&state, proof, SCAN_TYP, &event.id).await {
        return Err(expired());
    }
    let Some(session) = crate::signin::current(&state, &headers).await else {
        let next = format!("/attend/{}?s={proof}", event.id);
        let query = form_urlencoded::Serializer::new(String::new()).append_pair("next", &next).finish();
        return Ok(Redirect::to(&format!("/login?{query}")).into_response());
    };
    let link = linking::resolve(&app.probes.db, &session, app.clock.now()).await.map_err(store_error)?;
    let mut ctx = Context::new();
    ctx.insert("csrf_token", &csrf.0);
    ctx.insert("event_id", &event.id);
    ctx.insert("title", &event.title);
    ctx.insert("proof", proof);
    ctx.insert("name", &session.name);
    ctx.insert("today", &on_event_day(&event, app.clock.today()));
    ctx.insert("linked", &link.as_ref().is_some_and(|l| l.status == LinkStatus::Confirmed));
    ctx.insert("done", &false);
    render(&state, "portal/attend.html", lang, &ctx)
}

/// `POST /attend/{id}`: `s=PROOF`; records the signed-in doctor's attendance.
pub async fn attend_submit(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    lang: Lang,
    csrf: CsrfToken,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let app = &state.0;
    let event = event_or_404(&state, &id).await?;
    let proof = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "s")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if !verified(&state, &proof, SCAN_TYP, &event.id).await {
        return Err(expired());
    }
    let now = app.clock.now();
    let today = app.clock.today();
    if !on_event_day(&event, today) {
        return Err(PageError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "qr_not_today_title",
            "qr_not_today_message",
        ));
    }
    let link = linking::resolve(&app.probes.db, &session, now).await.map_err(store_error)?;
    let Some(link) = link.filter(|l| l.status == LinkStatus::Confirmed) else {
        return Err(PageError::new(StatusCode::FORBIDDEN, "qr_no_link_title", "qr_no_link_message")
            .with_back("/me/registration"));
    };
    let key = format!("qr:{}:{}", event.id, link.registration_number);
    let record = NewAttendance {
        idempotency_key: key.clone(),
        registration_number: link.registration_number.clone(),
        event_id: event.id.clone(),
        attended_on: today,
        status: Status::Provisional,
        source: SOURCE_QR.to_owned(),
        credits: event.credits.clone(),
    };
    let mut conn = app.probes.db.pool().acquire().await.map_err(PageError::internal)?;
    let new = attendance::create_attendances(&mut conn, std::slice::from_ref(&record), now)
        .await
        .map_err(store_error)?;
    if new > 0 {
        sqlx::query("UPDATE attendances SET checked_in_at = $1 WHERE id = $2")
            .bind(now)
            .bind(attendance::attendance_id(&key))
            .execute(&mut *conn)
            .await
            .map_err(PageError::internal)?;
    }
    let mut ctx = Context::new();
    ctx.insert("csrf_token", &csrf.0);
    ctx.insert("event_id", &event.id);
    ctx.insert("title", &event.title);
    ctx.insert("name", &session.name);
    ctx.insert("done", &true);
    ctx.insert("again", &(new == 0));
    ctx.insert("today", &true);
    ctx.insert("linked", &true);
    render(&state, "portal/attend.html", lang, &ctx)
}
