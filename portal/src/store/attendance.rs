//! SQL of the `attendances` and `attendance_credits` tables.
//!
//! An attendance's id is derived from its idempotency key, so that writing the same record
//! twice (a re-imported file, a repeated card tap) lands on the same row and changes nothing.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, AssertSqlSafe};
use storage::Db;
use time::Date;

use crate::credits::{CreditLine, FiscalYear, Units, dates};
use crate::store::events::Credit;
use crate::store::{CHUNK, Params, StoreError, list, value_rows};

/// Where an attendance stands. Only confirmed records count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Recorded (card tap, import), waiting for the organizer.
    Provisional,
    /// Confirmed by the organizer: counts.
    Confirmed,
    /// Rejected by the organizer.
    Rejected,
}

impl Status {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provisional => "provisional",
            Self::Confirmed => "confirmed",
            Self::Rejected => "rejected",
        }
    }
}

impl FromStr for Status {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "provisional" => Ok(Self::Provisional),
            "confirmed" => Ok(Self::Confirmed),
            "rejected" => Ok(Self::Rejected),
            _ => Err(()),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An attendance to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttendance {
    /// The writer's key: the same key is the same record.
    pub idempotency_key: String,
    /// The doctor.
    pub registration_number: String,
    /// The event.
    pub event_id: String,
    /// Day of attendance.
    pub attended_on: Date,
    /// Initial status.
    pub status: Status,
    /// `import`, `tap`, `entry`.
    pub source: String,
    /// Credits carried.
    pub credits: Vec<Credit>,
}

/// Longest idempotency key, in characters. A key is also non-empty and has no white space at
/// either end, so that the organizer export can name it in a CSV cell (`record_id`).
pub const MAX_KEY: usize = 256;

/// Whether `key` can be an idempotency key ([`MAX_KEY`]).
pub fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.trim() == key && key.chars().count() <= MAX_KEY
}

