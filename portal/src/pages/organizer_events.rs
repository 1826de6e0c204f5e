//! `/organizer/events…`: an organizer's events with their attendance counts, one event's
//! attendance list with bulk confirm/reject, and its CSV export (re-importable).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;
use web::csrf::CsrfToken;
use web::templates::Context;
use web::{Lang, PageError};

use crate::AppState;
use crate::credits::FiscalYear;
use crate::credits::rules::{CreditCode, CreditSystem};
use crate::import::attendance::record_id;
use crate::import::cell;
use crate::pages::{Organizer, event_or_404, notice as notice_of, render, render_form, store_error};
use crate::store::attendance::Status;
use crate::store::events::{Credit, find_event};
use crate::store::organizer::{
    EventAttendance, EventFilter, find_event_attendances, find_event_summaries, update_event_attendances,
};
use crate::store::systems::{find_codes, find_systems};

/// Most events the list shows.
const LIST_SIZE: u32 = 200;
/// Most records one decision takes.
const MAX_DECISION: usize = 5_000;

/// `SYSTEM:CODE=UNITS;…`, the import's form.
pub fn credits_text(credits: &[Credit]) -> String {
    credits.iter().map(|c| format!("{}:{}={}", c.system_id, c.code, c.units)).collect::<Vec<_>>().join(";")
}

/// Credits as a person reads them, per system in order of appearance: 「カリキュラムコード1:
/// 1.5単位、41: 0.5単位」 / "Curriculum code 1: 1.5 units, 41: 0.5 units" for the JMA
/// lifelong-education system; 「日医かかりつけ医機能研修制度 応用研修: 1単位」 for the others.
pub fn credits_readable(
    credits: &[Credit],
    systems: &[CreditSystem],
    codes: &[CreditCode],
    lang: Lang,
) -> String {
    let ja = lang == Lang::Ja;
    let mut order: Vec<&str> = Vec::new();
    for c in credits {
        if !order.contains(&c.system_id.as_str()) {
            order.push(&c.system_id);
        }
    }
    let units = |u: crate::credits::Units| match (ja, u.to_string()) {
        (true, n) => format!("{n}単位"),
        (false, n) if n == "1" => "1 unit".to_owned(),
        (false, n) => format!("{n} units"),
    };
    let parts = order.iter().map(|system| {
        let items: Vec<String> = credits
            .iter()
            .filter(|c| c.system_id == *system)
            .map(|c| {
                let label = if *system == JMA_CME { c.code.clone() } else { code_label(codes, c, ja) };
                format!("{label}: {}", units(c.units))
            })
            .collect();
        let items = items.join(if ja { "、" } else { ", " });
        if *system == JMA_CME {
            format!("{}{items}", if ja { "カリキュラムコード" } else { "Curriculum code " })
        } else {
            let name = systems.iter().find(|s| s.id == *system).map_or_else(
                || (*system).to_owned(),
                |s| if ja { s.name_ja.clone() } else { s.name_en.clone() },
            );
            format!("{name} {items}")
        }
    });
    parts.collect::<Vec<_>>().join(if ja { "／" } else { "; " })
}

/// The JMA lifelong-education system, whose codes are curriculum numbers.
const JMA_CME: &str = "jma_cme";

fn code_label(codes: &[CreditCode], c: &Credit, ja: bool) -> String {
    codes
        .iter()
        .find(|k| k.system_id == c.system_id && k.code == c.code)
        .and_then(|k| if ja { k.name_ja.clone() } else { k.name_en.clone().or_else(|| k.name_ja.clone()) })
        .unwrap_or_else(|| c.code.clone())
}

#[derive(Debug, Serialize)]
struct ListRow {
    id: String,
    title: String,
    organizer: String,
    dates: String,
    venue: Option<String>,
    online: bool,
    provisional: u64,
    confirmed: u64,
    rejected: u64,
}

pub(crate) fn dates_text(start: time::Date, end: time::Date) -> String {
    if start == end { start.to_string() } else { format!("{start} – {end}") }
}

/// `GET /organizer/events?q=TEXT&year=2026`: events, newest first.
pub async fn list(
    State(state): State<AppState>,
    _staff: Organizer,
    lang: Lang,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let q = query.get("q").map(|s| s.trim()).filter(|s| !s.is_empty());
    let year_text = query.get("year").map(|s| s.trim()).filter(|s| !s.is_empty());
    let year = year_text.and_then(|y| y.parse::<i32>().ok()).filter(|y| (1900..=9999).contains(y));
    let filter = EventFilter { title: q, fiscal_year: year.map(FiscalYear) };
    let events = find_event_summaries(&state.0.probes.db, &filter, LIST_SIZE).await.map_err(store_error)?;
    let rows: Vec<ListRow> = events
        .into_iter()
        .map(|e| ListRow {
            dates: dates_text(e.starts_on, e.ends_on),
            id: e.id,
            title: e.title,
            organizer: e.organizer,
            venue: e.venue,
            online: e.online,
            provisional: e.provisional,
            confirmed: e.confirmed,
            rejected: e.rejected,
        })
        .collect();
    let mut ctx = Context::new();
    ctx.insert("rows", &rows);
    ctx.insert("q", &q.unwrap_or(""));
    ctx.insert("year", &year_text.unwrap_or(""));
    ctx.insert("year_error", &(year_text.is_some() && year.is_none()));
    render(&state, "portal/organizer_events.html", lang, &ctx)
}

