//! `/organizer/import`: an organizer uploads an attendance CSV file (the import's columns, see
//! `docs/import.md`; UTF-8 or Shift_JIS) or pastes its text, optionally as a dry run. The
//! import runs as a background job ([`crate::import::jobs`]): the upload answers 303 to
//! `/organizer/import/{job}`, which shows a progress bar (refreshing itself, no script needed)
//! and then the same per-row report as the CLI, each reason in the page's language (the CLI's
//! English with `?lang=en`; [`jobs::JobRowError::reason_in`]).
//!
//! The form is `multipart/form-data` (fields `csrf_token`, `file`, `csv`, `dry_run`); a
//! urlencoded form with `csv` is accepted too. Uploads are limited to
//! [`web::csrf::MAX_UPLOAD_BYTES`]; larger files go through `shikaku admin import attendance`.

use std::time::Duration;

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;
use web::csrf::CsrfToken;
use web::templates::Context;
use web::{Lang, PageError};

use crate::AppState;
use crate::import::Options;
use crate::import::jobs::{self, Job, Phase, STALLED_AFTER};
use crate::pages::{Organizer, render, render_form};

/// How long the upload waits for a small file's job to finish before it answers, so that the
/// report shows at once instead of after a refresh.
const WAIT_FOR_SMALL_JOBS: Duration = Duration::from_millis(1_500);

/// Rows per transaction of an uploaded import.
const UPLOAD_BATCH_ROWS: usize = 5_000;

/// The fields of the upload form.
#[derive(Debug, Default)]
struct Upload {
    file_name: Option<String>,
    file: Vec<u8>,
    csv: String,
    dry_run: bool,
}

impl Upload {
    /// Reads the form, multipart or urlencoded; `Err` holds the reason an unreadable
    /// multipart body is refused.
    async fn read(req: Request) -> Result<Self, String> {
        let multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        let mut out = Self::default();
        if !multipart {
            let body = axum::body::to_bytes(req.into_body(), web::csrf::MAX_UPLOAD_BYTES)
                .await
                .map_err(|e| e.to_string())?;
            for (k, v) in form_urlencoded::parse(&body) {
                match k.as_ref() {
                    "csv" => out.csv = v.into_owned(),
                    "dry_run" => out.dry_run = !v.is_empty(),
                    _ => {}
                }
            }
            return Ok(out);
        }
        let mut form = Multipart::from_request(req, &()).await.map_err(|e| e.body_text())?;
        while let Some(field) = form.next_field().await.map_err(|e| e.body_text())? {
            match field.name().unwrap_or_default() {
                "file" => {
                    out.file_name = field.file_name().filter(|n| !n.is_empty()).map(str::to_owned);
                    out.file = field.bytes().await.map_err(|e| e.body_text())?.to_vec();
                }
                "csv" => out.csv = field.text().await.map_err(|e| e.body_text())?,
                "dry_run" => out.dry_run = !field.text().await.map_err(|e| e.body_text())?.is_empty(),
                _ => {}
            }
        }
        Ok(out)
    }
}

fn form_page(
    state: &AppState,
    lang: Lang,
    csrf: &CsrfToken,
    csv: &str,
    dry_run: bool,
    field_error: Option<&str>,
) -> Result<Response, PageError> {
    let mut ctx = Context::new();
    ctx.insert("csrf_token", &csrf.0);
    ctx.insert("csv", csv);
    ctx.insert("dry_run", &dry_run);
    ctx.insert("field_error", &field_error);
    ctx.insert("max_mib", &(web::csrf::MAX_UPLOAD_BYTES >> 20).to_string());
    render_form(state, "portal/organizer_import.html", lang, &ctx, field_error.is_some())
}

/// `GET /organizer/import`: the form.
pub async fn show(
    State(state): State<AppState>,
    _staff: Organizer,
    lang: Lang,
    csrf: CsrfToken,
) -> Result<Response, PageError> {
    form_page(&state, lang, &csrf, "", true, None)
}

