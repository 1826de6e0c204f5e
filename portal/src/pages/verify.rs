//! `/verify`: a verifier with no account checks what a doctor shared (`/shares`), as of now.
//!
//! - `GET /verify/{token}` (the link, or its QR code) names the share and its expiry and asks to
//!   confirm; `POST /verify/{token}` (the button) shows it. A GET takes no view, so a mail
//!   scanner or link preview does not use up a single-use share.
//! - `GET /verify` is the form for the short code; `POST /verify` shows the share of a typed
//!   code. Code entries are limited per client address ([`CODE_LIMIT`]).
//!
//! A view first asks the idp whether the card is valid now (`POST /api/v1/card-status`: chain,
//! validity, revocation); only then is a view taken, so a check the idp cannot answer (503) or a
//! card that is no longer valid uses nothing. Every view and every refusal of a known share is an
//! entry of the doctor's verification log, with the verifier's true address and, when the
//! verifier is signed-in staff, who.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use web::csrf::CsrfToken;
use web::templates::Context;
use web::{Lang, PageError};

use crate::credits::{FiscalYear, Units};
use crate::idp_api::{CardHolder, CardReadError};
use crate::pages::{ClientIp, render, store_error};
use crate::store::shares::{self, LogEntry, Refusal, Secret, Share};
use crate::store::{attendance, doctors, systems};
use crate::{App, AppState, kv_keys, roles, signin};

/// Short-code entries allowed per client address: 20 per 10 minutes. The codes have 40 bits,
/// so guessing one of the live codes is out of reach at this rate.
pub const CODE_LIMIT: (u64, Duration) = (20, Duration::from_secs(600));

const TEMPLATE: &str = "portal/verify_share.html";

/// Why a view shows nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// The share is refused ([`Refusal`]).
    Share(Refusal),
    /// The card is revoked.
    CardRevoked,
    /// The card's certificate is past its validity.
    CardExpired,
    /// The card is not a valid HPKI card now (untrusted, unknown to the idp, …).
    CardInvalid,
}

impl Refused {
    fn key(self) -> &'static str {
        match self {
            Self::Share(r) => r.as_str(),
            Self::CardRevoked => "card_revoked",
            Self::CardExpired => "card_expired",
            Self::CardInvalid => "card_invalid",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Self::Share(Refusal::Unknown) => StatusCode::NOT_FOUND,
            _ => StatusCode::GONE,
        }
    }

    /// The outcome in the verification log.
    fn outcome(self) -> &'static str {
        match self {
            Self::Share(r) => r.as_str(),
            _ => "card_refused",
        }
    }
}

/// One line of the credits summary.
#[derive(Debug, Serialize)]
struct CreditLine {
    system: String,
    this_year: String,
    total: String,
}

/// What the page shows of a share, each field only when disclosed.
#[derive(Debug, Default, Serialize)]
struct Shown {
    name: Option<String>,
    name_latin: Option<String>,
    kana: Option<String>,
    qualification: Option<String>,
    registration_number: Option<String>,
    /// The certificate's last day (JST), when validity is disclosed.
    valid_until: Option<String>,
    credits: Option<Vec<CreditLine>>,
    fiscal_year: Option<i32>,
}

fn time_jst(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| t.to_offset(keys::clock::JST))
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

fn date_jst(unix: i64) -> String {
    time_jst(unix).split(' ').next().unwrap_or_default().to_owned()
}