#[derive(Debug, Serialize)]
struct AttendanceRow {
    id: String,
    registration_number: String,
    doctor_name: Option<String>,
    date: String,
    /// Check-in and check-out (Japan time, HH:MM) of records made by kiosk taps.
    checked_in: Option<String>,
    checked_out: Option<String>,
    status: &'static str,
    status_key: &'static str,
    credits: String,
}

/// `HH:MM` in Japan time.
fn clock_text(unix: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).ok()?.to_offset(keys::clock::JST);
    Some(format!("{:02}:{:02}", t.hour(), t.minute()))
}

async fn event_page(
    state: &AppState,
    id: &str,
    lang: Lang,
    csrf: &CsrfToken,
    notice: Option<(&'static str, u64)>,
    error: Option<&'static str>,
) -> Result<Response, PageError> {
    let db = &state.0.probes.db;
    let event = event_or_404(state, id).await?;
    let records = find_event_attendances(db, id).await.map_err(store_error)?;
    let systems = find_systems(db).await.map_err(store_error)?;
    let codes = find_codes(db).await.map_err(store_error)?;
    let readable = |credits: &[Credit]| credits_readable(credits, &systems, &codes, lang);
    let rows: Vec<AttendanceRow> = records
        .iter()
        .map(|a| AttendanceRow {
            id: a.id.clone(),
            registration_number: a.registration_number.clone(),
            doctor_name: a.doctor_name.clone(),
            date: a.attended_on.to_string(),
            checked_in: a.checked_in_at.and_then(clock_text),
            checked_out: a.checked_out_at.and_then(clock_text),
            status: a.status.as_str(),
            status_key: match a.status {
                Status::Provisional => "events_status_provisional",
                Status::Confirmed => "events_status_confirmed",
                Status::Rejected => "events_status_rejected",
            },
            credits: readable(&a.credits),
        })
        .collect();
    let mut ctx = Context::new();
    ctx.insert("csrf_token", &csrf.0);
    ctx.insert("event_id", &event.id);
    ctx.insert("title", &event.title);
    ctx.insert("organizer", &event.organizer);
    ctx.insert("dates", &dates_text(event.starts_on, event.ends_on));
    ctx.insert("venue", &event.venue);
    ctx.insert("online", &event.online);
    ctx.insert("event_credits", &readable(&event.credits));
    ctx.insert("has_times", &rows.iter().any(|r| r.checked_in.is_some()));
    ctx.insert("rows", &rows);
    ctx.insert("has_provisional", &records.iter().any(|a| a.status == Status::Provisional));
    ctx.insert("notice", &notice_of(notice));
    ctx.insert("form_error", &error);
    render_form(state, "portal/organizer_event.html", lang, &ctx, error.is_some())
}

/// `GET /organizer/events/{id}`: the event and its attendance list.
pub async fn show(
    State(state): State<AppState>,
    _staff: Organizer,
    Path(id): Path<String>,
    lang: Lang,
    csrf: CsrfToken,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let count = query.get("count").and_then(|c| c.parse().ok());
    let notice = match (query.get("done").map(String::as_str), count) {
        (Some("confirm"), Some(n)) => Some(("events_done_confirmed", n)),
        (Some("reject"), Some(n)) => Some(("events_done_rejected", n)),
        _ => None,
    };
    event_page(&state, &id, lang, &csrf, notice, None).await
}

/// `POST /organizer/events/{id}/attendance`: `action=confirm|reject` and one `id` per record.
pub async fn decide(
    State(state): State<AppState>,
    Organizer(session): Organizer,
    Path(event_id): Path<String>,
    lang: Lang,
    csrf: CsrfToken,
    body: Bytes,
) -> Result<Response, PageError> {
    let mut action = None;
    let mut ids = Vec::new();
    for (k, v) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "action" => action = Some(v.into_owned()),
            "id" if !v.is_empty() && ids.len() < MAX_DECISION => ids.push(v.into_owned()),
            _ => {}
        }
    }
    let status = match action.as_deref() {
        Some("confirm") => Status::Confirmed,
        Some("reject") => Status::Rejected,
        _ => return event_page(&state, &event_id, lang, &csrf, None, Some("events_error_action")).await,
    };
    if ids.is_empty() {
        return event_page(&state, &event_id, lang, &csrf, None, Some("events_error_none")).await;
    }
    let db = &state.0.probes.db;
    if find_event(db, &event_id).await.map_err(store_error)?.is_none() {
        return Err(PageError::not_found());
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let n = update_event_attendances(db, &event_id, &refs, status, &session.sub, state.0.clock.now())
        .await
        .map_err(store_error)?;
    tracing::info!(organizer = %session.sub, event = %event_id, decision = status.as_str(), count = n, "attendances decided");
    let done = if status == Status::Confirmed { "confirm" } else { "reject" };
    let path = format!("/organizer/events/{}?done={done}&count={n}", urlencode(&event_id));
    Ok(Redirect::to(&path).into_response())
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Columns of the export, in order: the import's columns (`docs/import.md`).
pub const EXPORT_COLUMNS: [&str; 10] = [
    "record_id",
    "registration_number",
    "event_id",
    "date",
    "event_title",
    "organizer",
    "venue",
    "online",
    "credits",
    "status",
];

/// The export of an event's attendances: UTF-8 with a BOM, CRLF line ends. Every row names its
/// record (`record_id`, see [`record_id`]) and every cell is escaped against formulas
/// ([`cell::escape`]), so that importing the file again gives back exactly the same records.
pub fn export_csv(
    event: &crate::store::events::Event,
    records: &[EventAttendance],
) -> Result<Vec<u8>, csv::Error> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(&mut out);
        w.write_record(EXPORT_COLUMNS)?;
        for a in records {
            let date = a.attended_on.to_string();
            let credits = credits_text(&a.credits);
            let fields = [
                &*record_id(&a.idempotency_key),
                a.registration_number.as_str(),
                event.id.as_str(),
                date.as_str(),
                event.title.as_str(),
                event.organizer.as_str(),
                event.venue.as_deref().unwrap_or(""),
                if event.online { "1" } else { "0" },
                credits.as_str(),
                a.status.as_str(),
            ];
            w.write_record(fields.map(cell::escape).iter().map(|c| c.as_bytes()))?;
        }
        w.flush()?;
    }
    Ok(out)
}

