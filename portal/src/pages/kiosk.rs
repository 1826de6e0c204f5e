//! The venue kiosk (`/organizer/events/{id}/kiosk`): an organizer opens it for one event on a
//! touch screen beside a card reader. Doctors hold their card to the reader; the page
//! (`static/kiosk.js`) reads the authentication certificate through the card bridge
//! (`web-eid:get-certificate`, no PIN: the portal's origin is on the bridge's allow-list), keeps
//! the tap in the browser (IndexedDB) and posts it to `…/kiosk/taps`. The portal asks the idp
//! whether the card is genuine and current and whose it is (`POST /api/v1/card-reads`), then
//! records the tap ([`crate::store::taps`]): the first is the check-in, a later one the
//! check-out, each attendance provisional for the organizer's confirmation.
//!
//! `POST …/kiosk/taps` takes `{"id", "at", "certificate"}` (the kiosk's tap id, its time in Unix
//! milliseconds, base64 DER) with `X-CSRF-Token`, and answers `200 {"outcome": "check_in" |
//! "check_out" | "repeat", "linked", "name", "checked_in_at", "checked_out_at"}` or problem+json
//! with `code`: `401 not_signed_in`, `403 forbidden`, `404 event_unknown`, `400 tap_malformed`,
//! `422 tap_outside_event`, `409 tap_conflict`, the idp's refusal (`422 cert_revoked`,
//! `cert_expired`, `cert_untrusted`, …; `503 revocation_unavailable`) and `503
//! idp_unavailable`. Every answer but a refusal of the card leaves the tap in the kiosk's queue
//! to send again; a tap sent again changes nothing.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use web::csrf::CsrfToken;
use web::templates::Context;
use web::{ApiError, Lang, PageError};

use crate::AppState;
use crate::pages::organizer_events::dates_text;
use crate::pages::{Organizer, event_or_404, is_organizer, render};
use crate::signin;
use crate::store::events::find_event;
use crate::store::taps::METHOD_CARD_READ;
use crate::taps::{MAX_CERTIFICATE_CHARS, valid_id};

/// Largest tap body accepted (a certificate is about 3 KB of base64).
pub const MAX_TAP_BYTES: usize = 32 * 1024;

/// `GET /organizer/events/{id}/kiosk`.
pub async fn page(
    State(state): State<AppState>,
    _staff: Organizer,
    Path(id): Path<String>,
    lang: Lang,
    csrf: CsrfToken,
) -> Result<Response, PageError> {
    let event = event_or_404(&state, &id).await?;
    let mut ctx = Context::new();
    ctx.insert("csrf_token", &csrf.0);
    ctx.insert("event_id", &event.id);
    ctx.insert("title", &event.title);
    ctx.insert("dates", &dates_text(event.starts_on, event.ends_on));
    render(&state, "portal/kiosk.html", lang, &ctx)
}

/// A tap as the kiosk sends it.
#[derive(Debug, Deserialize)]
pub struct Tap {
    /// The kiosk's id for the tap (8–64 of `A-Z a-z 0-9 -`).
    id: String,
    /// When the card was read, Unix milliseconds of the kiosk's clock.
    at: i64,
    /// The authentication certificate, base64 DER.
    certificate: String,
}

fn problem(status: StatusCode, code: &'static str, detail: &'static str) -> Response {
    ApiError::status(status, detail).with_code(code).into_response()
}

/// `POST /organizer/events/{id}/kiosk/taps`.
pub async fn tap(
    State(state): State<AppState>,
    Path(event_id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<Tap>, JsonRejection>,
) -> Response {
    let app = &state.0;
    let Some(session) = signin::current(&state, &headers).await else {
        return problem(StatusCode::UNAUTHORIZED, "not_signed_in", "sign in to the portal again");
    };
    if !is_organizer(&session) {
        return problem(StatusCode::FORBIDDEN, "forbidden", "the kiosk is for organizers");
    }
    let event = match find_event(&app.probes.db, &event_id).await {
        Ok(Some(e)) => e,
        Ok(None) => return problem(StatusCode::NOT_FOUND, "event_unknown", "no such event"),
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let tap = match web::surface::json_body(body) {
        Ok(Some(t)) if valid_id(&t.id) && t.certificate.len() <= MAX_CERTIFICATE_CHARS => t,
        Err(too_large) => return too_large.into_response(),
        _ => {
            return problem(
                StatusCode::BAD_REQUEST,
                "tap_malformed",
                "the body must be JSON {\"id\": 8-64 of A-Z a-z 0-9 -, \"at\": Unix ms, \"certificate\": base64}",
            );
        }
    };
    let input = crate::taps::TapInput {
        id: tap.id,
        tapped_at: tap.at.div_euclid(1000),
        certificate: tap.certificate,
    };
    match crate::taps::take(app, &event, input, &session.sub, METHOD_CARD_READ).await {
        Ok(answer) => Json(answer).into_response(),
        Err(refusal) => refusal.problem().into_response(),
    }
}
