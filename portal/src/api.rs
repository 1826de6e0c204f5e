//! The portal's API for programs: reader terminals at venues post card taps and read an event's
//! attendance (`/api/v1/events/{id}/attendance`), described by the OpenAPI document served at
//! `/api/v1/openapi.json` (`docs/openapi/portal-v1.json`).
//!
//! Callers present an access token of the idp (RFC 9068 JWT) that they get with the client
//! credentials grant and `resource` = the portal's public URL (RFC 8707), so its `aud` names the
//! portal: `attendance:write` to post, `attendance:read` to read. The portal verifies it with the
//! idp's JWK Set (cached, fetched again for an unknown key): `typ` `at+jwt`, signature, `iss` =
//! the idp, `aud` = the portal, `exp`. Tokens live five minutes; a revoked one is accepted until
//! it expires (the portal does not call the idp per request). Errors are problem+json; a refused
//! token also carries `WWW-Authenticate: Bearer error=…` (RFC 6750).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use web::ApiError;

use crate::store::events::find_event;
use crate::store::organizer::find_event_attendances;
use crate::taps::{MAX_CERTIFICATE_CHARS, TapInput, valid_id};
use crate::{App, AppState};

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("../../docs/openapi/portal-v1.json");

/// Most taps in one request.
pub const MAX_BATCH: usize = 500;

/// Largest request body (a batch of [`MAX_BATCH`] taps of real certificates fits).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// How a card was read by a reader terminal (the `method` of its taps).
pub const METHOD_DEVICE: &str = "device";

/// Seconds of clock leeway for `exp`.
const LEEWAY: i64 = 30;

/// The client behind a verified token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The client id (`client_id` claim).
    pub client_id: String,
}

fn token_error(status: StatusCode, error: &'static str, detail: &'static str) -> Response {
    let mut res = ApiError::status(status, detail).with_code(error).into_response();
    let challenge = format!("Bearer realm=\"shikaku-portal\", error=\"{error}\"");
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    res
}

/// The caller of a request with an access token carrying `scope`, or the answer to send.
pub async fn caller(app: &App, headers: &HeaderMap, scope: &str) -> Result<Caller, Response> {
    let invalid = |detail| token_error(StatusCode::UNAUTHORIZED, "invalid_token", detail);
    let Some(token) = web::surface::bearer_token(headers) else {
        return Err(invalid("an access token of the idp is required (Authorization: Bearer …)"));
    };
    let Ok(jws) = keys::jwk::parse(token) else {
        return Err(invalid("the access token is not a JWT"));
    };
    let alg = jws.header["alg"].as_str().unwrap_or("");
    if jws.header["typ"].as_str().map(str::to_ascii_lowercase).as_deref() != Some("at+jwt")
        || !["ES256", "RS256", "PS256"].contains(&alg)
    {
        return Err(invalid("the token is not an access token (typ at+jwt, ES256/RS256/PS256)"));
    }
    let kid = jws.header["kid"].as_str().unwrap_or("");
    let jwks = match app.idp_api.jwks(app, kid).await {
        Ok(set) => set,
        Err(e) => {
            tracing::warn!(error = %e, "cannot fetch the idp's JWK Set");
            return Err(ApiError::status(
                StatusCode::SERVICE_UNAVAILABLE,
                "the idp's keys cannot be fetched",
            )
            .with_code("idp_unavailable")
            .into_response());
        }
    };
    let verified = jwks["keys"].as_array().is_some_and(|keys| {
        keys.iter()
            .filter(|k| k["kid"].as_str() == Some(kid))
            .any(|k| keys::jwk::verify_with(k, alg, jws.signing_input.as_bytes(), &jws.signature))
    });
    if !verified {
        return Err(invalid("the access token's signature does not verify with the idp's keys"));
    }
    let c = &jws.claims;
    if c["iss"].as_str().map(|i| i.trim_end_matches('/')) != Some(app.config.idp_url.trim_end_matches('/')) {
        return Err(invalid("the access token was issued by another issuer"));
    }
    let me = app.site.public_url().trim_end_matches('/');
    let for_me = match &c["aud"] {
        Value::String(a) => a.trim_end_matches('/') == me,
        Value::Array(list) => list.iter().any(|a| a.as_str().is_some_and(|a| a.trim_end_matches('/') == me)),
        _ => false,
    };
    if !for_me {
        return Err(invalid(
            "the access token is not for this portal (ask the idp with resource = the portal's URL)",
        ));
    }
    if c["exp"].as_i64().is_none_or(|exp| exp + LEEWAY <= app.clock.now()) {
        return Err(invalid("the access token has expired"));
    }
    if !c["scope"].as_str().unwrap_or("").split(' ').any(|s| s == scope) {
        return Err(token_error(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "the access token lacks the scope this call needs",
        ));
    }
    let client_id = c["client_id"].as_str().unwrap_or("").to_owned();
    Ok(Caller { client_id })
}