/// The record id for an idempotency key: 32 hex digits of its SHA-256.
pub fn attendance_id(idempotency_key: &str) -> String {
    let digest = Sha256::digest(idempotency_key.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The keys among `keys` that are already recorded.
pub async fn find_existing_keys(
    conn: &mut AnyConnection,
    keys: &[&str],
) -> Result<HashSet<String>, StoreError> {
    let params = Params::of(conn);
    let mut out = HashSet::new();
    for chunk in keys.chunks(CHUNK) {
        let sql = format!(
            "SELECT idempotency_key FROM attendances WHERE idempotency_key IN ({})",
            list(params, chunk.len())
        );
        let mut q = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql));
        for k in chunk {
            q = q.bind(*k);
        }
        out.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// Records attendances with their credits; a key already recorded is left as it is.
/// Returns how many were new. Run it in a transaction to write all or nothing.
pub async fn create_attendances(
    conn: &mut AnyConnection,
    records: &[NewAttendance],
    now: i64,
) -> Result<u64, StoreError> {
    if let Some(bad) = records.iter().find(|a| !valid_key(&a.idempotency_key)) {
        return Err(StoreError::Conflict(format!(
            "`{}` is not an idempotency key (1 to {MAX_KEY} characters, no white space at either end)",
            bad.idempotency_key
        )));
    }
    let params = Params::of(conn);
    // In id order: consecutive rows land next to each other in the indexes on `id` (random
    // digests), which keeps the B-tree walks short.
    let mut by_id: Vec<(String, &NewAttendance)> =
        records.iter().map(|a| (attendance_id(&a.idempotency_key), a)).collect();
    by_id.sort_by(|x, y| x.0.cmp(&y.0));
    let mut inserted = 0;
    for part in by_id.chunks(CHUNK) {
        let sql = insert_sql(&INSERT_ATTENDANCES, params, part.len(), |params, n| {
            format!(
                "INSERT INTO attendances (id, idempotency_key, registration_number, event_id, attended_on, \
                 fiscal_year, status, source, created_at, updated_at) VALUES {} \
                 ON CONFLICT (idempotency_key) DO NOTHING",
                value_rows(params, n, 10)
            )
        });
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (id, a) in part {
            q = q
                .bind(id.as_str())
                .bind(a.idempotency_key.as_str())
                .bind(a.registration_number.as_str())
                .bind(a.event_id.as_str())
                .bind(dates::to_int(a.attended_on))
                .bind(i64::from(FiscalYear::of(a.attended_on).0))
                .bind(a.status.as_str())
                .bind(a.source.as_str())
                .bind(now)
                .bind(now);
        }
        inserted += q.execute(&mut *conn).await?.rows_affected();
        let credits: Vec<(&str, &Credit)> =
            part.iter().flat_map(|(id, a)| a.credits.iter().map(move |c| (id.as_str(), c))).collect();
        for credit_part in credits.chunks(CHUNK) {
            let sql = insert_sql(&INSERT_CREDITS, params, credit_part.len(), |params, n| {
                format!(
                    "INSERT INTO attendance_credits (attendance_id, system_id, code, units) VALUES {} \
                     ON CONFLICT (attendance_id, system_id, code) DO NOTHING",
                    value_rows(params, n, 4)
                )
            });
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (id, c) in credit_part {
                q = q.bind(*id).bind(c.system_id.as_str()).bind(c.code.as_str()).bind(c.units.0);
            }
            q.execute(&mut *conn).await?;
        }
    }
    Ok(inserted)
}

static INSERT_ATTENDANCES: [OnceLock<String>; 2] = [OnceLock::new(), OnceLock::new()];
static INSERT_CREDITS: [OnceLock<String>; 2] = [OnceLock::new(), OnceLock::new()];

/// The statement for `rows` rows made by `make`; the one for a full [`CHUNK`] is built once (per
/// parameter form) and kept, so that every full chunk sends the same text (one prepared
/// statement, cached).
fn insert_sql(
    full: &'static [OnceLock<String>; 2],
    params: Params,
    rows: usize,
    make: fn(Params, usize) -> String,
) -> std::borrow::Cow<'static, str> {
    let slot = &full[usize::from(params == Params::Anonymous)];
    if rows == CHUNK {
        std::borrow::Cow::Borrowed(slot.get_or_init(|| make(params, CHUNK)).as_str())
    } else {
        std::borrow::Cow::Owned(make(params, rows))
    }
}

/// Confirms or rejects a provisional attendance. Deciding again the same way changes nothing;
/// changing a decision is a conflict.
pub async fn update_attendance_status(
    db: &Db,
    id: &str,
    status: Status,
    decided_by: &str,
    now: i64,
) -> Result<(), StoreError> {
    if status == Status::Provisional {
        return Err(StoreError::Conflict("an attendance cannot go back to provisional".into()));
    }
    let done = sqlx::query(
        "UPDATE attendances SET status = $1, decided_at = $2, decided_by = $3, updated_at = $2 \
         WHERE id = $4 AND status = 'provisional'",
    )
    .bind(status.as_str())
    .bind(now)
    .bind(decided_by)
    .bind(id)
    .execute(db.pool())
    .await?;
    if done.rows_affected() == 1 {
        return Ok(());
    }
    let current: Option<String> = sqlx::query_scalar("SELECT status FROM attendances WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    match current {
        None => Err(StoreError::NotFound),
        Some(s) if s == status.as_str() => Ok(()),
        Some(s) => Err(StoreError::Conflict(format!("the attendance is already {s}"))),
    }
}

/// Every confirmed credit of a doctor as it counts, oldest first: the systems' caps
/// (`credit_caps`) are applied, so totals, the coverage grid, progress and documents all see the
/// same counted credits.
///
/// The database answers one row per (system, code) with its dated units packed as
/// `YYYYMMDD:UNITS:EVENT,…` (event ids have no `:` or `,`): sqlx's SQLite driver hands rows one at a time from its worker thread,
/// so a doctor's ~10,000 credit lines as rows cost tens of milliseconds of thread hand-offs,
/// and a hundred packed rows almost nothing.
pub async fn find_confirmed_credits(
    db: &Db,
    registration_number: &str,
) -> Result<Vec<CreditLine>, StoreError> {
    let pack = match db.backend() {
        storage::Backend::Sqlite => "group_concat(a.attended_on || ':' || c.units || ':' || a.event_id, ',')",
        storage::Backend::Postgres => {
            "string_agg(a.attended_on::text || ':' || c.units::text || ':' || a.event_id, ',')"
        }
    };
    let sql = format!(
        "SELECT c.system_id, c.code, {pack} FROM attendances a \
         JOIN attendance_credits c ON c.attendance_id = a.id \
         WHERE a.registration_number = $1 AND a.status = 'confirmed' \
         GROUP BY c.system_id, c.code"
    );
    let rows: Vec<(String, String, String)> =
        sqlx::query_as(AssertSqlSafe(sql)).bind(registration_number).fetch_all(db.pool()).await?;
    let mut out = Vec::new();
    for (system_id, code, packed) in rows {
        for item in packed.split(',') {
            let mut parts = item.splitn(3, ':');
            let parsed = (|| {
                let date = dates::from_int(parts.next()?.parse().ok()?)?;
                let units = parts.next()?.parse::<i64>().ok()?;
                Some((date, units, parts.next()?))
            })();
            let Some((date, units, event_id)) = parsed else {
                return Err(StoreError::Corrupt(format!("credit `{item}` of {system_id}:{code}")));
            };
            out.push(CreditLine {
                system_id: system_id.clone(),
                code: code.clone(),
                units: Units(units),
                date,
                event_id: event_id.to_owned(),
            });
        }
    }
    out.sort_by(|a, b| {
        (a.date, &a.system_id, &a.code, &a.event_id).cmp(&(b.date, &b.system_id, &b.code, &b.event_id))
    });
    let caps = crate::store::systems::find_caps(db).await?;
    Ok(crate::credits::caps::apply(&caps, out))
}

/// One stored attendance as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attendance {
    /// Record id.
    pub id: String,
    /// The doctor.
    pub registration_number: String,
    /// The event.
    pub event_id: String,
    /// Day of attendance.
    pub attended_on: Date,
    /// Status.
    pub status: Status,
    /// Credits carried.
    pub credits: Vec<Credit>,
}