/// The page with `stage` (`code`, `confirm`, `shown`, `refused`, `unavailable`) and `status`.
fn page(state: &AppState, lang: Lang, status: StatusCode, ctx: &mut Context) -> Result<Response, PageError> {
    let mut res = render(state, TEMPLATE, lang, ctx)?;
    *res.status_mut() = status;
    // What a share shows is as of now, and personal: no cache keeps it.
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

fn context(csrf: &CsrfToken, stage: &str) -> Context {
    let mut ctx = Context::new();
    ctx.insert("csrf_token", &csrf.0);
    ctx.insert("stage", stage);
    ctx
}

fn refused_page(state: &AppState, lang: Lang, csrf: &CsrfToken, why: Refused) -> Result<Response, PageError> {
    let mut ctx = context(csrf, "refused");
    let t = |key: String| state.0.templates.text(lang, &key).to_owned();
    ctx.insert("refused_title", &t(format!("check_refused_{}_title", why.key())));
    ctx.insert("refused_detail", &t(format!("check_refused_{}_detail", why.key())));
    ctx.insert("refused", why.key());
    page(state, lang, why.status(), &mut ctx)
}

/// The verifier as the log names them: signed-in staff by name and role; anyone else by address
/// only.
async fn verifier(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let session = signin::current(state, headers).await?;
    if session.roles.is_empty() {
        return None;
    }
    let who = session.name.clone().unwrap_or_else(|| session.sub.clone());
    Some(format!("{who} ({})", session.roles.join(", ")))
}

async fn log(
    state: &AppState,
    headers: &HeaderMap,
    ip: &ClientIp,
    share: &Share,
    outcome: &str,
    shown: &[String],
) -> Result<(), PageError> {
    let owner = (share.owner_sub.as_str(), Some(share.id.as_str()));
    log_entry(state, headers, ip, owner, "share", outcome, shown).await
}

/// Appends to `owner`'s verification log (owner sub, share id) what the verifier at `ip` saw.
async fn log_entry(
    state: &AppState,
    headers: &HeaderMap,
    ip: &ClientIp,
    owner: (&str, Option<&str>),
    kind: &str,
    outcome: &str,
    shown: &[String],
) -> Result<(), PageError> {
    let app = &state.0;
    let entry = LogEntry {
        owner_sub: owner.0.to_owned(),
        share_id: owner.1.map(str::to_owned),
        kind: kind.into(),
        outcome: outcome.into(),
        shown: shown.to_vec(),
        verifier_ip: ip.text(),
        verifier: verifier(state, headers).await,
        at: app.clock.now(),
    };
    shares::record_verification(&app.probes.db, &entry).await.map_err(store_error)?;
    tracing::info!(share = ?owner.1, kind, outcome, verifier_ip = %entry.verifier_ip, "verification");
    Ok(())
}

/// How long the challenge of an in-person check may wait for the card.
pub const CHECK_NONCE_TTL: Duration = Duration::from_secs(300);

/// The fields an in-person check shows: the card's, no records.
const IN_PERSON_FIELDS: [&str; 3] = ["name", "qualification", "validity"];

fn in_person_form(
    state: &AppState,
    lang: Lang,
    csrf: &CsrfToken,
    status: StatusCode,
    error: Option<&str>,
) -> Result<Response, PageError> {
    let mut ctx = context(csrf, "in_person");
    ctx.insert("bridge_url", &format!("{}/bridge", state.0.config.idp_url.trim_end_matches('/')));
    ctx.insert("form_error", &error);
    page(state, lang, status, &mut ctx)
}

/// `GET /verify/in-person`: the doctor, at the verifier's computer, holds the card to the reader
/// and enters the PIN (the card bridge's `authenticate` over a fresh challenge).
pub async fn in_person(
    State(state): State<AppState>,
    lang: Lang,
    csrf: CsrfToken,
) -> Result<Response, PageError> {
    in_person_form(&state, lang, &csrf, StatusCode::OK, None)
}

/// `GET /verify/in-person/challenge`: `{"nonce"}`, kept [`CHECK_NONCE_TTL`] and usable once.
pub async fn in_person_challenge(State(state): State<AppState>) -> Response {
    use base64::Engine;
    let nonce = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
    let key = kv_keys::check_nonce(&shares::secret_hash(&nonce));
    if let Err(e) = state.0.probes.kv.set(&key, b"1", CHECK_NONCE_TTL).await {
        tracing::warn!(error = %e, "in-person challenge: the key-value store is unavailable");
        return web::ApiError::status(StatusCode::SERVICE_UNAVAILABLE, "the challenge cannot be kept now")
            .with_code("unavailable")
            .into_response();
    }
    let mut res = axum::Json(serde_json::json!({ "nonce": nonce })).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `POST /verify/in-person`: `auth_token` (the card's Web eID token, JSON) and `nonce`, as the
/// page's script puts them in the form. The idp checks the signature over this portal's origin
/// and the nonce, and the card; the page shows the card's name, qualification and validity.
/// Nothing is stored but the entry in the card holder's verification log.
pub async fn in_person_submit(
    State(state): State<AppState>,
    lang: Lang,
    csrf: CsrfToken,
    ip: ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let app = &state.0;
    let (mut token, mut nonce) = (None, None);
    for (k, v) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "auth_token" => {
                token = serde_json::from_str::<serde_json::Value>(&v).ok().filter(|t| t.is_object())
            }
            "nonce" => nonce = Some(v.into_owned()),
            _ => {}
        }
    }
    let (Some(token), Some(nonce)) = (token, nonce) else {
        return in_person_form(
            &state,
            lang,
            &csrf,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("check_in_person_error_form"),
        );
    };
    let key = kv_keys::check_nonce(&shares::secret_hash(&nonce));
    match app.probes.kv.take(&key).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            let error = Some("check_in_person_error_expired");
            return in_person_form(&state, lang, &csrf, StatusCode::UNPROCESSABLE_ENTITY, error);
        }
        Err(e) => {
            tracing::warn!(error = %e, "in-person check: the key-value store is unavailable");
            return page(&state, lang, StatusCode::SERVICE_UNAVAILABLE, &mut context(&csrf, "unavailable"));
        }
    }
    let holder = match app.idp_api.card_proof(app, &token, app.site.origin(), &nonce).await {
        Ok(holder) => holder,
        Err(CardReadError::Refused(code)) if code != "revocation_unavailable" => {
            // The token's certificate is not trusted here, so no one's log gets the entry.
            tracing::info!(code = %code, "in-person check refused by the idp");
            let why = match code.as_str() {
                "cert_revoked" => Refused::CardRevoked,
                "cert_expired" | "cert_not_yet_valid" => Refused::CardExpired,
                _ => Refused::CardInvalid,
            };
            return refused_page(&state, lang, &csrf, why);
        }
        Err(e) => {
            tracing::warn!(error = %e, "in-person check: the card cannot be checked now");
            return page(&state, lang, StatusCode::SERVICE_UNAVAILABLE, &mut context(&csrf, "unavailable"));
        }
    };
    let owner = shares::card_owner(&app.probes.db, &holder.issuer, &holder.subscriber_id)
        .await
        .map_err(store_error)?;
    let fields: Vec<String> = IN_PERSON_FIELDS.iter().map(|f| (*f).to_owned()).collect();
    log_entry(&state, &headers, &ip, (&owner, None), "in_person", "shown", &fields).await?;
    let shown = Shown {
        name: holder.name.clone(),
        name_latin: holder.name_latin.clone(),
        qualification: Some(
            holder.hc_roles.iter().map(|r| roles::hc_role_name(r, lang)).collect::<Vec<_>>().join("、"),
        ),
        valid_until: holder.not_after.map(date_jst),
        ..Shown::default()
    };
    let mut ctx = context(&csrf, "in_person_shown");
    ctx.insert("shown", &shown);
    ctx.insert("checked_at", &time_jst(holder.checked_at.unwrap_or_else(|| app.clock.now())));
    page(&state, lang, StatusCode::OK, &mut ctx)
}

