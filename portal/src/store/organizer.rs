//! SQL of the organizer pages: events with their attendance counts, an event's attendance list,
//! and bulk decisions on it.

use sqlx::AssertSqlSafe;
use storage::Db;
use time::Date;

use crate::credits::{FiscalYear, Units, dates};
use crate::store::attendance::Status;
use crate::store::events::Credit;
use crate::store::{CHUNK, StoreError};

/// An event as the organizer's list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSummary {
    /// Event id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Organizer.
    pub organizer: String,
    /// First day.
    pub starts_on: Date,
    /// Last day.
    pub ends_on: Date,
    /// Venue, if any.
    pub venue: Option<String>,
    /// Held online.
    pub online: bool,
    /// Provisional attendances.
    pub provisional: u64,
    /// Confirmed attendances.
    pub confirmed: u64,
    /// Rejected attendances.
    pub rejected: u64,
}

/// Which events the list shows (`None`: any).
#[derive(Debug, Clone, Copy, Default)]
pub struct EventFilter<'a> {
    /// Part of the title (case-insensitive for ASCII).
    pub title: Option<&'a str>,
    /// The fiscal year the event starts in.
    pub fiscal_year: Option<FiscalYear>,
}

type SummaryRow = (String, String, String, i64, i64, Option<String>, i64, i64, i64, i64);

/// Events matching `filter`, newest first, at most `limit`, with attendance counts by status.
pub async fn find_event_summaries(
    db: &Db,
    filter: &EventFilter<'_>,
    limit: u32,
) -> Result<Vec<EventSummary>, StoreError> {
    let mut cond = String::from("1 = 1");
    let mut texts: Vec<String> = Vec::new();
    let mut ints: Vec<i64> = Vec::new();
    if let Some(t) = filter.title {
        let escaped = t.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        texts.push(format!("%{}%", escaped.to_lowercase()));
        cond.push_str(" AND LOWER(e.title) LIKE $1 ESCAPE '\\'");
    }
    if let Some(y) = filter.fiscal_year {
        let n = texts.len();
        ints.push(dates::to_int(y.first_day()));
        ints.push(dates::to_int(y.last_day()));
        cond.push_str(&format!(" AND e.starts_on >= ${} AND e.starts_on <= ${}", n + 1, n + 2));
    }
    let sql = format!(
        "SELECT e.id, e.title, e.organizer, e.starts_on, e.ends_on, e.venue, e.online, \
         COALESCE(SUM(CASE WHEN a.status = 'provisional' THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN a.status = 'confirmed' THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN a.status = 'rejected' THEN 1 ELSE 0 END), 0) \
         FROM events e LEFT JOIN attendances a ON a.event_id = e.id WHERE {cond} \
         GROUP BY e.id, e.title, e.organizer, e.starts_on, e.ends_on, e.venue, e.online \
         ORDER BY e.starts_on DESC, e.id LIMIT {limit}"
    );
    let mut q = sqlx::query_as::<_, SummaryRow>(AssertSqlSafe(sql));
    for t in &texts {
        q = q.bind(t.as_str());
    }
    for i in &ints {
        q = q.bind(*i);
    }
    let mut out = Vec::new();
    for (id, title, organizer, starts, ends, venue, online, p, c, r) in q.fetch_all(db.pool()).await? {
        let date = |v| dates::from_int(v).ok_or_else(|| StoreError::Corrupt(format!("event {id}: date {v}")));
        out.push(EventSummary {
            starts_on: date(starts)?,
            ends_on: date(ends)?,
            id: id.clone(),
            title,
            organizer,
            venue,
            online: online != 0,
            provisional: u64::try_from(p).unwrap_or(0),
            confirmed: u64::try_from(c).unwrap_or(0),
            rejected: u64::try_from(r).unwrap_or(0),
        });
    }
    Ok(out)
}

/// One attendance of an event, with the doctor's registry name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventAttendance {
    /// Record id.
    pub id: String,
    /// The writer's idempotency key.
    pub idempotency_key: String,
    /// The doctor.
    pub registration_number: String,
    /// The registry's kanji name, when known.
    pub doctor_name: Option<String>,
    /// Day of attendance.
    pub attended_on: Date,
    /// Check-in and check-out (Unix seconds), for records made by kiosk taps.
    pub checked_in_at: Option<i64>,
    /// Check-out, once there is one.
    pub checked_out_at: Option<i64>,
    /// Status.
    pub status: Status,
    /// Credits carried, in the catalog's order.
    pub credits: Vec<Credit>,
}

