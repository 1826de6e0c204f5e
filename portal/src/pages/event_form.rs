//! `/organizer/events/new` and `/organizer/events/{id}/edit`: an organizer creates or edits an
//! event, checked with the import's rules (event id, dates, `SYSTEM:CODE=UNITS;…` credits),
//! with a message next to each field at fault.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use web::csrf::CsrfToken;
use web::templates::Context;
use web::{Lang, PageError};

use crate::AppState;
use crate::credits::dates;
use crate::import::attendance::{Catalog, valid_event_id};
use crate::pages::Organizer;
use crate::pages::organizer_events::credits_text;
use crate::pages::{event_or_404, render_form, store_error};
use crate::store::events::{Event, create_event, find_event};
use crate::store::organizer::update_event;

/// The form's fields, in page order.
const FIELDS: [&str; 8] = ["id", "title", "organizer", "starts_on", "ends_on", "venue", "online", "credits"];
/// Longest title, organizer or venue.
const MAX_TEXT: usize = 200;

/// What the form shows: entered values, and per field the message key and a detail.
#[derive(Debug, Default)]
struct Form {
    values: HashMap<&'static str, String>,
    errors: HashMap<&'static str, &'static str>,
    credits_detail: Option<String>,
}

fn from_event(e: &Event) -> Form {
    let mut f = Form::default();
    f.values.insert("id", e.id.clone());
    f.values.insert("title", e.title.clone());
    f.values.insert("organizer", e.organizer.clone());
    f.values.insert("starts_on", e.starts_on.to_string());
    f.values.insert("ends_on", e.ends_on.to_string());
    f.values.insert("venue", e.venue.clone().unwrap_or_default());
    f.values.insert("online", if e.online { "1" } else { "" }.to_owned());
    f.values.insert("credits", credits_text(&e.credits));
    f
}

/// Checks the posted form; the event when every field is good.
fn check(body: &[u8], catalog: &Catalog, fixed_id: Option<&str>) -> (Form, Option<Event>) {
    let mut f = Form::default();
    for (k, v) in form_urlencoded::parse(body) {
        if let Some(name) = FIELDS.iter().find(|n| **n == k.as_ref()) {
            f.values.insert(name, v.trim().to_owned());
        }
    }
    if let Some(id) = fixed_id {
        f.values.insert("id", id.to_owned());
    }
    let get = |f: &Form, k: &str| f.values.get(k).cloned().unwrap_or_default();
    let id = get(&f, "id");
    if !valid_event_id(&id) {
        f.errors.insert("id", "event_form_error_id");
    }
    for (field, key) in [("title", "event_form_error_title"), ("organizer", "event_form_error_organizer")] {
        let v = get(&f, field);
        if v.is_empty() || v.chars().count() > MAX_TEXT {
            f.errors.insert(field, key);
        }
    }
    let starts = dates::parse(&get(&f, "starts_on"));
    let ends = dates::parse(&get(&f, "ends_on"));
    if starts.is_none() {
        f.errors.insert("starts_on", "event_form_error_date");
    }
    if ends.is_none() {
        f.errors.insert("ends_on", "event_form_error_date");
    }
    if let (Some(s), Some(e)) = (starts, ends)
        && e < s
    {
        f.errors.insert("ends_on", "event_form_error_end_before_start");
    }
    let venue = get(&f, "venue");
    let online = !get(&f, "online").is_empty();
    if venue.chars().count() > MAX_TEXT || (venue.is_empty() && !online) {
        f.errors.insert("venue", "event_form_error_venue");
    }
    let credits = match catalog.parse_credits(&get(&f, "credits")) {
        Ok(c) if c.is_empty() => {
            f.errors.insert("credits", "event_form_error_credits_empty");
            Vec::new()
        }
        Ok(c) => c,
        Err(detail) => {
            f.errors.insert("credits", "event_form_error_credits");
            f.credits_detail = Some(detail);
            Vec::new()
        }
    };
    let event = match (starts, ends) {
        (Some(starts_on), Some(ends_on)) if f.errors.is_empty() => Some(Event {
            id,
            title: get(&f, "title"),
            organizer: get(&f, "organizer"),
            starts_on,
            ends_on,
            venue: Some(venue).filter(|v| !v.is_empty()),
            online,
            credits,
        }),
        _ => None,
    };
    (f, event)
}

fn page(
    state: &AppState,
    lang: Lang,
    csrf: &CsrfToken,
    form: &Form,
    editing: Option<&str>,
) -> Result<Response, PageError> {
    let mut ctx = Context::new();
    ctx.insert("csrf_token", &csrf.0);
    ctx.insert("editing", &editing);
    ctx.insert("values", &form.values);
    ctx.insert("errors", &form.errors);
    ctx.insert("credits_detail", &form.credits_detail);
    render_form(state, "portal/organizer_event_form.html", lang, &ctx, !form.errors.is_empty())
}

/// `GET /organizer/events/new`: an empty form.
pub async fn new_form(
    State(state): State<AppState>,
    _staff: Organizer,
    lang: Lang,
    csrf: CsrfToken,
) -> Result<Response, PageError> {
    page(&state, lang, &csrf, &Form::default(), None)
}

/// `POST /organizer/events/new`: creates the event and shows it.
pub async fn create(
    State(state): State<AppState>,
    Organizer(session): Organizer,
    lang: Lang,
    csrf: CsrfToken,
    body: Bytes,
) -> Result<Response, PageError> {
    let db = &state.0.probes.db;
    let catalog = Catalog::load(db).await.map_err(PageError::internal)?;
    let (mut form, event) = check(&body, &catalog, None);
    let Some(event) = event else { return page(&state, lang, &csrf, &form, None) };
    let mut conn = db.pool().acquire().await.map_err(PageError::internal)?;
    if !create_event(&mut conn, &event, state.0.clock.now()).await.map_err(store_error)? {
        form.errors.insert("id", "event_form_error_id_taken");
        return page(&state, lang, &csrf, &form, None);
    }
    tracing::info!(organizer = %session.sub, event = %event.id, "event created");
    Ok(Redirect::to(&format!("/organizer/events/{}", event.id)).into_response())
}

/// `GET /organizer/events/{id}/edit`: the form filled with the event.
pub async fn edit_form(
    State(state): State<AppState>,
    _staff: Organizer,
    Path(id): Path<String>,
    lang: Lang,
    csrf: CsrfToken,
) -> Result<Response, PageError> {
    let event = event_or_404(&state, &id).await?;
    page(&state, lang, &csrf, &from_event(&event), Some(&event.id))
}

/// `POST /organizer/events/{id}/edit`: saves the event (its id stays) and shows it.
pub async fn update(
    State(state): State<AppState>,
    Organizer(session): Organizer,
    Path(id): Path<String>,
    lang: Lang,
    csrf: CsrfToken,
    body: Bytes,
) -> Result<Response, PageError> {
    let db = &state.0.probes.db;
    if find_event(db, &id).await.map_err(store_error)?.is_none() {
        return Err(PageError::not_found());
    }
    let catalog = Catalog::load(db).await.map_err(PageError::internal)?;
    let (form, event) = check(&body, &catalog, Some(&id));
    let Some(event) = event else { return page(&state, lang, &csrf, &form, Some(&id)) };
    if !update_event(db, &event, state.0.clock.now()).await.map_err(store_error)? {
        return Err(PageError::not_found());
    }
    tracing::info!(organizer = %session.sub, event = %event.id, "event updated");
    Ok(Redirect::to(&format!("/organizer/events/{}", event.id)).into_response())
}