/// `GET /verify`: the short-code form.
pub async fn code_form(
    State(state): State<AppState>,
    lang: Lang,
    csrf: CsrfToken,
) -> Result<Response, PageError> {
    page(&state, lang, StatusCode::OK, &mut context(&csrf, "code"))
}

/// `POST /verify`: `code`, the short code as typed.
pub async fn code_submit(
    State(state): State<AppState>,
    lang: Lang,
    csrf: CsrfToken,
    ip: ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let app = &state.0;
    let typed = form_urlencoded::parse(&body).find(|(k, _)| k == "code").map(|(_, v)| v.into_owned());
    let form_error = |status: StatusCode, key: &str, typed: Option<&str>| {
        let mut ctx = context(&csrf, "code");
        ctx.insert("form_error", key);
        ctx.insert("typed", &typed.unwrap_or_default().chars().take(32).collect::<String>());
        page(&state, lang, status, &mut ctx)
    };
    if let Err(retry_after) = hit_code_limit(app, &ip).await {
        let mut res = form_error(StatusCode::TOO_MANY_REQUESTS, "check_error_rate_limited", None)?;
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        return Ok(res);
    }
    let Some(code) = typed.as_deref().and_then(shares::normalize_code) else {
        return form_error(StatusCode::UNPROCESSABLE_ENTITY, "check_error_code_format", typed.as_deref());
    };
    view(&state, lang, &csrf, &ip, &headers, Secret::Code(&code)).await
}

