//! SQL of `attendance_taps`: card taps at a venue's kiosk, and the attendances derived from
//! them (migration `0105_portal_taps.sql`).
//!
//! A tap's id is the kiosk's, so a tap sent twice is one row. The first tap of a card at an
//! event is the check-in; a tap within [`REPEAT_SECS`] of the card's previous one is a repeat;
//! any later one is a check-out (the last one counts). A tap whose card is linked to a doctor of
//! the registry makes (or updates) the doctor's provisional attendance, whose check-in and
//! check-out times are computed in SQL from every tap of the doctor at the event, so that taps
//! arriving late and out of order (a kiosk's offline queue) give the same record.

use sqlx::Row;
use storage::Db;

use crate::store::StoreError;
use crate::store::attendance::{self, NewAttendance, Status};
use crate::store::events::Event;

/// A tap within this many seconds of the same card's previous tap is a repeat.
pub const REPEAT_SECS: i64 = 120;

/// How a card was read: the kiosk's card read without PIN.
pub const METHOD_CARD_READ: &str = "card_read";

/// A tap to record.
#[derive(Debug, Clone)]
pub struct NewTap {
    /// The kiosk's id for the tap.
    pub id: String,
    /// The event.
    pub event_id: String,
    /// The card: issuing CA (DN) and subscriber id.
    pub card_issuer: String,
    /// The card's subscriber id (or serial, for a certificate without one).
    pub card_subscriber: String,
    /// The holder's name from the certificate.
    pub holder_name: Option<String>,
    /// The doctor's registration number, when the card is linked to one in the registry.
    pub registration_number: Option<String>,
    /// When the kiosk read the card (Unix seconds, the kiosk's clock).
    pub tapped_at: i64,
    /// The organizer whose kiosk read it (portal subject).
    pub recorded_by: String,
    /// How the card was read ([`METHOD_CARD_READ`]).
    pub method: &'static str,
}

/// What a tap was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TapKind {
    /// The card's first tap at the event.
    CheckIn,
    /// A tap soon after the previous one: nothing changes.
    Repeat,
    /// A later tap: the check-out.
    CheckOut,
}

impl TapKind {
    /// Wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CheckIn => "check_in",
            Self::Repeat => "repeat",
            Self::CheckOut => "check_out",
        }
    }
}

/// A recorded tap, as the kiosk shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// What the tap was.
    pub kind: TapKind,
    /// The tap's time (the first recording's, for a tap sent again).
    pub tapped_at: i64,
    /// The card's check-in at the event.
    pub checked_in_at: i64,
    /// The card's check-out, once there is one.
    pub checked_out_at: Option<i64>,
    /// Whether the tap is linked to a doctor (else kept as unlinked).
    pub linked: bool,
}

/// Records a tap (a tap id seen before changes nothing) and the attendance it makes; returns
/// what it was. A known id with another event or card is a conflict.
pub async fn record_tap(db: &Db, tap: &NewTap, event: &Event, now: i64) -> Result<Recorded, StoreError> {
    sqlx::query(
        "INSERT INTO attendance_taps (id, event_id, card_issuer, card_subscriber, holder_name, \
         registration_number, tapped_at, received_at, recorded_by, method) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&tap.id)
    .bind(&tap.event_id)
    .bind(&tap.card_issuer)
    .bind(&tap.card_subscriber)
    .bind(&tap.holder_name)
    .bind(&tap.registration_number)
    .bind(tap.tapped_at)
    .bind(now)
    .bind(&tap.recorded_by)
    .bind(tap.method)
    .execute(db.pool())
    .await?;
    let stored: (String, String, String, i64) = sqlx::query_as(
        "SELECT event_id, card_issuer, card_subscriber, tapped_at FROM attendance_taps WHERE id = $1",
    )
    .bind(&tap.id)
    .fetch_one(db.pool())
    .await?;
    if (stored.0.as_str(), stored.1.as_str(), stored.2.as_str())
        != (tap.event_id.as_str(), tap.card_issuer.as_str(), tap.card_subscriber.as_str())
    {
        return Err(StoreError::Conflict(format!("tap {} was recorded for another card or event", tap.id)));
    }
    let tapped_at = stored.3;
    if let Some(number) = &tap.registration_number {
        resolve_card(db, &tap.card_issuer, &tap.card_subscriber, number, now).await?;
        derive_attendance(db, event, number, now).await?;
    }
    // Each aggregate on its own, so that each is one look-up in the index on (card, event, time).
    let times = sqlx::query(
        "SELECT \
         (SELECT MIN(tapped_at) FROM attendance_taps WHERE card_issuer = $1 AND card_subscriber = $2 AND event_id = $3) AS first, \
         (SELECT MAX(tapped_at) FROM attendance_taps WHERE card_issuer = $1 AND card_subscriber = $2 AND event_id = $3) AS last, \
         (SELECT MAX(tapped_at) FROM attendance_taps WHERE card_issuer = $1 AND card_subscriber = $2 AND event_id = $3 \
          AND tapped_at < $4) AS previous, \
         (SELECT registration_number FROM attendance_taps WHERE id = $5) AS number",
    )
    .bind(&tap.card_issuer)
    .bind(&tap.card_subscriber)
    .bind(&tap.event_id)
    .bind(tapped_at)
    .bind(&tap.id)
    .fetch_one(db.pool())
    .await?;
    let first: i64 = times.try_get("first")?;
    let last: i64 = times.try_get("last")?;
    let previous: Option<i64> = times.try_get("previous")?;
    // Linking a card links all its taps at once, so this tap's own row tells.
    let number: Option<String> = times.try_get("number")?;
    let linked = number.is_some();
    let kind = match previous {
        None => TapKind::CheckIn,
        Some(p) if tapped_at - p < REPEAT_SECS => TapKind::Repeat,
        Some(_) => TapKind::CheckOut,
    };
    Ok(Recorded {
        kind,
        tapped_at,
        checked_in_at: first,
        checked_out_at: (last - first >= REPEAT_SECS).then_some(last),
        linked,
    })
}

/// The cards (issuer, subscriber id) that have taps waiting for a registration number.
pub async fn find_unlinked_cards(db: &Db) -> Result<Vec<(String, String)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT DISTINCT card_issuer, card_subscriber FROM attendance_taps WHERE registration_number IS NULL",
    )
    .fetch_all(db.pool())
    .await?)
}