/// `GET /organizer/events/{id}/attendance.csv`: the attendance list as a CSV download.
pub async fn export(
    State(state): State<AppState>,
    _staff: Organizer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let db = &state.0.probes.db;
    let event = event_or_404(&state, &id).await?;
    let records = find_event_attendances(db, &id).await.map_err(store_error)?;
    let body = export_csv(&event, &records).map_err(PageError::internal)?;
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    // Event ids are 1-64 of A-Z a-z 0-9 - _ . (the import's rule): safe in a quoted file name.
    let name = if id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        id.as_str()
    } else {
        "event"
    };
    let disposition = format!("attachment; filename=\"attendance-{name}.csv\"");
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).map_err(PageError::internal)?);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credits::Units;

    fn credit(system: &str, code: &str, units: i64) -> Credit {
        Credit { system_id: system.into(), code: code.into(), units: Units(units) }
    }

    #[test]
    fn credits_read_as_a_list() {
        let systems = vec![CreditSystem {
            id: "jma_kakaritsuke".into(),
            name_ja: "日医かかりつけ医機能研修制度".into(),
            name_en: "JMA family-doctor function training".into(),
            unit_step: Units(50),
        }];
        let codes = vec![CreditCode {
            system_id: "jma_kakaritsuke".into(),
            code: "applied".into(),
            name_ja: Some("応用研修".into()),
            name_en: Some("Applied training".into()),
        }];
        let cme = [credit("jma_cme", "1", 150), credit("jma_cme", "41", 50)];
        assert_eq!(
            credits_readable(&cme, &systems, &codes, Lang::Ja),
            "カリキュラムコード1: 1.5単位、41: 0.5単位"
        );
        assert_eq!(
            credits_readable(&cme, &systems, &codes, Lang::En),
            "Curriculum code 1: 1.5 units, 41: 0.5 units"
        );
        let both = [credit("jma_cme", "76", 100), credit("jma_kakaritsuke", "applied", 100)];
        assert_eq!(
            credits_readable(&both, &systems, &codes, Lang::Ja),
            "カリキュラムコード76: 1単位／日医かかりつけ医機能研修制度 応用研修: 1単位"
        );
        assert_eq!(
            credits_readable(&both, &systems, &codes, Lang::En),
            "Curriculum code 76: 1 unit; JMA family-doctor function training Applied training: 1 unit"
        );
        assert_eq!(credits_readable(&[], &systems, &codes, Lang::Ja), "");
    }
}
