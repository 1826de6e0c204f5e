//! `/me/registration`: the doctor enters their registration number (医籍登録番号); the entry
//! waits for an organizer. A link confirmed from the idp's claim needs no entry.

use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use web::csrf::CsrfToken;
use web::templates::Context;
use web::{Lang, PageError};

use crate::AppState;
use crate::linking::{self, parse_entry};
use crate::pages::{SignedIn, render_form, store_error};
use crate::store::StoreError;
use crate::store::links::{Link, create_pending_link};

/// The form.
#[derive(Debug, Deserialize)]
pub struct Entry {
    #[serde(default)]
    registration_number: String,
}

/// A link as the page shows it.
#[derive(Debug, Serialize)]
struct LinkView {
    registration_number: String,
    status: &'static str,
}

fn view(link: Option<&Link>) -> Option<LinkView> {
    link.map(|l| LinkView { registration_number: l.registration_number.clone(), status: l.status.as_str() })
}

fn page(
    state: &AppState,
    lang: Lang,
    csrf: &CsrfToken,
    link: Option<&Link>,
    entered: &str,
    error: Option<&'static str>,
) -> Result<Response, PageError> {
    let mut ctx = Context::new();
    ctx.insert("csrf_token", &csrf.0);
    ctx.insert("link", &view(link));
    ctx.insert("entered", entered);
    ctx.insert("field_error", &error);
    render_form(state, "portal/registration.html", lang, &ctx, error.is_some())
}

/// `GET /me/registration`.
pub async fn show(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    lang: Lang,
    csrf: CsrfToken,
) -> Result<Response, PageError> {
    let link =
        linking::resolve(&state.0.probes.db, &session, state.0.clock.now()).await.map_err(store_error)?;
    page(&state, lang, &csrf, link.as_ref(), "", None)
}

/// `POST /me/registration`: validates the number and records a pending link.
pub async fn submit(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    lang: Lang,
    csrf: CsrfToken,
    Form(entry): Form<Entry>,
) -> Result<Response, PageError> {
    let db = &state.0.probes.db;
    let link = linking::resolve(db, &session, state.0.clock.now()).await.map_err(store_error)?;
    let number = match parse_entry(&entry.registration_number) {
        Ok(n) => n,
        Err(e) => {
            return page(
                &state,
                lang,
                &csrf,
                link.as_ref(),
                &entry.registration_number,
                Some(e.message_key()),
            );
        }
    };
    match create_pending_link(db, &session.sub, &number, session.name.as_deref(), state.0.clock.now()).await {
        Ok(()) => Ok(Redirect::to("/me/registration").into_response()),
        Err(StoreError::Conflict(_)) => {
            let mut res = page(
                &state,
                lang,
                &csrf,
                link.as_ref(),
                &entry.registration_number,
                Some("registration_error_confirmed"),
            )?;
            *res.status_mut() = axum::http::StatusCode::CONFLICT;
            Ok(res)
        }
        Err(e) => Err(store_error(e)),
    }
}
