//! `GET /documents/{id}.pdf`: the PDF of a document for its owner only (anyone else, an unknown
//! id or a malformed path gets the 404 page); a revoked document answers a readable 410 page.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use web::PageError;

use crate::AppState;
use crate::credits::dates;
use crate::documents::{DocumentError, is_id};
use crate::linking;
use crate::pages::{SignedIn, store_error};
use crate::store::documents::find_document;
use crate::store::links::LinkStatus;

/// The 410 page of a revoked document.
fn revoked() -> PageError {
    PageError::new(StatusCode::GONE, "documents_revoked_title", "documents_revoked_message")
}

/// The 503 page when no Japanese font is installed: PDFs are unavailable until the operator
/// installs one.
fn pdf_unavailable() -> PageError {
    PageError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "documents_pdf_unavailable_title",
        "documents_pdf_unavailable_message",
    )
}

/// `GET /documents/{file}` where `file` is `{id}.pdf`.
pub async fn pdf(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(file): Path<String>,
) -> Result<Response, PageError> {
    let Some(id) = file.strip_suffix(".pdf").filter(|id| is_id(id)) else {
        return Err(PageError::not_found());
    };
    let app = &state.0;
    let db = &app.probes.db;
    let now = app.clock.now();
    let link = linking::resolve(db, &session, now).await.map_err(store_error)?;
    let Some(link) = link.filter(|l| l.status == LinkStatus::Confirmed) else {
        return Err(PageError::not_found());
    };
    let number = link.registration_number.as_str();
    let Some(record) =
        find_document(db, id).await.map_err(store_error)?.filter(|r| r.registration_number == number)
    else {
        return Err(PageError::not_found());
    };
    if record.revoked_at.is_some() {
        return Err(revoked());
    }
    let pdf = app.documents.owned_pdf(db, id, number, now).await.map_err(|e| match &e {
        DocumentError::Pdf(p) if p.is_font() => pdf_unavailable(),
        _ => PageError::internal(e),
    })?;
    let Some(bytes) = pdf else {
        // Stored but not genuine (altered record or unknown key): nothing to serve.
        return Err(PageError::not_found());
    };
    let day = |n: i64| dates::from_int(n).map_or_else(String::new, |d| d.to_string());
    let filename = format!("{}_{}_{}.pdf", record.kind, day(record.period_from), day(record.period_to));
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(res)
}
