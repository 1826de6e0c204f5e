//! `/operator/documents`: an operator (staff role `operator`) finds issued documents by id or
//! registration number and revokes one with a reason. The verification page then shows it
//! revoked, with the date and the reason. (`shikaku admin document revoke` does the same.)

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use web::csrf::CsrfToken;
use web::templates::Context;
use web::{Lang, PageError};

use crate::AppState;
use crate::documents::is_id;
use crate::documents::page::DocumentView;
use crate::import::registration;
use crate::pages::{Operator, render_form, store_error};
use crate::store::StoreError;
use crate::store::documents::{find_document, find_documents_of, update_document_revoked};

/// Longest revocation reason kept.
const MAX_REASON_CHARS: usize = 500;

/// `GET` query: what to look for, and the document just revoked.
#[derive(Debug, Default, Deserialize)]
pub struct Search {
    #[serde(default)]
    q: String,
    #[serde(default)]
    revoked: Option<String>,
}

/// `POST /operator/documents/revoke`.
#[derive(Debug, Default, Deserialize)]
pub struct Revoke {
    #[serde(default)]
    id: String,
    #[serde(default)]
    reason: String,
    /// The search to return to.
    #[serde(default)]
    q: String,
}

/// What the page shows besides the results.
#[derive(Debug, Default)]
struct Outcome<'a> {
    revoked: Option<&'a str>,
    /// Messages keyed by field (`q`, `reason-{id}`, or `form` for the page), as locale keys.
    errors: BTreeMap<String, &'static str>,
    /// The reason typed, kept after a refusal.
    reason: Option<(&'a str, &'a str)>,
}

async fn page(
    state: &AppState,
    lang: Lang,
    csrf: &CsrfToken,
    q: &str,
    mut outcome: Outcome<'_>,
) -> Result<Response, PageError> {
    let db = &state.0.probes.db;
    let q = q.trim();
    let records = if q.is_empty() {
        Vec::new()
    } else if is_id(q) {
        find_document(db, q).await.map_err(store_error)?.into_iter().collect()
    } else {
        match registration::normalize(q) {
            Ok(number) => find_documents_of(db, &number).await.map_err(store_error)?,
            Err(_) => {
                outcome.errors.insert("q".into(), "operator_documents_error_query");
                Vec::new()
            }
        }
    };
    let docs: Vec<DocumentView> = records.iter().map(|r| DocumentView::of(r, lang)).collect();
    let mut ctx = Context::new();
    ctx.insert("csrf_token", &csrf.0);
    ctx.insert("q", q);
    ctx.insert("searched", &!q.is_empty());
    ctx.insert("docs", &docs);
    ctx.insert("revoked", &outcome.revoked);
    ctx.insert("errors", &outcome.errors);
    ctx.insert("kept_reason", &outcome.reason.map(|(id, r)| BTreeMap::from([("id", id), ("reason", r)])));
    let invalid = !outcome.errors.is_empty();
    render_form(state, "portal/operator_documents.html", lang, &ctx, invalid)
}

/// `GET /operator/documents?q=ID-OR-NUMBER`: the search and its results.
pub async fn show(
    State(state): State<AppState>,
    _staff: Operator,
    lang: Lang,
    csrf: CsrfToken,
    Query(search): Query<Search>,
) -> Result<Response, PageError> {
    let revoked = search.revoked.as_deref().filter(|id| is_id(id));
    page(&state, lang, &csrf, &search.q, Outcome { revoked, ..Outcome::default() }).await
}

/// `POST /operator/documents/revoke`: revokes `id` with `reason`; 303 back to the search.
pub async fn revoke(
    State(state): State<AppState>,
    Operator(session): Operator,
    lang: Lang,
    csrf: CsrfToken,
    Form(form): Form<Revoke>,
) -> Result<Response, PageError> {
    let reason = form.reason.trim();
    let field = format!("reason-{}", form.id);
    // A refusal shows the search again, or the document alone when there was none.
    let back = if form.q.trim().is_empty() { form.id.as_str() } else { form.q.as_str() };
    let refuse = |key: &'static str| Outcome {
        errors: BTreeMap::from([(field.clone(), key)]),
        reason: Some((form.id.as_str(), reason)),
        ..Outcome::default()
    };
    if reason.is_empty() {
        return page(&state, lang, &csrf, back, refuse("operator_documents_error_reason")).await;
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return page(&state, lang, &csrf, back, refuse("operator_documents_error_reason_long")).await;
    }
    if !is_id(&form.id) {
        return Err(PageError::not_found());
    }
    match update_document_revoked(&state.0.probes.db, &form.id, reason, state.0.clock.now()).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Err(PageError::not_found()),
        Err(StoreError::Conflict(_)) => {
            // Its row has no form any more: the message goes above the results.
            let outcome = Outcome {
                errors: BTreeMap::from([("form".into(), "operator_documents_error_already")]),
                ..Outcome::default()
            };
            return page(&state, lang, &csrf, back, outcome).await;
        }
        Err(e) => return Err(store_error(e)),
    }
    tracing::info!(operator = %session.sub, document = %form.id, "document revoked");
    let q: String = form_urlencoded::byte_serialize(form.q.trim().as_bytes()).collect();
    Ok(Redirect::to(&format!("/operator/documents?q={q}&revoked={}", form.id)).into_response())
}