/// `GET /api/v1/openapi.json`.
pub async fn openapi() -> Response {
    let mut res = OPENAPI.into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// One tap of a batch.
#[derive(Debug, Deserialize)]
pub struct DeviceTap {
    id: String,
    certificate: String,
    tapped_at: i64,
}

/// The body of a batch.
#[derive(Debug, Deserialize)]
pub struct Batch {
    records: Vec<DeviceTap>,
}

fn malformed(detail: &'static str) -> Response {
    ApiError::status(StatusCode::BAD_REQUEST, detail).with_code("batch_malformed").into_response()
}

async fn event_or_404(app: &App, id: &str) -> Result<crate::store::events::Event, Response> {
    match find_event(&app.probes.db, id).await {
        Ok(Some(e)) => Ok(e),
        Ok(None) => Err(ApiError::status(StatusCode::NOT_FOUND, "no such event")
            .with_code("event_unknown")
            .into_response()),
        Err(e) => Err(ApiError::internal(e).into_response()),
    }
}

/// `POST /api/v1/events/{id}/attendance`: a batch of taps, each recorded once by its id.
pub async fn post_attendance(
    State(state): State<AppState>,
    Path(event_id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<Batch>, JsonRejection>,
) -> Response {
    let app = &state.0;
    let caller = match caller(app, &headers, "attendance:write").await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let event = match event_or_404(app, &event_id).await {
        Ok(e) => e,
        Err(res) => return res,
    };
    let batch = match web::surface::json_body(body) {
        Ok(Some(b)) => b,
        Err(too_large) => return too_large.into_response(),
        Ok(None) => {
            return malformed(
                "the body must be JSON {\"records\": [{\"id\", \"certificate\", \"tapped_at\"}, …]}",
            );
        }
    };
    if batch.records.is_empty() || batch.records.len() > MAX_BATCH {
        return malformed("a batch holds 1 to 500 records");
    }
    let mut results = Vec::with_capacity(batch.records.len());
    for r in batch.records {
        let id = r.id.clone();
        if !valid_id(&r.id) || r.certificate.len() > MAX_CERTIFICATE_CHARS {
            results.push(json!({ "id": id, "error": { "code": "record_malformed",
                "detail": "id: 8-64 of A-Z a-z 0-9 -; certificate: base64 DER of at most 16 KiB" } }));
            continue;
        }
        let input = TapInput { id: r.id, tapped_at: r.tapped_at, certificate: r.certificate };
        match crate::taps::take(app, &event, input, &caller.client_id, METHOD_DEVICE).await {
            Ok(mut answer) => {
                answer["id"] = Value::String(id);
                results.push(answer);
            }
            // The idp is down: the terminal sends the whole batch again later (nothing doubles).
            Err(refusal) if refusal.retryable() => return refusal.problem().into_response(),
            Err(refusal) => {
                results
                    .push(json!({ "id": id, "error": { "code": refusal.code, "detail": refusal.detail } }));
            }
        }
    }
    Json(json!({ "results": results })).into_response()
}

/// `GET /api/v1/events/{id}/attendance`: the event's attendance records.
pub async fn get_attendance(
    State(state): State<AppState>,
    Path(event_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let app = &state.0;
    if let Err(res) = caller(app, &headers, "attendance:read").await {
        return res;
    }
    let event = match event_or_404(app, &event_id).await {
        Ok(e) => e,
        Err(res) => return res,
    };
    let records = match find_event_attendances(&app.probes.db, &event.id).await {
        Ok(r) => r,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let unlinked = match crate::store::taps::count_event_taps(&app.probes.db, &event.id).await {
        Ok((_, unlinked)) => unlinked,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let records: Vec<Value> = records
        .iter()
        .map(|a| {
            json!({
                "id": a.id,
                "registration_number": a.registration_number,
                "attended_on": a.attended_on.to_string(),
                "status": a.status.as_str(),
                "checked_in_at": a.checked_in_at,
                "checked_out_at": a.checked_out_at,
            })
        })
        .collect();
    Json(json!({ "event_id": event.id, "records": records, "unlinked_cards": unlinked })).into_response()
}