/// Links the unlinked taps of a card to registration number `number` and makes the attendances
/// they give (a registry entry or the doctor's own link appeared). Returns how many taps were
/// linked.
pub async fn resolve_card(
    db: &Db,
    issuer: &str,
    subscriber: &str,
    number: &str,
    now: i64,
) -> Result<u64, StoreError> {
    // Read first: the doctor's pages call this on every view, and nearly always nothing waits.
    let waiting: Option<String> = sqlx::query_scalar(
        "SELECT id FROM attendance_taps \
         WHERE card_issuer = $1 AND card_subscriber = $2 AND registration_number IS NULL LIMIT 1",
    )
    .bind(issuer)
    .bind(subscriber)
    .fetch_optional(db.pool())
    .await?;
    if waiting.is_none() {
        return Ok(0);
    }
    let linked = sqlx::query(
        "UPDATE attendance_taps SET registration_number = $1 \
         WHERE card_issuer = $2 AND card_subscriber = $3 AND registration_number IS NULL",
    )
    .bind(number)
    .bind(issuer)
    .bind(subscriber)
    .execute(db.pool())
    .await?
    .rows_affected();
    if linked > 0 {
        let events: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT event_id FROM attendance_taps \
             WHERE card_issuer = $1 AND card_subscriber = $2 AND registration_number = $3",
        )
        .bind(issuer)
        .bind(subscriber)
        .bind(number)
        .fetch_all(db.pool())
        .await?;
        for id in events {
            if let Some(event) = crate::store::events::find_event(db, &id).await? {
                derive_attendance(db, &event, number, now).await?;
            }
        }
    }
    Ok(linked)
}

/// The idempotency key of the attendance that a doctor's taps at an event make.
pub fn attendance_key(event_id: &str, number: &str) -> String {
    format!("tap:{event_id}:{number}")
}

/// Makes the doctor's provisional attendance at `event` from the taps (once) and sets its
/// check-in and check-out from every tap of the doctor there, and its credits in systems that
/// grant by time attended.
async fn derive_attendance(db: &Db, event: &Event, number: &str, now: i64) -> Result<(), StoreError> {
    derive(db, event, number, now, false).await
}