/// A doctor's attendances (every status), newest first, with their credits.
pub async fn find_attendances(db: &Db, registration_number: &str) -> Result<Vec<Attendance>, StoreError> {
    type Row = (String, String, i64, String, Option<String>, Option<String>, Option<i64>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT a.id, a.event_id, a.attended_on, a.status, c.system_id, c.code, c.units FROM attendances a \
         LEFT JOIN attendance_credits c ON c.attendance_id = a.id \
         WHERE a.registration_number = $1 ORDER BY a.attended_on DESC, a.id, c.system_id, c.code",
    )
    .bind(registration_number)
    .fetch_all(db.pool())
    .await?;
    let mut out: Vec<Attendance> = Vec::new();
    for (id, event_id, on, status, system_id, code, units) in rows {
        if out.last().is_none_or(|a| a.id != id) {
            out.push(Attendance {
                attended_on: dates::from_int(on)
                    .ok_or_else(|| StoreError::Corrupt(format!("attended_on {on}")))?,
                status: status.parse().map_err(|()| StoreError::Corrupt(format!("status {status}")))?,
                id,
                registration_number: registration_number.to_owned(),
                event_id,
                credits: Vec::new(),
            });
        }
        if let (Some(system_id), Some(code), Some(units), Some(last)) =
            (system_id, code, units, out.last_mut())
        {
            last.credits.push(Credit { system_id, code, units: Units(units) });
        }
    }
    Ok(out)
}

/// Which of a doctor's attendances a list shows (`None`: any).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttendanceFilter<'a> {
    /// Fiscal year (April–March) of the attendance.
    pub fiscal_year: Option<FiscalYear>,
    /// Status.
    pub status: Option<Status>,
    /// A credit in this system.
    pub system_id: Option<&'a str>,
    /// A credit with this code (within `system_id` when both are given).
    pub code: Option<&'a str>,
}

enum Param<'a> {
    Text(&'a str),
    Int(i64),
}

/// The `WHERE` clause of a filter, its parameters starting at `$1`.
fn filter_sql<'a>(registration_number: &'a str, f: &AttendanceFilter<'a>) -> (String, Vec<Param<'a>>) {
    let mut params = vec![Param::Text(registration_number)];
    let mut sql = String::from("a.registration_number = $1");
    if let Some(y) = f.fiscal_year {
        params.push(Param::Int(i64::from(y.0)));
        sql.push_str(&format!(" AND a.fiscal_year = ${}", params.len()));
    }
    if let Some(s) = f.status {
        params.push(Param::Text(s.as_str()));
        sql.push_str(&format!(" AND a.status = ${}", params.len()));
    }
    if f.system_id.is_some() || f.code.is_some() {
        sql.push_str(" AND EXISTS (SELECT 1 FROM attendance_credits c WHERE c.attendance_id = a.id");
        if let Some(s) = f.system_id {
            params.push(Param::Text(s));
            sql.push_str(&format!(" AND c.system_id = ${}", params.len()));
        }
        if let Some(c) = f.code {
            params.push(Param::Text(c));
            sql.push_str(&format!(" AND c.code = ${}", params.len()));
        }
        sql.push(')');
    }
    (sql, params)
}

