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

/// Appends an entry (retrying when another writer took the next sequence number).
pub async fn record(db: &Db, at: i64, entry: &Entry) -> Result<i64, sqlx::Error> {
    let detail = entry.detail.to_string();
    // Appends from this process take turns: concurrent writers would all read the same last
    // entry and all but one retry, again and again under load. Other nodes are still handled by
    // the retry below (the sequence number is the primary key).
    static APPEND: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = APPEND.lock().await;
    loop {
        let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(db.pool())
            .await?;
        let (seq, prev) = match last {
            Some(r) => (r.try_get::<i64, _>("seq")? + 1, r.try_get::<String, _>("hash")?),
            None => (1, GENESIS.to_owned()),
        };
        let hash = chain_hash(&prev, seq, at, entry, &detail);
        let inserted = sqlx::query(
            "INSERT INTO audit_log (seq, at, event, outcome, actor, client_id, ip, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(seq)
        .bind(at)
        .bind(&entry.event)
        .bind(&entry.outcome)
        .bind(&entry.actor)
        .bind(&entry.client_id)
        .bind(&entry.ip)
        .bind(&detail)
        .bind(&prev)
        .bind(&hash)
        .execute(db.pool())
        .await;
        match inserted {
            Ok(_) => return Ok(seq),
            Err(e) if crate::store::is_unique_violation(&e) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Records an entry, logging (not failing) when the database refuses it.
pub async fn log(db: &Db, at: i64, entry: Entry) {
    if let Err(e) = record(db, at, &entry).await {
        tracing::error!(error = %e, event = %entry.event, "audit log write failed");
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
