//! The audit log: append-only entries chained by hash, so that a changed or deleted entry is
//! detected by [`verify`]. `hash = SHA-256(prev_hash | seq | at | event | outcome | actor |
//! client_id | ip | detail)`, the first entry chaining to 64 zeros.

use sha2::{Digest, Sha256};
use sqlx::Row;
use storage::Db;

/// Hash before the first entry.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

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

fn chain_hash(prev: &str, seq: i64, at: i64, e: &Entry, detail: &str) -> String {
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
/// Rows per `INSERT` statement (10 parameters each; SQLite allows 999 per statement).
const ROWS_PER_INSERT: usize = 64;
/// A writer with nothing to do for this long stops (a new one starts with the next entry).
const WRITER_IDLE: std::time::Duration = std::time::Duration::from_secs(5);

/// One entry waiting for the writer, and where to report its sequence number.
struct Job {
    at: i64,
    entry: Entry,
    detail: String,
    done: tokio::sync::oneshot::Sender<Result<i64, sqlx::Error>>,
}

type Writers = std::collections::HashMap<u64, tokio::sync::mpsc::UnboundedSender<Job>>;

fn writers() -> std::sync::MutexGuard<'static, Writers> {
    static WRITERS: std::sync::OnceLock<std::sync::Mutex<Writers>> = std::sync::OnceLock::new();
    WRITERS.get_or_init(Default::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Appends an entry and returns its sequence number once it is committed.
///
/// Entries of one process go through one writer task per database, which appends whatever has
/// queued up in one transaction (group commit): it reads the chain head under a write lock
/// (`BEGIN IMMEDIATE` on SQLite, `LOCK TABLE … SHARE ROW EXCLUSIVE` on PostgreSQL, so that
/// writers in other processes take turns too), chains the entries, inserts them and commits,
/// and only then answers each caller. An entry the batch could not take is retried alone, so
/// its error is its own.
pub async fn record(db: &Db, at: i64, entry: &Entry) -> Result<i64, sqlx::Error> {
    submit(db, at, entry.clone()).await
}

/// [`record`] of an entry the caller hands over.
async fn submit(db: &Db, at: i64, entry: Entry) -> Result<i64, sqlx::Error> {
    let (done, answer) = tokio::sync::oneshot::channel();
    // A `serde_json::Value` always serializes.
    let detail = entry.detail.to_string();
    let mut job = Job { at, entry, detail, done };
    for _ in 0..3 {
        let sender = {
            let mut writers = writers();
            match writers.get(&db.id()) {
                Some(s) if !s.is_closed() => s.clone(),
                _ => {
                    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                    writers.insert(db.id(), tx.clone());
                    tokio::spawn(writer(db.clone(), rx));
                    tx
                }
            }
        };
        match sender.send(job) {
            Ok(()) => {
                return answer.await.unwrap_or_else(|_| {
                    Err(sqlx::Error::Protocol("the audit writer stopped before answering".into()))
                });
            }
            // The writer just stopped (idle): start another.
            Err(tokio::sync::mpsc::error::SendError(back)) => job = back,
        }
    }
    // Writers keep stopping under us (a runtime shutting down): append here, alone.
    let seqs = append(db, std::slice::from_ref(&(job.at, &job.entry, job.detail.as_str()))).await?;
    first_seq(seqs)
}

/// The sequence number of a one-entry append.
fn first_seq(seqs: Vec<i64>) -> Result<i64, sqlx::Error> {
    seqs.first()
        .copied()
        .ok_or_else(|| sqlx::Error::Protocol("the audit append returned no sequence number".into()))
}

/// The writer task of one database.
async fn writer(db: Db, mut rx: tokio::sync::mpsc::UnboundedReceiver<Job>) {
    loop {
        let first = match tokio::time::timeout(WRITER_IDLE, rx.recv()).await {
            Ok(Some(job)) => job,
            Ok(None) => return,
            Err(_) => {
                // Idle: deregister, refuse new entries, and finish what slipped in meanwhile.
                writers().remove(&db.id());
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
    match append(db, &rows).await {
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
                let result = append(db, &[(job.at, &job.entry, job.detail.as_str())]).await;
                let _gone = job.done.send(result.and_then(first_seq));
            }
        }
    }
}

/// Appends `rows` (time, entry, detail text) in one transaction; returns their sequence numbers.
/// Retries when another process took the next sequence number (a unique violation).
async fn append(db: &Db, rows: &[(i64, &Entry, &str)]) -> Result<Vec<i64>, sqlx::Error> {
    loop {
        match append_once(db, rows).await {
            Err(e) if crate::store::is_unique_violation(&e) => continue,
            other => return other,
        }
    }
}

async fn append_once(db: &Db, rows: &[(i64, &Entry, &str)]) -> Result<Vec<i64>, sqlx::Error> {
    let mut conn = db.pool().acquire().await?;
    let mut tx = match db.backend() {
        storage::Backend::Sqlite => sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?,
        storage::Backend::Postgres => {
            let mut tx = conn.begin().await?;
            // Writers of every process take turns; readers (`verify`) are not blocked.
            sqlx::query("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
            tx
        }
    };
    let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *tx)
        .await?;
    let (mut seq, mut prev) = match last {
        Some(r) => (r.try_get::<i64, _>("seq")?, r.try_get::<String, _>("hash")?),
        None => (0, GENESIS.to_owned()),
    };
    let mut seqs = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut sql = String::from(
            "INSERT INTO audit_log (seq, at, event, outcome, actor, client_id, ip, detail, prev_hash, hash) VALUES ",
        );
        let mut chained = Vec::with_capacity(chunk.len());
        for (i, (at, entry, detail)) in chunk.iter().enumerate() {
            seq += 1;
            let hash = chain_hash(&prev, seq, *at, entry, detail);
            if i > 0 {
                sql.push_str(", ");
            }
            let b = i * 10;
            sql.push('(');
            // SQLite looks a `$N` name up by a linear search per bind (quadratic in a long
            // statement); anonymous `?` are bound by position.
            match db.backend() {
                storage::Backend::Sqlite => sql.push_str("?, ?, ?, ?, ?, ?, ?, ?, ?, ?"),
                storage::Backend::Postgres => {
                    sql.push_str(&(1..=10).map(|n| format!("${}", b + n)).collect::<Vec<_>>().join(", "))
                }
            }
            sql.push(')');
            chained.push((seq, std::mem::replace(&mut prev, hash.clone()), hash));
            seqs.push(seq);
        }
        // Only placeholders are formatted into the statement.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for ((at, entry, detail), (seq, prev_hash, hash)) in chunk.iter().zip(chained) {
            q = q
                .bind(seq)
                .bind(*at)
                .bind(entry.event.clone())
                .bind(entry.outcome.clone())
                .bind(entry.actor.clone())
                .bind(entry.client_id.clone())
                .bind(entry.ip.clone())
                .bind((*detail).to_owned())
                .bind(prev_hash)
                .bind(hash);
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(seqs)
}

/// Records an entry, logging (not failing) when the database refuses it.
pub async fn log(db: &Db, at: i64, entry: Entry) {
    let event = entry.event.clone();
    if let Err(e) = submit(db, at, entry).await {
        tracing::error!(error = %e, %event, "audit log write failed");
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
    let rows = sqlx::query(
        "SELECT seq, at, event, outcome, actor, client_id, ip, detail, prev_hash, hash FROM audit_log ORDER BY seq",
    )
    .fetch_all(db.pool())
    .await?;
    let mut prev = GENESIS.to_owned();
    for (expected_seq, r) in (1_i64..).zip(rows.iter()) {
        let seq: i64 = r.try_get("seq")?;
        if seq != expected_seq {
            return Ok(Verification {
                entries: expected_seq - 1,
                broken: Some((expected_seq, "entry missing".into())),
            });
        }
        let entry = Entry {
            event: r.try_get("event")?,
            outcome: r.try_get("outcome")?,
            actor: r.try_get("actor")?,
            client_id: r.try_get("client_id")?,
            ip: r.try_get("ip")?,
            detail: serde_json::Value::Null,
        };
        let detail: String = r.try_get("detail")?;
        let stored_prev: String = r.try_get("prev_hash")?;
        let stored: String = r.try_get("hash")?;
        if stored_prev != prev {
            return Ok(Verification {
                entries: seq - 1,
                broken: Some((seq, "previous hash does not match".into())),
            });
        }
        if chain_hash(&prev, seq, r.try_get("at")?, &entry, &detail) != stored {
            return Ok(Verification { entries: seq - 1, broken: Some((seq, "entry was changed".into())) });
        }
        prev = stored;
    }
    Ok(Verification { entries: rows.len() as i64, broken: None })
}