/// Counts a code entry of `ip`; over [`CODE_LIMIT`], the seconds until the window closes. When
/// the key-value store is down the limit is not applied (logged).
async fn hit_code_limit(app: &App, ip: &ClientIp) -> Result<(), u64> {
    let key = kv_keys::rate_limit("verify-code", &shares::secret_hash(&ip.text()));
    match app.probes.kv.incr_window(&key, CODE_LIMIT.1).await {
        Ok(w) if w.count > CODE_LIMIT.0 => {
            tracing::info!(count = w.count, "verify code rate limit reached");
            Err((w.resets_in.as_secs() + u64::from(w.resets_in.subsec_nanos() > 0)).max(1))
        }
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::warn!(error = %e, "verify code rate limit not applied: key-value store unavailable");
            Ok(())
        }
    }
}

/// `GET /verify/{token}`: the share's confirmation step (or why it is refused).
pub async fn link(
    State(state): State<AppState>,
    Path(token): Path<String>,
    lang: Lang,
    csrf: CsrfToken,
    ip: ClientIp,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let app = &state.0;
    let share = shares::find_share(&app.probes.db, Secret::Token(&token)).await.map_err(store_error)?;
    let Some(share) = share else {
        return refused_page(&state, lang, &csrf, Refused::Share(Refusal::Unknown));
    };
    if let Some(why) = shares::refusal(&share, app.clock.now()) {
        log(&state, &headers, &ip, &share, why.as_str(), &[]).await?;
        return refused_page(&state, lang, &csrf, Refused::Share(why));
    }
    let mut ctx = context(&csrf, "confirm");
    ctx.insert("action", &format!("/verify/{token}"));
    ctx.insert("expires", &time_jst(share.expires_at));
    ctx.insert("single_use", &(share.max_uses == Some(1)));
    page(&state, lang, StatusCode::OK, &mut ctx)
}

/// `POST /verify/{token}`: shows the share.
pub async fn link_submit(
    State(state): State<AppState>,
    Path(token): Path<String>,
    lang: Lang,
    csrf: CsrfToken,
    ip: ClientIp,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    view(&state, lang, &csrf, &ip, &headers, Secret::Token(&token)).await
}

