//! The audit log: append-only entries chained by hash, so that a changed or deleted entry is
//! detected by [`verify`]. `hash = SHA-256(prev_hash | seq | at | event | outcome | actor |
//! client_id | ip | detail)`, the first entry chaining to 64 zeros.

use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};

use storage::Db;
use tokio::sync::mpsc;

/// Hash before the first entry.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// Event name (`sign_in`, `token`, `consent`, `logout`, `admin.client.add`…).
    pub event: String,
    /// `success` or an error code.
    pub outcome: String,
    /// Account id or operator.
    pub actor: Option<String>,
    /// Client concerned.
    pub client_id: Option<String>,
    /// Remote address.
    pub ip: Option<String>,
    /// Further facts (JSON object); never secrets.
    pub detail: serde_json::Value,
}

pub(crate) fn chain_hash(prev: &str, seq: i64, at: i64, e: &Entry, detail: &str) -> String {
    let mut h = Sha256::new();
    for part in [
        prev,
        &seq.to_string(),
        &at.to_string(),
        &e.event,
        &e.outcome,
        e.actor.as_deref().unwrap_or(""),
        e.client_id.as_deref().unwrap_or(""),
        e.ip.as_deref().unwrap_or(""),
        detail,
    ] {
        h.update(part.as_bytes());
        h.update([0x1f]);
    }
    hpki::hex(&h.finalize())
}

/// Most entries appended in one transaction.
const MAX_BATCH: usize = 256;
/// How many times the writer lets ready requests run before writing, while they keep adding
/// entries to the batch.
const MAX_YIELDS: usize = 8;
/// A writer with nothing to do for this long stops (a new one starts with the next entry).
const WRITER_IDLE: std::time::Duration = std::time::Duration::from_secs(5);

/// One entry waiting for the writer, and where to report its sequence number.
struct Job {
    at: i64,
    entry: Entry,
    detail: String,
    done: tokio::sync::oneshot::Sender<Result<i64, sqlx::Error>>,
}

/// The audit log of one process on one database: entries go through one writer task, started
/// on demand and stopped when idle, which appends whatever has queued up in one transaction
/// (group commit). Held in the idp's app state; a command line process makes its own.
#[derive(Debug, Clone)]
pub struct AuditLog {
    db: Db,
    writer: Arc<Mutex<Option<mpsc::UnboundedSender<Job>>>>,
}

impl AuditLog {
    /// The audit log on `db`.
    pub fn new(db: Db) -> Self {
        Self { db, writer: Arc::default() }
    }

    /// Appends an entry and returns its sequence number once it is committed.
    ///
    /// The writer reads the chain head under a write lock (`BEGIN IMMEDIATE` on SQLite,
    /// `LOCK TABLE … SHARE ROW EXCLUSIVE` on PostgreSQL, so that writers in other processes take
    /// turns too), chains the entries, inserts them and commits, and only then answers each
    /// caller. An entry the batch could not take is retried alone, so its error is its own.
    pub async fn record(&self, at: i64, entry: &Entry) -> Result<i64, sqlx::Error> {
        self.submit(at, entry.clone()).await
    }

    /// Records an entry, logging (not failing) when the database refuses it.
    pub async fn log(&self, at: i64, entry: Entry) {
        let event = entry.event.clone();
        if let Err(e) = self.submit(at, entry).await {
            tracing::error!(error = %e, %event, "audit log write failed");
        }
    }

    /// The running writer's queue, or a new writer's.
    fn sender(&self) -> mpsc::UnboundedSender<Job> {
        let mut slot = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match &*slot {
            Some(s) if !s.is_closed() => s.clone(),
            _ => {
                let (tx, rx) = mpsc::unbounded_channel();
                *slot = Some(tx.clone());
                tokio::spawn(writer(self.db.clone(), rx));
                tx
            }
        }
    }