/// One page of a doctor's records as the history page lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttendancePage {
    /// The records, newest first, each with all its credits (ordered by system and code).
    pub records: Vec<Attendance>,
    /// Title and organizer of the records' events, by event id.
    pub events: HashMap<String, (String, String)>,
    /// How many records match the filter in all (the page holds at most the limit).
    pub matching: u64,
}

/// A page of a doctor's attendances matching `filter`, newest first, at most `limit`, with
/// all their credits and their events' titles; and how many match in all.
///
/// One row per record: the credits come packed as a JSON array in the record's row, because
/// SQLite hands each row over from its worker thread separately and that hand-off, not the
/// query, was most of the page's time.
pub async fn find_attendance_page(
    db: &Db,
    registration_number: &str,
    filter: &AttendanceFilter<'_>,
    limit: u32,
) -> Result<AttendancePage, StoreError> {
    let (cond, params) = filter_sql(registration_number, filter);
    let mut conn = db.pool().acquire().await?;
    let mut count = sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM attendances a WHERE {cond}"
    )));
    for p in &params {
        count = match p {
            Param::Text(t) => count.bind(*t),
            Param::Int(i) => count.bind(*i),
        };
    }
    let matching = u64::try_from(count.fetch_one(&mut *conn).await?).unwrap_or(0);
    let credits = match db.backend() {
        storage::Backend::Sqlite => {
            "(SELECT json_group_array(json_array(c.system_id, c.code, c.units)) \
             FROM attendance_credits c WHERE c.attendance_id = a.id)"
        }
        storage::Backend::Postgres => {
            "(SELECT COALESCE(json_agg(json_build_array(c.system_id, c.code, c.units)), '[]')::text \
             FROM attendance_credits c WHERE c.attendance_id = a.id)"
        }
    };
    type Row = (String, String, i64, String, String, String, String);
    let mut q = sqlx::query_as::<_, Row>(AssertSqlSafe(format!(
        "SELECT a.id, a.event_id, a.attended_on, a.status, e.title, e.organizer, {credits} \
         FROM attendances a JOIN events e ON e.id = a.event_id WHERE {cond} \
         ORDER BY a.attended_on DESC, a.id LIMIT {limit}"
    )));
    for p in &params {
        q = match p {
            Param::Text(t) => q.bind(*t),
            Param::Int(i) => q.bind(*i),
        };
    }
    let mut page = AttendancePage { matching, ..AttendancePage::default() };
    for (id, event_id, on, status, title, organizer, packed) in q.fetch_all(&mut *conn).await? {
        let packed: Vec<(String, String, i64)> = serde_json::from_str(&packed)
            .map_err(|e| StoreError::Corrupt(format!("credits of attendance {id}: {e}")))?;
        let mut credits: Vec<Credit> = packed
            .into_iter()
            .map(|(system_id, code, units)| Credit { system_id, code, units: Units(units) })
            .collect();
        credits.sort_by(|a, b| (&a.system_id, &a.code).cmp(&(&b.system_id, &b.code)));
        page.events.entry(event_id.clone()).or_insert((title, organizer));
        page.records.push(Attendance {
            attended_on: dates::from_int(on)
                .ok_or_else(|| StoreError::Corrupt(format!("attended_on {on}")))?,
            status: status.parse().map_err(|()| StoreError::Corrupt(format!("status {status}")))?,
            id,
            registration_number: registration_number.to_owned(),
            event_id,
            credits,
        });
    }
    Ok(page)
}

/// The fiscal years in which a doctor has attendances (any status), newest first.
pub async fn find_fiscal_years(db: &Db, registration_number: &str) -> Result<Vec<FiscalYear>, StoreError> {
    let years: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT fiscal_year FROM attendances WHERE registration_number = $1 ORDER BY fiscal_year DESC",
    )
    .bind(registration_number)
    .fetch_all(db.pool())
    .await?;
    Ok(years.into_iter().filter_map(|y| i32::try_from(y).ok()).map(FiscalYear).collect())
}
