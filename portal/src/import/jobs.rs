//! Uploaded attendance files import as background jobs: the upload answers at once, and the
//! job's page shows a progress bar until the report is there. A job's state lives in the KV
//! (`import-job:{id}`, kept a day), so any portal instance can show it; the import itself runs
//! on the instance that took the upload and writes its progress every half second.
//!
//! A job whose process stopped mid-way stays `running` without progress: the page calls it
//! stalled after [`STALLED_AFTER`]. Importing the same file again completes it (rows already
//! recorded count as unchanged).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use storage::{Db, Kv, KvError};

use crate::import::{ImportError, Options, Report, RowError, RowErrorKind, attendance};
use keys::Clock;

/// How long a job's state is kept.
pub const KEEP: Duration = Duration::from_secs(24 * 3600);
/// A running job without news for this long is shown as stalled (seconds).
pub const STALLED_AFTER: i64 = 30;
/// Rejected rows kept for the page (the count covers them all).
pub const MAX_ERRORS_SHOWN: usize = 1_000;
const TICK: Duration = Duration::from_millis(500);

/// One rejected row as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRowError {
    /// 1-based line.
    pub line: u64,
    /// The column at fault, if one is.
    pub column: Option<String>,
    /// Why, in English (as the CLI says it).
    pub reason: String,
    /// Why, as a code ([`crate::import::RowErrorKind::code`]); absent in the state of a job
    /// saved before codes existed, whose page shows `reason`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The parameters of `code` ([`crate::import::RowErrorKind::params`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
}

impl JobRowError {
    /// The reason in the language of `texts` (a locale table, key → text): the message
    /// `import_row_error_{code}` with its parameters filled in; the English `reason` when the
    /// row has no code or the table no message for it.
    pub fn reason_in(&self, texts: &serde_json::Value) -> String {
        let message = self.code.as_deref().and_then(|c| texts.get(RowErrorKind::locale_key(c))?.as_str());
        match message {
            Some(text) => {
                let params: Vec<(&str, &str)> =
                    self.params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                RowErrorKind::render(text, &params)
            }
            None => self.reason.clone(),
        }
    }
}

impl From<&RowError> for JobRowError {
    fn from(e: &RowError) -> Self {
        Self {
            line: e.line,
            column: e.column.clone(),
            reason: e.reason.clone(),
            code: Some(e.kind.code().to_owned()),
            params: e.kind.params().into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        }
    }
}

/// Where a job is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Phase {
    /// Importing; `done` of `total` bytes read.
    Running {
        /// Bytes of the file done.
        done: u64,
    },
    /// Finished with a report.
    Finished {
        /// Data rows read.
        rows: u64,
        /// Records added (or that would be, in a dry run).
        inserted: u64,
        /// Records already present.
        unchanged: u64,
        /// Rejected rows.
        rejected: u64,
        /// The encoding the file was read in.
        encoding: String,
        /// The first [`MAX_ERRORS_SHOWN`] rejected rows.
        errors: Vec<JobRowError>,
    },
    /// The file could not be imported at all (header, encoding); nothing was written.
    Refused {
        /// The reason, in English.
        reason: String,
    },
    /// The database failed; `error_id` is in the log. Whole batches before it may be written.
    Failed {
        /// The id logged with the cause.
        error_id: String,
    },
}

/// A job's state in the KV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// The organizer (`sub`) who uploaded the file; only they see the job.
    pub owner: String,
    /// The uploaded file's name, if it came as a file.
    pub file_name: Option<String>,
    /// Size of the file in bytes.
    pub total: u64,
    /// Whether nothing is written.
    pub dry_run: bool,
    /// Unix seconds of the last update.
    pub updated_at: i64,
    /// Where it is.
    pub phase: Phase,
}

fn key(id: &str) -> String {
    crate::kv_keys::import_job(id)
}

/// Whether `id` has the form of a job id (32 lowercase hex digits).
pub fn is_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Reads job `id`; `None` when unknown or expired.
pub async fn find_job(kv: &dyn Kv, id: &str) -> Result<Option<Job>, KvError> {
    if !is_id(id) {
        return Ok(None);
    }
    Ok(kv.get(&key(id)).await?.and_then(|raw| serde_json::from_slice(&raw).ok()))
}

async fn save(kv: &dyn Kv, id: &str, job: &Job) {
    match serde_json::to_vec(job) {
        Ok(raw) => {
            if let Err(e) = kv.set(&key(id), &raw, KEEP).await {
                tracing::warn!(job = id, error = %e, "cannot save import job state");
            }
        }
        Err(e) => tracing::warn!(job = id, error = %e, "cannot encode import job state"),
    }
}

fn finished(report: &Report) -> Phase {
    Phase::Finished {
        rows: report.rows,
        inserted: report.inserted,
        unchanged: report.unchanged,
        rejected: report.errors.len() as u64,
        encoding: report.encoding.to_string(),
        errors: report.errors.iter().take(MAX_ERRORS_SHOWN).map(JobRowError::from).collect(),
    }
}

/// Starts importing `data` as job `id` (state saved before this returns); the returned
/// handle ends when the job has.
pub async fn start(
    db: Db,
    kv: Arc<dyn Kv>,
    id: String,
    mut job: Job,
    data: Vec<u8>,
    opts: Options,
    clock: Clock,
) -> tokio::task::JoinHandle<()> {
    save(kv.as_ref(), &id, &job).await;
    tokio::spawn(async move {
        let done = Arc::new(AtomicU64::new(0));
        let seen = done.clone();
        let mut progress = move |bytes: u64| seen.store(bytes, Ordering::Relaxed);
        let import = attendance::import(&db, &data, &opts, &mut progress);
        tokio::pin!(import);
        let mut tick = tokio::time::interval(TICK);
        tick.tick().await;
        let result = loop {
            tokio::select! {
                r = &mut import => break r,
                _ = tick.tick() => {
                    job.phase = Phase::Running { done: done.load(Ordering::Relaxed) };
                    job.updated_at = clock.now();
                    save(kv.as_ref(), &id, &job).await;
                }
            }
        };
        job.phase = match result {
            Ok(report) => {
                tracing::info!(
                    job = %id, organizer = %job.owner, dry_run = job.dry_run, rows = report.rows,
                    inserted = report.inserted, rejected = report.errors.len(), "attendance upload imported"
                );
                finished(&report)
            }
            Err(ImportError::Store(e)) => {
                let error_id = web::errors::log_internal(&e);
                Phase::Failed { error_id }
            }
            Err(e) => Phase::Refused { reason: e.to_string() },
        };
        job.updated_at = clock.now();
        save(kv.as_ref(), &id, &job).await;
    })
}
