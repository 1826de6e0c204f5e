//! SQL of the `portal_links` table: which registration number (医籍登録番号) a signed-in
//! doctor (the idp's `sub`) stands for, and whether an organizer confirmed it.

use std::fmt;
use std::str::FromStr;

use storage::Db;

use crate::store::StoreError;

/// Where a link stands. Only a confirmed link shows records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkStatus {
    /// Entered by the doctor, waiting for an organizer.
    Pending,
    /// Confirmed (by an organizer, or from the idp's claim).
    Confirmed,
    /// Rejected by an organizer.
    Rejected,
}

impl LinkStatus {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Rejected => "rejected",
        }
    }
}

impl FromStr for LinkStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "pending" => Ok(Self::Pending),
            "confirmed" => Ok(Self::Confirmed),
            "rejected" => Ok(Self::Rejected),
            _ => Err(()),
        }
    }
}

impl fmt::Display for LinkStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a link came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkSource {
    /// The idp's `medical_registration_number` claim.
    Claim,
    /// The doctor's own entry.
    SelfEntry,
}

impl LinkSource {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Claim => "claim",
            Self::SelfEntry => "self",
        }
    }
}

/// One link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The idp's subject for the portal.
    pub sub: String,
    /// The registration number, canonical (no leading zeros).
    pub registration_number: String,
    /// Status.
    pub status: LinkStatus,
    /// `claim` or `self`.
    pub source: String,
    /// The idp's name for the doctor when the link was made.
    pub claimed_name: Option<String>,
    /// When it was made (Unix seconds).
    pub created_at: i64,
    /// When it was decided, if it was.
    pub decided_at: Option<i64>,
    /// Who decided (an organizer's `sub`, or `idp` for a claim).
    pub decided_by: Option<String>,
}

type Row = (String, String, String, String, Option<String>, i64, Option<i64>, Option<String>);

const COLUMNS: &str =
    "sub, registration_number, status, source, claimed_name, created_at, decided_at, decided_by";

fn from_row(
    (sub, registration_number, status, source, claimed_name, created_at, decided_at, decided_by): Row,
) -> Result<Link, StoreError> {
    let status = status.parse().map_err(|()| StoreError::Corrupt(format!("link {sub}: status {status}")))?;
    Ok(Link { sub, registration_number, status, source, claimed_name, created_at, decided_at, decided_by })
}

/// The link of a subject, if any.
pub async fn find_link(db: &Db, sub: &str) -> Result<Option<Link>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM portal_links WHERE sub = $1");
    let row: Option<Row> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(sub).fetch_optional(db.pool()).await?;
    row.map(from_row).transpose()
}

/// Links in one status, oldest first, at most `limit`.
pub async fn find_links_by_status(db: &Db, status: LinkStatus, limit: i64) -> Result<Vec<Link>, StoreError> {
    let sql =
        format!("SELECT {COLUMNS} FROM portal_links WHERE status = $1 ORDER BY created_at, sub LIMIT $2");
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(status.as_str())
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    rows.into_iter().map(from_row).collect()
}

/// Records a doctor's own entry as a pending link. A confirmed link is never replaced (a
/// conflict); a pending or rejected one is replaced by the new entry.
pub async fn create_pending_link(
    db: &Db,
    sub: &str,
    registration_number: &str,
    claimed_name: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "INSERT INTO portal_links (sub, registration_number, status, source, claimed_name, created_at, \
         updated_at) VALUES ($1, $2, 'pending', 'self', $3, $4, $4) \
         ON CONFLICT (sub) DO UPDATE SET registration_number = excluded.registration_number, \
         status = 'pending', source = 'self', claimed_name = excluded.claimed_name, \
         created_at = excluded.created_at, updated_at = excluded.updated_at, decided_at = NULL, \
         decided_by = NULL WHERE portal_links.status <> 'confirmed'",
    )
    .bind(sub)
    .bind(registration_number)
    .bind(claimed_name)
    .bind(now)
    .execute(db.pool())
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Conflict("the link is already confirmed".into()));
    }
    Ok(())
}

/// Records a link confirmed from the idp's claim, replacing a pending or rejected one. Returns
/// whether it wrote (a confirmed link is left as it is).
pub async fn create_confirmed_link(
    db: &Db,
    sub: &str,
    registration_number: &str,
    claimed_name: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO portal_links (sub, registration_number, status, source, claimed_name, created_at, \
         updated_at, decided_at, decided_by) VALUES ($1, $2, 'confirmed', 'claim', $3, $4, $4, $4, 'idp') \
         ON CONFLICT (sub) DO UPDATE SET registration_number = excluded.registration_number, \
         status = 'confirmed', source = 'claim', claimed_name = excluded.claimed_name, \
         updated_at = excluded.updated_at, decided_at = excluded.decided_at, decided_by = 'idp' \
         WHERE portal_links.status <> 'confirmed'",
    )
    .bind(sub)
    .bind(registration_number)
    .bind(claimed_name)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Confirms or rejects pending links; returns how many changed. Links that are not pending
/// (decided meanwhile, or unknown) are left as they are.
pub async fn update_pending_links(
    db: &Db,
    subs: &[String],
    status: LinkStatus,
    decided_by: &str,
    now: i64,
) -> Result<u64, StoreError> {
    if status == LinkStatus::Pending {
        return Err(StoreError::Conflict("a link cannot go back to pending".into()));
    }
    let mut changed = 0;
    let mut conn = db.pool().acquire().await?;
    let mut tx = conn.begin().await?;
    for sub in subs {
        changed += sqlx::query(
            "UPDATE portal_links SET status = $1, decided_at = $2, decided_by = $3, updated_at = $2 \
             WHERE sub = $4 AND status = 'pending'",
        )
        .bind(status.as_str())
        .bind(now)
        .bind(decided_by)
        .bind(sub)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    tx.commit().await?;
    Ok(changed)
}