    async fn submit(&self, at: i64, entry: Entry) -> Result<i64, sqlx::Error> {
        let (done, answer) = tokio::sync::oneshot::channel();
        // A `serde_json::Value` always serializes.
        let detail = entry.detail.to_string();
        let mut job = Job { at, entry, detail, done };
        for _ in 0..3 {
            match self.sender().send(job) {
                Ok(()) => {
                    return answer.await.unwrap_or_else(|_| {
                        Err(sqlx::Error::Protocol("the audit writer stopped before answering".into()))
                    });
                }
                // The writer just stopped (idle): start another.
                Err(mpsc::error::SendError(back)) => job = back,
            }
        }
        // Writers keep stopping under us (a runtime shutting down): append here, alone.
        let row = (job.at, &job.entry, job.detail.as_str());
        first_seq(crate::store::audit::append(&self.db, std::slice::from_ref(&row)).await?)
    }
}

/// The sequence number of a one-entry append.
fn first_seq(seqs: Vec<i64>) -> Result<i64, sqlx::Error> {
    seqs.first()
        .copied()
        .ok_or_else(|| sqlx::Error::Protocol("the audit append returned no sequence number".into()))
}

/// The writer task of an [`AuditLog`].
async fn writer(db: Db, mut rx: mpsc::UnboundedReceiver<Job>) {
    loop {
        let first = match tokio::time::timeout(WRITER_IDLE, rx.recv()).await {
            Ok(Some(job)) => job,
            Ok(None) => return,
            Err(_) => {
                // Idle: refuse new entries (the next one starts a new writer) and finish what
                // slipped in meanwhile.
                rx.close();
                while let Ok(job) = rx.try_recv() {
                    write_batch(&db, vec![job]).await;
                }
                return;
            }
        };
        let mut jobs = vec![first];
        // Let the requests that are ready run first, as long as they bring entries: each
        // transaction costs several round trips to the database, so bigger batches are cheaper.
        for _ in 0..MAX_YIELDS {
            tokio::task::yield_now().await;
            let before = jobs.len();
            while jobs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            if jobs.len() == before || jobs.len() == MAX_BATCH {
                break;
            }
        }
        write_batch(&db, jobs).await;
    }
}

/// Appends `jobs` in one transaction and answers each; on failure, each alone. An answer fails
/// only when its caller stopped waiting (the request ended); the entry is written regardless.
async fn write_batch(db: &Db, jobs: Vec<Job>) {
    let rows: Vec<(i64, &Entry, &str)> = jobs.iter().map(|j| (j.at, &j.entry, j.detail.as_str())).collect();
    match crate::store::audit::append(db, &rows).await {
        Ok(seqs) => {
            tracing::debug!(entries = seqs.len(), "audit entries committed");
            for (job, seq) in jobs.into_iter().zip(seqs) {
                let _gone = job.done.send(Ok(seq));
            }
        }
        Err(e) if jobs.len() == 1 => {
            if let Some(job) = jobs.into_iter().next() {
                let _gone = job.done.send(Err(e));
            }
        }
        Err(_) => {
            for job in jobs {
                let result =
                    crate::store::audit::append(db, &[(job.at, &job.entry, job.detail.as_str())]).await;
                let _gone = job.done.send(result.and_then(first_seq));
            }
        }
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verification {
    /// Entries checked.
    pub entries: i64,
    /// First broken sequence number and why, if any.
    pub broken: Option<(i64, String)>,
}

/// Walks the whole chain.
pub async fn verify(db: &Db) -> Result<Verification, sqlx::Error> {
    let rows = crate::store::audit::find_entries(db).await?;
    let mut prev = GENESIS.to_owned();
    for (expected_seq, r) in (1_i64..).zip(rows.iter()) {
        if r.seq != expected_seq {
            return Ok(Verification {
                entries: expected_seq - 1,
                broken: Some((expected_seq, "entry missing".into())),
            });
        }
        if r.prev_hash != prev {
            return Ok(Verification {
                entries: r.seq - 1,
                broken: Some((r.seq, "previous hash does not match".into())),
            });
        }
        if chain_hash(&prev, r.seq, r.at, &r.entry, &r.detail_text) != r.hash {
            return Ok(Verification {
                entries: r.seq - 1,
                broken: Some((r.seq, "entry was changed".into())),
            });
        }
        prev = r.hash.clone();
    }
    Ok(Verification { entries: rows.len() as i64, broken: None })
}
