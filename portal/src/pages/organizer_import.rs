//! `/organizer/import`: an organizer pastes an attendance CSV (the import's columns, see
//! `docs/import.md`) and gets the same per-row report as the CLI, optionally as a dry run.
//!
//! The file travels as a `csv` field of an ordinary urlencoded form (a textarea): it needs no
//! multipart support nor script, and the CSRF check reads the form as for every other page.
//! The form body is limited to 1 MiB (the CSRF layer's limit); larger files go through
//! `shikaku admin import attendance`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;
use web::csrf::CsrfToken;
use web::templates::Context;
use web::{Lang, PageError};

use crate::AppState;
use crate::import::{ImportError, Options, Report, attendance};
use crate::pages::{organizer, render_form};

#[derive(Debug, Serialize)]
struct Summary {
    dry_run: bool,
    // Strings: the template puts them into the localized sentence with `replace`.
    rows: String,
    inserted: String,
    unchanged: String,
    rejected: String,
    encoding: String,
}

#[derive(Debug, Serialize)]
struct ErrorRow {
    line: u64,
    column: Option<String>,
    reason: String,
}

#[derive(Debug, Default)]
struct Outcome<'a> {
    csv: &'a str,
    dry_run: bool,
    field_error: Option<&'static str>,
    file_error: Option<String>,
    report: Option<Report>,
}

fn page(state: &AppState, lang: Lang, csrf: &CsrfToken, o: &Outcome<'_>) -> Result<Response, PageError> {
    let mut ctx = Context::new();
    ctx.insert("csrf_token", &csrf.0);
    ctx.insert("csv", o.csv);
    ctx.insert("dry_run", &o.dry_run);
    ctx.insert("field_error", &o.field_error);
    ctx.insert("file_error", &o.file_error);
    let summary = o.report.as_ref().map(|r| Summary {
        dry_run: r.dry_run,
        rows: r.rows.to_string(),
        inserted: r.inserted.to_string(),
        unchanged: r.unchanged.to_string(),
        rejected: r.errors.len().to_string(),
        encoding: r.encoding.to_string(),
    });
    ctx.insert("summary", &summary);
    let errors: Vec<ErrorRow> = o
        .report
        .iter()
        .flat_map(|r| &r.errors)
        .map(|e| ErrorRow { line: e.line, column: e.column.clone(), reason: e.reason.clone() })
        .collect();
    ctx.insert("row_errors", &errors);
    let invalid = o.field_error.is_some() || o.file_error.is_some();
    render_form(state, "portal/organizer_import.html", lang, &ctx, invalid)
}

/// `GET /organizer/import`: the form.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    lang: Lang,
    csrf: CsrfToken,
) -> Result<Response, PageError> {
    if let Err(res) = organizer(&state, &headers).await {
        return Ok(res);
    }
    page(&state, lang, &csrf, &Outcome { dry_run: true, ..Outcome::default() })
}

/// `POST /organizer/import`: fields `csv` and `dry_run=1`; runs the import and shows its report.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    lang: Lang,
    csrf: CsrfToken,
    body: Bytes,
) -> Result<Response, PageError> {
    let session = match organizer(&state, &headers).await {
        Ok(s) => s,
        Err(res) => return Ok(res),
    };
    let mut csv = String::new();
    let mut dry_run = false;
    for (k, v) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "csv" => csv = v.into_owned(),
            "dry_run" => dry_run = !v.is_empty(),
            _ => {}
        }
    }
    let mut outcome = Outcome { csv: &csv, dry_run, ..Outcome::default() };
    if csv.trim().is_empty() {
        outcome.field_error = Some("import_error_empty");
        return page(&state, lang, &csrf, &outcome);
    }
    let opts = Options { dry_run, ..Options::new(state.0.clock.now()) };
    let mut progress = |_| {};
    match attendance::import(&state.0.probes.db, csv.as_bytes(), &opts, &mut progress).await {
        Ok(report) => {
            tracing::info!(
                organizer = %session.sub, dry_run, rows = report.rows, inserted = report.inserted,
                rejected = report.errors.len(), "attendance uploaded"
            );
            outcome.report = Some(report);
        }
        Err(ImportError::Store(e)) => return Err(PageError::internal(e)),
        Err(e) => outcome.file_error = Some(e.to_string()),
    }
    page(&state, lang, &csrf, &outcome)
}