/// Every attendance of an event, by date then registration number, with credits.
pub async fn find_event_attendances(db: &Db, event_id: &str) -> Result<Vec<EventAttendance>, StoreError> {
    type Row = (String, String, String, Option<String>, i64, String, Option<i64>, Option<i64>);
    let mut conn = db.pool().acquire().await?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT a.id, a.idempotency_key, a.registration_number, d.name, a.attended_on, a.status, \
         a.checked_in_at, a.checked_out_at \
         FROM attendances a LEFT JOIN doctors d ON d.registration_number = a.registration_number \
         WHERE a.event_id = $1 ORDER BY a.attended_on, a.registration_number, a.id",
    )
    .bind(event_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut index = std::collections::HashMap::new();
    for (id, key, number, name, on, status, checked_in_at, checked_out_at) in rows {
        index.insert(id.clone(), out.len());
        out.push(EventAttendance {
            attended_on: dates::from_int(on)
                .ok_or_else(|| StoreError::Corrupt(format!("attended_on {on}")))?,
            status: status.parse().map_err(|()| StoreError::Corrupt(format!("status {status}")))?,
            id,
            idempotency_key: key,
            registration_number: number,
            doctor_name: name,
            checked_in_at,
            checked_out_at,
            credits: Vec::new(),
        });
    }
    let credits: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT c.attendance_id, c.system_id, c.code, c.units FROM attendance_credits c \
         JOIN attendances a ON a.id = c.attendance_id \
         JOIN credit_systems s ON s.id = c.system_id \
         JOIN credit_codes cc ON cc.system_id = c.system_id AND cc.code = c.code \
         WHERE a.event_id = $1 ORDER BY c.attendance_id, s.sort_order, cc.sort_order",
    )
    .bind(event_id)
    .fetch_all(&mut *conn)
    .await?;
    for (attendance_id, system_id, code, units) in credits {
        if let Some(&i) = index.get(&attendance_id) {
            out[i].credits.push(Credit { system_id, code, units: Units(units) });
        }
    }
    Ok(out)
}

/// Confirms or rejects the provisional attendances among `ids` of event `event_id`, recording
/// who decided and when. Records already decided are left as they are. Returns how many changed.
pub async fn update_event_attendances(
    db: &Db,
    event_id: &str,
    ids: &[&str],
    status: Status,
    decided_by: &str,
    now: i64,
) -> Result<u64, StoreError> {
    if status == Status::Provisional {
        return Err(StoreError::Conflict("an attendance cannot go back to provisional".into()));
    }
    let mut changed = 0;
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "UPDATE attendances SET status = $1, decided_at = $2, decided_by = $3, updated_at = $2 \
             WHERE event_id = $4 AND status = 'provisional' AND id IN ({})",
            (5..5 + chunk.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
        );
        let mut q =
            sqlx::query(AssertSqlSafe(sql)).bind(status.as_str()).bind(now).bind(decided_by).bind(event_id);
        for id in chunk {
            q = q.bind(*id);
        }
        changed += q.execute(db.pool()).await?.rows_affected();
    }
    Ok(changed)
}

/// Replaces an event's fields and credits (the id stays); `false` when there is no such event.
/// The attendances keep the credits they were recorded with.
pub async fn update_event(db: &Db, e: &crate::store::events::Event, now: i64) -> Result<bool, StoreError> {
    let mut conn = db.pool().acquire().await?;
    let mut tx = conn.begin().await?;
    let done = sqlx::query(
        "UPDATE events SET title = $1, organizer = $2, starts_on = $3, ends_on = $4, venue = $5, online = $6, \
         updated_at = $7 WHERE id = $8",
    )
    .bind(&e.title)
    .bind(&e.organizer)
    .bind(dates::to_int(e.starts_on))
    .bind(dates::to_int(e.ends_on))
    .bind(&e.venue)
    .bind(i64::from(e.online))
    .bind(now)
    .bind(&e.id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query("DELETE FROM event_credits WHERE event_id = $1").bind(&e.id).execute(&mut *tx).await?;
    for c in &e.credits {
        sqlx::query("INSERT INTO event_credits (event_id, system_id, code, units) VALUES ($1, $2, $3, $4)")
            .bind(&e.id)
            .bind(&c.system_id)
            .bind(&c.code)
            .bind(c.units.0)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(true)
}
