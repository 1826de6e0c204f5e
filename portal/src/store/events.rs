//! SQL of the `events` and `event_credits` tables.

use std::collections::HashMap;

use sqlx::{AnyConnection, AssertSqlSafe};
use storage::Db;
use time::Date;

use crate::credits::{Units, dates};
use crate::store::{CHUNK, Params, StoreError, list, value_rows};

/// Units in one code of one system, as an event grants or an attendance carries them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Credit {
    /// The system.
    pub system_id: String,
    /// The code.
    pub code: String,
    /// The units.
    pub units: Units,
}

/// A training event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The organizer's event code or a generated id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Organizer (a medical association, a society).
    pub organizer: String,
    /// First day.
    pub starts_on: Date,
    /// Last day.
    pub ends_on: Date,
    /// Venue, if any.
    pub venue: Option<String>,
    /// Held online.
    pub online: bool,
    /// What it grants.
    pub credits: Vec<Credit>,
}

type EventRow = (String, String, String, i64, i64, Option<String>, i64);

/// The event with this id.
pub async fn find_event(db: &Db, id: &str) -> Result<Option<Event>, StoreError> {
    let mut conn = db.pool().acquire().await?;
    Ok(find_events(&mut conn, &[id]).await?.remove(id))
}

/// The events among `ids` that exist, with their credits, by id.
pub async fn find_events(
    conn: &mut AnyConnection,
    ids: &[&str],
) -> Result<HashMap<String, Event>, StoreError> {
    let params = Params::of(conn);
    let mut out = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT id, title, organizer, starts_on, ends_on, venue, online FROM events WHERE id IN ({})",
            list(params, chunk.len())
        );
        let mut q = sqlx::query_as::<_, EventRow>(AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(*id);
        }
        for (id, title, organizer, starts, ends, venue, online) in q.fetch_all(&mut *conn).await? {
            let date =
                |v| dates::from_int(v).ok_or_else(|| StoreError::Corrupt(format!("event {id}: date {v}")));
            let event = Event {
                starts_on: date(starts)?,
                ends_on: date(ends)?,
                id: id.clone(),
                title,
                organizer,
                venue,
                online: online != 0,
                credits: Vec::new(),
            };
            out.insert(id, event);
        }
        let sql = format!(
            "SELECT ec.event_id, ec.system_id, ec.code, ec.units FROM event_credits ec \
             JOIN credit_systems s ON s.id = ec.system_id \
             JOIN credit_codes cc ON cc.system_id = ec.system_id AND cc.code = ec.code \
             WHERE ec.event_id IN ({}) ORDER BY ec.event_id, s.sort_order, cc.sort_order",
            list(params, chunk.len())
        );
        let mut q = sqlx::query_as::<_, (String, String, String, i64)>(AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(*id);
        }
        for (event_id, system_id, code, units) in q.fetch_all(&mut *conn).await? {
            if let Some(e) = out.get_mut(&event_id) {
                e.credits.push(Credit { system_id, code, units: Units(units) });
            }
        }
    }
    Ok(out)
}

/// Inserts an event with its credits; `false` (and nothing written) when the id exists.
pub async fn create_event(conn: &mut AnyConnection, e: &Event, now: i64) -> Result<bool, StoreError> {
    let params = Params::of(conn);
    let done = sqlx::query(
        "INSERT INTO events (id, title, organizer, starts_on, ends_on, venue, online, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&e.id)
    .bind(&e.title)
    .bind(&e.organizer)
    .bind(dates::to_int(e.starts_on))
    .bind(dates::to_int(e.ends_on))
    .bind(&e.venue)
    .bind(i64::from(e.online))
    .bind(now)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    if !e.credits.is_empty() {
        let sql = format!(
            "INSERT INTO event_credits (event_id, system_id, code, units) VALUES {}",
            value_rows(params, e.credits.len(), 4)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for c in &e.credits {
            q = q.bind(&e.id).bind(&c.system_id).bind(&c.code).bind(c.units.0);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(true)
}
