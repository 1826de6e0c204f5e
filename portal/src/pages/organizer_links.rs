//! `/organizer/links`: an organizer (staff role `organizer` or `operator`) confirms or rejects
//! the registration numbers doctors entered, several at once.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use web::csrf::CsrfToken;
use web::templates::Context;
use web::{Lang, PageError};

use crate::AppState;
use crate::pages::{Organizer, notice as notice_of, render_form, store_error};
use crate::store::doctors::find_doctors;
use crate::store::links::{LinkStatus, find_links_by_status, update_pending_links};

/// Most pending links shown at once.
const PAGE_SIZE: i64 = 200;

/// Query of the page after a decision.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    count: Option<u64>,
}

#[derive(Debug, Serialize)]
struct Row {
    sub: String,
    registration_number: String,
    claimed_name: Option<String>,
    registry_name: Option<String>,
    registry_kana: Option<String>,
    in_registry: bool,
    entered_at: String,
}

fn day(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| t.to_offset(time::UtcOffset::from_hms(9, 0, 0).unwrap_or(time::UtcOffset::UTC)))
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

async fn page(
    state: &AppState,
    lang: Lang,
    csrf: &CsrfToken,
    notice: Option<(&'static str, u64)>,
    error: Option<&'static str>,
) -> Result<Response, PageError> {
    let db = &state.0.probes.db;
    let links = find_links_by_status(db, LinkStatus::Pending, PAGE_SIZE).await.map_err(store_error)?;
    let numbers: Vec<&str> = links.iter().map(|l| l.registration_number.as_str()).collect();
    let mut conn = db.pool().acquire().await.map_err(PageError::internal)?;
    let doctors = find_doctors(&mut conn, &numbers).await.map_err(store_error)?;
    drop(conn);
    let rows: Vec<Row> = links
        .iter()
        .map(|l| {
            let d = doctors.get(&l.registration_number);
            Row {
                sub: l.sub.clone(),
                registration_number: l.registration_number.clone(),
                claimed_name: l.claimed_name.clone(),
                registry_name: d.and_then(|d| d.name.clone()),
                registry_kana: d.map(|d| d.kana_name.clone()),
                in_registry: d.is_some(),
                entered_at: day(l.created_at),
            }
        })
        .collect();
    let mut ctx = Context::new();
    ctx.insert("csrf_token", &csrf.0);
    ctx.insert("rows", &rows);
    ctx.insert("notice", &notice_of(notice));
    ctx.insert("form_error", &error);
    render_form(state, "portal/organizer_links.html", lang, &ctx, error.is_some())
}

/// `GET /organizer/links`: pending links, oldest first.
pub async fn show(
    State(state): State<AppState>,
    _staff: Organizer,
    lang: Lang,
    csrf: CsrfToken,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let notice = match (done.done.as_deref(), done.count) {
        (Some("confirm"), Some(n)) => Some(("links_done_confirmed", n)),
        (Some("reject"), Some(n)) => Some(("links_done_rejected", n)),
        _ => None,
    };
    page(&state, lang, &csrf, notice, None).await
}

/// `POST /organizer/links`: `action=confirm|reject` and one `sub` field per chosen link.
pub async fn decide(
    State(state): State<AppState>,
    Organizer(session): Organizer,
    lang: Lang,
    csrf: CsrfToken,
    body: Bytes,
) -> Result<Response, PageError> {
    let mut action = None;
    let mut subs = Vec::new();
    for (k, v) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "action" => action = Some(v.into_owned()),
            "sub" if !v.is_empty() && subs.len() < PAGE_SIZE as usize => subs.push(v.into_owned()),
            _ => {}
        }
    }
    let status = match action.as_deref() {
        Some("confirm") => LinkStatus::Confirmed,
        Some("reject") => LinkStatus::Rejected,
        _ => return page(&state, lang, &csrf, None, Some("links_error_action")).await,
    };
    if subs.is_empty() {
        return page(&state, lang, &csrf, None, Some("links_error_none")).await;
    }
    let n = update_pending_links(&state.0.probes.db, &subs, status, &session.sub, state.0.clock.now())
        .await
        .map_err(store_error)?;
    tracing::info!(organizer = %session.sub, decision = status.as_str(), count = n, "registration links decided");
    let done = if status == LinkStatus::Confirmed { "confirm" } else { "reject" };
    Ok(Redirect::to(&format!("/organizer/links?done={done}&count={n}")).into_response())
}