/// `POST /organizer/import`: starts the job and answers 303 to its page; an empty submission
/// re-renders the form (422).
pub async fn submit(
    State(state): State<AppState>,
    Organizer(session): Organizer,
    lang: Lang,
    csrf: CsrfToken,
    req: Request,
) -> Result<Response, PageError> {
    let upload = match Upload::read(req).await {
        Ok(u) => u,
        Err(reason) => {
            tracing::info!(%reason, "unreadable upload");
            return form_page(&state, lang, &csrf, "", false, Some("import_error_unreadable"));
        }
    };
    let (data, file_name) = if upload.file.is_empty() {
        (upload.csv.as_bytes().to_vec(), None)
    } else {
        (upload.file, upload.file_name)
    };
    if data.iter().all(u8::is_ascii_whitespace) {
        return form_page(&state, lang, &csrf, &upload.csv, upload.dry_run, Some("import_error_empty"));
    }
    let id: String = rand::random::<[u8; 16]>().iter().map(|b| format!("{b:02x}")).collect();
    let clock = state.0.clock.clone();
    let job = Job {
        owner: session.sub.clone(),
        file_name,
        total: data.len() as u64,
        dry_run: upload.dry_run,
        updated_at: clock.now(),
        phase: Phase::Running { done: 0 },
    };
    // Smaller transactions than the CLI's: the upload runs inside a live server, where a long
    // SQLite write lock would make other writers (sign-ins, the audit log) wait.
    let opts =
        Options { dry_run: upload.dry_run, batch_size: UPLOAD_BATCH_ROWS, ..Options::new(clock.now()) };
    let db = state.0.probes.db.clone();
    let kv = state.0.probes.kv.clone();
    let handle = jobs::start(db, kv, id.clone(), job, data, opts, clock).await;
    // A small file is done by now; a large one goes on while its page shows the progress.
    // Either way the job page is next: it shows the report, or the progress of a job still running.
    let _still_running = tokio::time::timeout(WAIT_FOR_SMALL_JOBS, handle).await;
    Ok(Redirect::to(&format!("/organizer/import/{id}")).into_response())
}

/// One rejected row as the report shows it.
#[derive(Debug, Serialize)]
struct RowErrorView<'a> {
    line: u64,
    column: Option<&'a str>,
    /// In the page's language.
    reason: String,
}

#[derive(Debug, Serialize)]
struct JobView {
    id: String,
    file_name: Option<String>,
    dry_run: bool,
    /// `running`, `stalled`, `finished`, `refused` or `failed`.
    state: &'static str,
    percent: u64,
    done_kib: String,
    total_kib: String,
}

/// `GET /organizer/import/{job}`: the job's progress or report.
pub async fn job(
    State(state): State<AppState>,
    Organizer(session): Organizer,
    lang: Lang,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let job = jobs::find_job(state.0.probes.kv.as_ref(), &id).await.map_err(PageError::internal)?;
    let Some(job) = job.filter(|j| j.owner == session.sub) else {
        return Err(PageError::new(
            axum::http::StatusCode::NOT_FOUND,
            "import_job_unknown_title",
            "import_job_unknown_message",
        ));
    };
    let mut ctx = Context::new();
    let kib = |b: u64| b.div_ceil(1024).to_string();
    let (state_name, done) = match &job.phase {
        Phase::Running { done } if state.0.clock.now() - job.updated_at > STALLED_AFTER => ("stalled", *done),
        Phase::Running { done } => ("running", *done),
        Phase::Finished { .. } => ("finished", job.total),
        Phase::Refused { .. } => ("refused", 0),
        Phase::Failed { .. } => ("failed", 0),
    };
    ctx.insert(
        "job",
        &JobView {
            id: id.clone(),
            file_name: job.file_name.clone(),
            dry_run: job.dry_run,
            state: state_name,
            percent: (done * 100).checked_div(job.total).unwrap_or(100).min(100),
            done_kib: kib(done),
            total_kib: kib(job.total),
        },
    );
    match &job.phase {
        Phase::Finished { rows, inserted, unchanged, rejected, encoding, errors } => {
            ctx.insert(
                "summary",
                &serde_json::json!({
                    "rows": rows.to_string(), "inserted": inserted.to_string(),
                    "unchanged": unchanged.to_string(), "rejected": rejected.to_string(),
                    "encoding": encoding, "shown": errors.len().to_string(),
                }),
            );
            let texts = state.0.templates.texts(lang);
            let rows: Vec<RowErrorView<'_>> = errors
                .iter()
                .map(|e| RowErrorView {
                    line: e.line,
                    column: e.column.as_deref(),
                    reason: e.reason_in(texts),
                })
                .collect();
            ctx.insert("row_errors", &rows);
        }
        Phase::Refused { reason } => ctx.insert("file_error", reason),
        Phase::Failed { error_id } => ctx.insert("error_id", error_id),
        Phase::Running { .. } => {}
    }
    render(&state, "portal/organizer_import_job.html", lang, &ctx)
}