/// Checks the card of the share with `secret` at the idp, takes a view and shows what the share
/// discloses.
async fn view(
    state: &AppState,
    lang: Lang,
    csrf: &CsrfToken,
    ip: &ClientIp,
    headers: &HeaderMap,
    secret: Secret<'_>,
) -> Result<Response, PageError> {
    let app = &state.0;
    let db = &app.probes.db;
    let Some(share) = shares::find_share(db, secret).await.map_err(store_error)? else {
        return refused_page(state, lang, csrf, Refused::Share(Refusal::Unknown));
    };
    if let Some(why) = shares::refusal(&share, app.clock.now()) {
        log(state, headers, ip, &share, why.as_str(), &[]).await?;
        return refused_page(state, lang, csrf, Refused::Share(why));
    }
    let holder = match app.idp_api.card_status(app, &share.card_issuer, &share.card_subscriber).await {
        Ok(holder) => holder,
        Err(CardReadError::Refused(code)) if code != "revocation_unavailable" => {
            tracing::info!(share = %share.id, code = %code, "share's card refused by the idp");
            let why = match code.as_str() {
                "cert_revoked" => Refused::CardRevoked,
                "cert_expired" | "cert_not_yet_valid" => Refused::CardExpired,
                _ => Refused::CardInvalid,
            };
            log(state, headers, ip, &share, why.outcome(), &[]).await?;
            return refused_page(state, lang, csrf, why);
        }
        Err(e) => {
            tracing::warn!(share = %share.id, error = %e, "share not shown: the card cannot be checked now");
            return page(state, lang, StatusCode::SERVICE_UNAVAILABLE, &mut context(csrf, "unavailable"));
        }
    };
    let share = match shares::use_share(db, secret, app.clock.now()).await.map_err(store_error)? {
        Ok(share) => share,
        Err(why) => {
            if why != Refusal::Unknown {
                log(state, headers, ip, &share, why.as_str(), &[]).await?;
            }
            return refused_page(state, lang, csrf, Refused::Share(why));
        }
    };
    let shown = disclosed(app, lang, &share, &holder).await?;
    log(state, headers, ip, &share, "shown", &share.disclose).await?;
    let mut ctx = context(csrf, "shown");
    ctx.insert("shown", &shown);
    ctx.insert("checked_at", &time_jst(holder.checked_at.unwrap_or_else(|| app.clock.now())));
    ctx.insert("expires", &time_jst(share.expires_at));
    ctx.insert("uses_left", &share.max_uses.map(|m| (m - share.uses).max(0)));
    page(state, lang, StatusCode::OK, &mut ctx)
}

/// The disclosed fields of `share`: the card's facts from the idp's answer, the kana name and
/// credits from the portal's records.
async fn disclosed(app: &App, lang: Lang, share: &Share, holder: &CardHolder) -> Result<Shown, PageError> {
    let db = &app.probes.db;
    let has = |f: &str| share.disclose.iter().any(|d| d == f);
    let mut shown = Shown::default();
    if has("name") {
        shown.name = holder.name.clone();
        shown.name_latin = holder.name_latin.clone();
    }
    if has("qualification") {
        let names: Vec<&str> = holder.hc_roles.iter().map(|r| roles::hc_role_name(r, lang)).collect();
        shown.qualification = Some(names.join("、"));
    }
    if has("validity") {
        shown.valid_until = holder.not_after.map(date_jst);
    }
    let Some(number) = share.registration_number.as_deref() else { return Ok(shown) };
    if has("registration_number") {
        shown.registration_number = Some(number.to_owned());
    }
    if has("kana") {
        shown.kana = doctors::find_doctor(db, number).await.map_err(store_error)?.map(|d| d.kana_name);
    }
    if has("credits") {
        let (lines, systems) =
            tokio::try_join!(attendance::find_confirmed_credits(db, number), systems::find_systems(db))
                .map_err(store_error)?;
        let year = FiscalYear::of(app.clock.today());
        let mut sums: BTreeMap<&str, (Units, Units)> = BTreeMap::new();
        for l in &lines {
            let sum = sums.entry(l.system_id.as_str()).or_default();
            sum.1 += l.units;
            if FiscalYear::of(l.date) == year {
                sum.0 += l.units;
            }
        }
        let credits = systems
            .iter()
            .filter_map(|s| {
                let (this_year, total) = sums.get(s.id.as_str())?;
                Some(CreditLine {
                    system: if lang == Lang::Ja { s.name_ja.clone() } else { s.name_en.clone() },
                    this_year: this_year.to_string(),
                    total: total.to_string(),
                })
            })
            .collect();
        shown.credits = Some(credits);
        shown.fiscal_year = Some(year.0);
    }
    Ok(shown)
}