/// [`derive_attendance`]; with `recompute`, the credits of per-event systems are set to the
/// event's units again too (after a system's rule changed back to per event).
async fn derive(db: &Db, event: &Event, number: &str, now: i64, recompute: bool) -> Result<(), StoreError> {
    let first: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(tapped_at) FROM attendance_taps WHERE event_id = $1 AND registration_number = $2",
    )
    .bind(&event.id)
    .bind(number)
    .fetch_one(db.pool())
    .await?;
    let Some(first) = first else { return Ok(()) };
    let key = attendance_key(&event.id, number);
    let attended_on = time::OffsetDateTime::from_unix_timestamp(first)
        .map(|t| t.to_offset(keys::clock::JST).date())
        .map_err(|e| StoreError::Corrupt(format!("tapped_at {first}: {e}")))?;
    let record = NewAttendance {
        idempotency_key: key.clone(),
        registration_number: number.to_owned(),
        event_id: event.id.clone(),
        attended_on,
        status: Status::Provisional,
        source: METHOD_CARD_READ.to_owned(),
        credits: event.credits.clone(),
    };
    // Read before the connection is taken: SQLite has a single one by default.
    let rules = crate::store::systems::find_time_rules(db).await?;
    let mut conn = db.pool().acquire().await?;
    attendance::create_attendances(&mut conn, std::slice::from_ref(&record), now).await?;
    // MIN and MAX in subqueries of their own: each one look-up in the index on (event, number,
    // time), however many taps there are.
    sqlx::query(
        "UPDATE attendances SET \
         checked_in_at = (SELECT MIN(tapped_at) FROM attendance_taps WHERE event_id = $1 AND registration_number = $2), \
         checked_out_at = (SELECT CASE WHEN t.last - t.first >= $3 THEN t.last END FROM (SELECT \
             (SELECT MAX(tapped_at) FROM attendance_taps WHERE event_id = $1 AND registration_number = $2) AS last, \
             (SELECT MIN(tapped_at) FROM attendance_taps WHERE event_id = $1 AND registration_number = $2) AS first) t), \
         updated_at = $4 WHERE id = $5",
    )
    .bind(&event.id)
    .bind(number)
    .bind(REPEAT_SECS)
    .bind(now)
    .bind(attendance::attendance_id(&key))
    .execute(&mut *conn)
    .await?;
    time_credits(&mut conn, &rules, event, &attendance::attendance_id(&key), recompute).await
}

/// The credits of a tap-made attendance in the systems that grant by time attended: from its
/// check-in to its check-out ([`crate::store::systems::TimeRule::units`], at most the event's units); nothing before a
/// check-out or below the system's minimum. Other systems keep the event's units.
async fn time_credits(
    conn: &mut sqlx::AnyConnection,
    rules: &std::collections::HashMap<String, crate::store::systems::TimeRule>,
    event: &Event,
    attendance_id: &str,
    recompute: bool,
) -> Result<(), StoreError> {
    if !recompute && !event.credits.iter().any(|c| rules.contains_key(&c.system_id)) {
        return Ok(());
    }
    let (checked_in, checked_out): (Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT checked_in_at, checked_out_at FROM attendances WHERE id = $1")
            .bind(attendance_id)
            .fetch_one(&mut *conn)
            .await?;
    let attended = match (checked_in, checked_out) {
        (Some(i), Some(o)) => o - i,
        _ => 0,
    };
    for c in event.credits.iter() {
        let units = match rules.get(&c.system_id) {
            Some(rule) => rule.units(attended, c.units.0),
            None => c.units.0,
        };
        sqlx::query(
            "DELETE FROM attendance_credits WHERE attendance_id = $1 AND system_id = $2 AND code = $3",
        )
        .bind(attendance_id)
        .bind(&c.system_id)
        .bind(&c.code)
        .execute(&mut *conn)
        .await?;
        if units > 0 {
            sqlx::query("INSERT INTO attendance_credits (attendance_id, system_id, code, units) VALUES ($1, $2, $3, $4)")
                .bind(attendance_id)
                .bind(&c.system_id)
                .bind(&c.code)
                .bind(units)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// Computes again the credits of every attendance made by taps (after a change of a system's
/// time rule). Returns how many attendances were computed.
pub async fn recompute_tap_attendances(db: &Db, now: i64) -> Result<u64, StoreError> {
    let pairs: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT event_id, registration_number FROM attendance_taps WHERE registration_number IS NOT NULL \
         ORDER BY event_id, registration_number",
    )
    .fetch_all(db.pool())
    .await?;
    let mut done = 0;
    let mut event: Option<Event> = None;
    for (event_id, number) in pairs {
        if event.as_ref().is_none_or(|e| e.id != event_id) {
            event = crate::store::events::find_event(db, &event_id).await?;
        }
        if let Some(e) = &event {
            derive(db, e, &number, now, true).await?;
            done += 1;
        }
    }
    Ok(done)
}

/// Taps of an event: how many cards, and how many of them are not linked yet.
pub async fn count_event_taps(db: &Db, event_id: &str) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(DISTINCT card_issuer || '|' || card_subscriber) AS cards, \
         COUNT(DISTINCT CASE WHEN registration_number IS NULL THEN card_issuer || '|' || card_subscriber END) AS unlinked \
         FROM attendance_taps WHERE event_id = $1",
    )
    .bind(event_id)
    .fetch_one(db.pool())
    .await?;
    Ok((row.try_get("cards")?, row.try_get("unlinked")?))
}
