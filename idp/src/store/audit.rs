//! SQL of `audit_log`: appending chained entries under a write lock that every process
//! respects, and reading the chain back for verification. The chain itself (hashes, the writer
//! task) is [`crate::audit`]'s.

use sqlx::Row;
use sqlx::any::AnyRow;
use storage::Db;

use crate::audit::{self, Entry};

/// Rows per `INSERT` statement (10 parameters each; SQLite allows 999 per statement).
const ROWS_PER_INSERT: usize = 64;

/// Appends `rows` (time, entry, detail text) in one transaction; returns their sequence numbers.
/// Retries when another process took the next sequence number (a unique violation).
pub(crate) async fn append(db: &Db, rows: &[(i64, &Entry, &str)]) -> Result<Vec<i64>, sqlx::Error> {
    loop {
        match append_once(db, rows).await {
            Err(e) if super::is_unique_violation(&e) => continue,
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
        None => (0, audit::GENESIS.to_owned()),
    };
    let mut seqs = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut sql = String::from(
            "INSERT INTO audit_log (seq, at, event, outcome, actor, client_id, ip, detail, prev_hash, hash) VALUES ",
        );
        let mut chained = Vec::with_capacity(chunk.len());
        for (i, (at, entry, detail)) in chunk.iter().enumerate() {
            seq += 1;
            let hash = audit::chain_hash(&prev, seq, *at, entry, detail);
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

/// One stored entry as [`audit::verify`] checks it.
#[derive(Debug, Clone)]
pub struct StoredEntry {
    /// Sequence number (1, 2, …).
    pub seq: i64,
    /// Unix seconds.
    pub at: i64,
    /// The entry (its `detail` is in `detail_text`).
    pub entry: Entry,
    /// The detail exactly as hashed.
    pub detail_text: String,
    /// The previous entry's hash as stored.
    pub prev_hash: String,
    /// This entry's hash as stored.
    pub hash: String,
}

const ENTRY_COLUMNS: &str = "seq, at, event, outcome, actor, client_id, ip, detail, prev_hash, hash";

fn row_to_entry(r: &AnyRow) -> Result<StoredEntry, sqlx::Error> {
    Ok(StoredEntry {
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        entry: Entry {
            event: r.try_get("event")?,
            outcome: r.try_get("outcome")?,
            actor: r.try_get("actor")?,
            client_id: r.try_get("client_id")?,
            ip: r.try_get("ip")?,
            detail: serde_json::Value::Null,
        },
        detail_text: r.try_get("detail")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

/// Every entry, by sequence number.
pub async fn find_entries(db: &Db) -> Result<Vec<StoredEntry>, sqlx::Error> {
    let sql = format!("SELECT {ENTRY_COLUMNS} FROM audit_log ORDER BY seq");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(db.pool()).await?;
    rows.iter().map(row_to_entry).collect()
}

/// The latest `limit` successful sign-ins of an account, newest first.
pub async fn find_sign_ins(db: &Db, account_id: &str, limit: i64) -> Result<Vec<StoredEntry>, sqlx::Error> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE actor = $1 AND event = 'sign_in' AND outcome = 'success' \
         ORDER BY seq DESC LIMIT $2"
    );
    let rows =
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).bind(limit).fetch_all(db.pool()).await?;
    rows.iter().map(row_to_entry).collect()
}
