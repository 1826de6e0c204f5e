//! Taking one card tap, whoever read the card (the venue kiosk, a reader terminal through the
//! API): the tap's time must fall on a day of the event, the idp must accept the certificate
//! (`POST /api/v1/card-reads`), and the registry links the holder's registration number when it
//! has the doctor; then [`crate::store::taps::record_tap`] records it.

use std::borrow::Cow;

use axum::http::StatusCode;
use serde_json::{Value, json};
use web::ApiError;

use crate::App;
use crate::idp_api::CardReadError;
use crate::store::StoreError;
use crate::store::doctors::find_doctor;
use crate::store::events::Event;
use crate::store::taps::{self, NewTap};

/// How far ahead of the server's clock a reader's clock may be.
pub const CLOCK_SKEW_SECS: i64 = 300;

/// Longest certificate accepted, as base64.
pub use crate::idp_api::MAX_CERTIFICATE_CHARS;

/// A tap as a reader sends it.
#[derive(Debug, Clone)]
pub struct TapInput {
    /// The reader's id for the tap ([`valid_id`]).
    pub id: String,
    /// When the card was read (Unix seconds, the reader's clock).
    pub tapped_at: i64,
    /// The authentication certificate, base64 DER.
    pub certificate: String,
}

/// Why a tap was not recorded: the answer's status and stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status of a single-tap answer.
    pub status: StatusCode,
    /// Stable code (`tap_outside_event`, `cert_revoked`, `idp_unavailable`, …).
    pub code: String,
    /// What went wrong, in English.
    pub detail: Cow<'static, str>,
}

impl Refusal {
    fn new(status: StatusCode, code: &str, detail: &'static str) -> Self {
        Self { status, code: code.to_owned(), detail: Cow::Borrowed(detail) }
    }

    /// 500, the cause logged with an error id that the detail names (as [`ApiError::internal`]).
    fn internal(cause: impl std::fmt::Display) -> Self {
        let e = ApiError::internal(cause);
        let detail = e.detail.unwrap_or(Cow::Borrowed("internal error"));
        Self { status: StatusCode::INTERNAL_SERVER_ERROR, code: "internal".to_owned(), detail }
    }

    /// Whether sending the tap again later can succeed (the idp or revocation data is down).
    pub fn retryable(&self) -> bool {
        self.status == StatusCode::SERVICE_UNAVAILABLE || self.status.is_server_error()
    }

    /// The problem+json answer.
    pub fn problem(&self) -> ApiError {
        ApiError::status(self.status, self.detail.clone()).with_code(self.code.clone())
    }
}

/// A tap id: 8–64 of `A-Z a-z 0-9 -` (a UUID fits).
pub fn valid_id(id: &str) -> bool {
    (8..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Records `tap` at `event`, read by `recorded_by` (an organizer's subject or a reader
/// client's id) with `method`; returns the answer's JSON.
pub async fn take(
    app: &App,
    event: &Event,
    tap: TapInput,
    recorded_by: &str,
    method: &'static str,
) -> Result<Value, Refusal> {
    let now = app.clock.now();
    let opens = keys::clock::noon_in_japan(event.starts_on) - 12 * 3600;
    let closes = keys::clock::noon_in_japan(event.ends_on) + 12 * 3600;
    if tap.tapped_at < opens || tap.tapped_at >= closes || tap.tapped_at > now + CLOCK_SKEW_SECS {
        return Err(Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "tap_outside_event",
            "the tap's time is not on a day of the event (or the reader's clock is wrong)",
        ));
    }
    let holder = match app.idp_api.read_card(app, &tap.certificate).await {
        Ok(h) => h,
        Err(CardReadError::Refused(code)) => {
            let status = if code == "revocation_unavailable" {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            return Err(Refusal::new(status, &code, "the idp refused the card"));
        }
        Err(e @ CardReadError::Unavailable(_)) => {
            tracing::warn!(error = %e, "card read failed");
            return Err(Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "idp_unavailable",
                "the idp cannot be reached; keep the tap and send it again",
            ));
        }
    };
    // A registration number links the tap only when the portal's registry has the doctor.
    let number = match &holder.medical_registration_number {
        Some(n) => {
            find_doctor(&app.probes.db, n).await.map_err(Refusal::internal)?.map(|d| d.registration_number)
        }
        None => None,
    };
    let new = NewTap {
        id: tap.id,
        event_id: event.id.clone(),
        card_issuer: holder.issuer,
        card_subscriber: holder.subscriber_id,
        holder_name: holder.name.clone().or_else(|| holder.name_latin.clone()),
        registration_number: number,
        tapped_at: tap.tapped_at,
        recorded_by: recorded_by.to_owned(),
        method,
    };
    match taps::record_tap(&app.probes.db, &new, event, now).await {
        Ok(r) => Ok(json!({
            "outcome": r.kind.as_str(),
            "linked": r.linked,
            "name": new.holder_name,
            "tapped_at": r.tapped_at,
            "checked_in_at": r.checked_in_at,
            "checked_out_at": r.checked_out_at,
        })),
        Err(StoreError::Conflict(_)) => Err(Refusal::new(
            StatusCode::CONFLICT,
            "tap_conflict",
            "this tap id was recorded for another card or event",
        )),
        Err(e) => Err(Refusal::internal(e)),
    }
}
