//! `import attendance`: one CSV row = one doctor's attendance at one event on one day, with the
//! credits it carries. Columns are documented in `docs/import.md`.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Connection, Executor};
use storage::{Backend, Db};
use time::Date;

use crate::credits::{Units, dates};
use crate::import::input::{Row, Table};
use crate::import::{ImportError, Options, Report, RowError, RowErrorKind, registration};
use crate::store::attendance::{
    MAX_KEY, NewAttendance, Status, create_attendances, find_existing_keys, valid_key,
};
use crate::store::doctors::find_doctors;
use crate::store::events::{Credit, Event, create_event, find_events};
use crate::store::systems::{find_codes, find_systems};

/// Columns that every file has.
pub const REQUIRED: &[&str] = &["registration_number", "event_id", "date"];
/// Columns a file may have.
pub const OPTIONAL: &[&str] =
    &["record_id", "event_title", "organizer", "venue", "online", "credits", "status"];

/// The credit systems and codes a file may name.
#[derive(Debug, Default)]
pub struct Catalog {
    systems: HashMap<String, (Units, HashSet<String>)>,
}

impl Catalog {
    /// Loads every system and code.
    pub async fn load(db: &Db) -> Result<Self, ImportError> {
        let mut systems: HashMap<String, (Units, HashSet<String>)> =
            find_systems(db).await?.into_iter().map(|s| (s.id, (s.unit_step, HashSet::new()))).collect();
        for c in find_codes(db).await? {
            if let Some((_, codes)) = systems.get_mut(&c.system_id) {
                codes.insert(c.code);
            }
        }
        Ok(Self { systems })
    }

    /// Parses a `credits` field: `SYSTEM:CODE=UNITS` items separated by `;`; `Err` says why
    /// in English.
    pub fn parse_credits(&self, field: &str) -> Result<Vec<Credit>, String> {
        self.parse_credit_items(field).map_err(|e| e.to_string())
    }

    /// [`Catalog::parse_credits`], saying why as a [`RowErrorKind`].
    pub fn parse_credit_items(&self, field: &str) -> Result<Vec<Credit>, RowErrorKind> {
        let mut out: Vec<Credit> = Vec::new();
        for item in field.split(';').map(str::trim).filter(|i| !i.is_empty()) {
            let parsed = item
                .split_once('=')
                .and_then(|(sc, units)| sc.split_once(':').map(|(s, c)| (s.trim(), c.trim(), units)));
            let Some((system, code, units)) = parsed.filter(|(s, c, _)| !s.is_empty() && !c.is_empty())
            else {
                return Err(RowErrorKind::CreditSyntax { item: item.to_owned() });
            };
            let Some((step, codes)) = self.systems.get(system) else {
                return Err(RowErrorKind::UnknownCreditSystem { system: system.to_owned() });
            };
            if !codes.contains(code) {
                return Err(RowErrorKind::UnknownCreditCode {
                    system: system.to_owned(),
                    code: code.to_owned(),
                });
            }
            let units =
                Units::parse_with_step(units, *step).map_err(|e| RowErrorKind::units(system, code, e))?;
            if out.iter().any(|c| c.system_id == system && c.code == code) {
                return Err(RowErrorKind::CreditTwice { system: system.to_owned(), code: code.to_owned() });
            }
            out.push(Credit { system_id: system.to_owned(), code: code.to_owned(), units });
        }
        Ok(out)
    }
}

/// Prefix of the idempotency keys that imports write: `import:` + `record_id`.
const IMPORT_PREFIX: &str = "import:";
/// Prefix of a `record_id` that names a stored idempotency key as it is.
const KEY_PREFIX: &str = "key:";
/// Longest `record_id` in its plain form.
pub const MAX_RECORD_ID: usize = 200;

/// The idempotency key a `record_id` names: `key:K` names the key `K` itself (a record written
/// by another writer, such as a card tap, as the export writes it); anything else `X` names
/// `import:X`. The inverse of [`record_id`].
pub fn record_key(record_id: &str) -> Result<String, RowErrorKind> {
    match record_id.strip_prefix(KEY_PREFIX) {
        Some(key) if !valid_key(key) => Err(RowErrorKind::NotARecordKey { max: MAX_KEY }),
        Some(key) => Ok(key.to_owned()),
        None if record_id.chars().count() > MAX_RECORD_ID => {
            Err(RowErrorKind::TooLong { max: MAX_RECORD_ID })
        }
        None => Ok(format!("{IMPORT_PREFIX}{record_id}")),
    }
}

/// The `record_id` that names the stored idempotency key `key`: `X` for `import:X` (what the
/// file that created the record said), `key:K` for any other key `K`, and for an imported
/// `import:key:…` too, so that [`record_key`] gives `key` back exactly.
pub fn record_id(key: &str) -> std::borrow::Cow<'_, str> {
    match key.strip_prefix(IMPORT_PREFIX) {
        Some(id) if !id.is_empty() && !id.starts_with(KEY_PREFIX) && id.chars().count() <= MAX_RECORD_ID => {
            std::borrow::Cow::Borrowed(id)
        }
        _ => std::borrow::Cow::Owned(format!("{KEY_PREFIX}{key}")),
    }
}

/// Whether `id` is an event id: 1 to 64 of `A-Z a-z 0-9 - _ .`.
pub fn valid_event_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// A row that passed the checks that need no database.
#[derive(Debug)]
struct Parsed {
    line: u64,
    key: String,
    number: String,
    event_id: String,
    date: Date,
    title: Option<String>,
    organizer: Option<String>,
    venue: Option<String>,
    online: bool,
    credits: Vec<Credit>,
    status: Status,
}

fn parse_row(row: &Row, catalog: &Catalog) -> Result<Parsed, RowError> {
    let line = row.line;
    let number = registration::normalize(row.get("registration_number"))
        .map_err(|e| RowError::at(line, "registration_number", e))?;
    let event_id = row.get("event_id");
    if !valid_event_id(event_id) {
        let kind = RowErrorKind::NotAnEventId { value: event_id.to_owned() };
        return Err(RowError::at(line, "event_id", kind));
    }
    let date = dates::parse(row.get("date")).ok_or_else(|| {
        RowError::at(line, "date", RowErrorKind::NotADate { value: row.get("date").to_owned() })
    })?;
    let online = match row.get("online").to_ascii_lowercase().as_str() {
        "" | "0" | "no" | "false" => false,
        "1" | "yes" | "true" => true,
        other => {
            let kind = RowErrorKind::NotABoolean { value: other.to_owned() };
            return Err(RowError::at(line, "online", kind));
        }
    };
    let credits =
        catalog.parse_credit_items(row.get("credits")).map_err(|e| RowError::at(line, "credits", e))?;
    let status = match row.get("status") {
        "" | "provisional" => Status::Provisional,
        "confirmed" => Status::Confirmed,
        "rejected" => Status::Rejected,
        other => {
            let kind = RowErrorKind::NotAStatus { value: other.to_owned() };
            return Err(RowError::at(line, "status", kind));
        }
    };
    let key = match row.opt("record_id") {
        Some(id) => record_key(id).map_err(|e| RowError::at(line, "record_id", e))?,
        None => format!("{IMPORT_PREFIX}{event_id}/{number}/{}", dates::to_int(date)),
    };
    Ok(Parsed {
        line,
        key,
        number,
        event_id: event_id.to_owned(),
        date,
        title: row.opt("event_title").map(str::to_owned),
        organizer: row.opt("organizer").map(str::to_owned),
        venue: row.opt("venue").map(str::to_owned),
        online,
        credits,
        status,
    })
}

/// Imports attendance records from CSV `data`. `progress` is told how many bytes are done.
///
/// The whole import runs on one connection of its own, outside the pool ([`Db::connect_one`]:
/// requests keep the pool). On SQLite that connection gets a large page cache (the random-order
/// indexes of `attendances` and `attendance_credits` stay in memory instead of being read back
/// from the file for each batch). Durability settings are left alone.
pub async fn import(
    db: &Db,
    data: &[u8],
    opts: &Options,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<Report, ImportError> {
    let table = Table::open(data, opts.encoding, REQUIRED, OPTIONAL)?;
    let catalog = Catalog::load(db).await?;
    let mut conn = db.connect_one().await?;
    if db.backend() == Backend::Sqlite {
        (&mut conn).execute(SQLITE_IMPORT_PRAGMAS).await?;
    }
    let mut report = Report::new(table.encoding, opts.dry_run);
    let mut state = State::default();
    let mut timings = Timings::default();
    let mut batch = Vec::with_capacity(opts.batch_size);
    let mut rows = table.rows().peekable();
    while rows.peek().is_some() {
        batch.clear();
        let mut end = 0;
        let started = Instant::now();
        for row in rows.by_ref().take(opts.batch_size.max(1)) {
            report.rows += 1;
            match row.and_then(|r| {
                end = r.end_byte;
                parse_row(&r, &catalog)
            }) {
                Ok(p) => batch.push(p),
                Err(e) => report.errors.push(e),
            }
        }
        timings.parse += started.elapsed();
        write_batch(&mut conn, &mut batch, opts, &mut state, &mut report, &mut timings).await?;
        progress(end);
    }
    tracing::debug!(
        rows = report.rows,
        parse_ms = timings.parse.as_millis(),
        look_up_ms = timings.look_up.as_millis(),
        check_ms = timings.check.as_millis(),
        insert_ms = timings.insert.as_millis(),
        commit_ms = timings.commit.as_millis(),
        longest_write_ms = timings.longest_write.as_millis(),
        "attendance import phases"
    );
    conn.close().await?;
    report.errors.sort_by_key(|e| e.line);
    Ok(report)
}

/// Set on the import's own SQLite connection: 256 MiB of page cache, temporary data in memory.
const SQLITE_IMPORT_PRAGMAS: &str = "PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY;";

/// Where an import spends its time (logged at debug level: `RUST_LOG=portal::import=debug`).
#[derive(Debug, Default)]
struct Timings {
    /// Reading, decoding and checking rows.
    parse: Duration,
    /// Finding doctors and events.
    look_up: Duration,
    /// Checking rows against the database and this file (known records, repeats).
    check: Duration,
    /// Writing events, attendances and credits.
    insert: Duration,
    /// Committing.
    commit: Duration,
    /// The longest time one batch held the write (its inserts and commit).
    longest_write: Duration,
}

/// What earlier batches learned, so that later ones need not ask again.
#[derive(Debug, Default)]
struct State {
    /// Registration numbers known to exist.
    doctors: HashSet<String>,
    /// Events known to exist (or created by this file), with their credits.
    events: HashMap<String, Vec<Credit>>,
    /// Record keys seen in this file, with their line.
    seen: HashMap<[u8; 16], u64>,
}

async fn write_batch(
    conn: &mut AnyConnection,
    batch: &mut Vec<Parsed>,
    opts: &Options,
    state: &mut State,
    report: &mut Report,
    timings: &mut Timings,
) -> Result<(), ImportError> {
    let started = Instant::now();
    let mut tx = conn.begin().await?;

    // Doctors and events not seen in earlier batches.
    let numbers: Vec<&str> =
        unique(batch.iter().map(|p| p.number.as_str()).filter(|n| !state.doctors.contains(*n)));
    let found = find_doctors(&mut tx, &numbers).await?;
    state.doctors.extend(found.into_keys());
    let event_ids: Vec<&str> =
        unique(batch.iter().map(|p| p.event_id.as_str()).filter(|e| !state.events.contains_key(*e)));
    for (id, e) in find_events(&mut tx, &event_ids).await? {
        state.events.insert(id, e.credits);
    }

    timings.look_up += started.elapsed();
    let started = Instant::now();

    let mut new_events: Vec<Event> = Vec::new();
    let mut good: Vec<NewAttendance> = Vec::with_capacity(batch.len());
    for p in batch.drain(..) {
        if !state.doctors.contains(&p.number) {
            report.errors.push(RowError::at(
                p.line,
                "registration_number",
                RowErrorKind::UnknownRegistrationNumber { number: p.number.clone() },
            ));
            continue;
        }
        let id_bytes = key_digest(&p.key);
        if let Some(first) = state.seen.get(&id_bytes) {
            report.errors.push(RowError::row(p.line, RowErrorKind::DuplicateRecord { first: *first }));
            continue;
        }
        let credits = match state.events.get(&p.event_id) {
            Some(event_credits) if p.credits.is_empty() && event_credits.is_empty() => {
                report.errors.push(RowError::at(
                    p.line,
                    "credits",
                    RowErrorKind::NoCredits { event: p.event_id.clone() },
                ));
                continue;
            }
            Some(event_credits) if p.credits.is_empty() => event_credits.clone(),
            Some(_) => p.credits,
            None => {
                let (Some(title), Some(organizer)) = (p.title, p.organizer) else {
                    report.errors.push(RowError::at(
                        p.line,
                        "event_id",
                        RowErrorKind::UnknownEvent { event: p.event_id.clone() },
                    ));
                    continue;
                };
                if p.credits.is_empty() {
                    report.errors.push(RowError::at(
                        p.line,
                        "credits",
                        RowErrorKind::NewEventWithoutCredits { event: p.event_id.clone() },
                    ));
                    continue;
                }
                state.events.insert(p.event_id.clone(), p.credits.clone());
                new_events.push(Event {
                    id: p.event_id.clone(),
                    title,
                    organizer,
                    starts_on: p.date,
                    ends_on: p.date,
                    venue: p.venue,
                    online: p.online,
                    credits: p.credits.clone(),
                });
                p.credits
            }
        };
        state.seen.insert(id_bytes, p.line);
        good.push(NewAttendance {
            idempotency_key: p.key,
            registration_number: p.number,
            event_id: p.event_id,
            attended_on: p.date,
            status: p.status,
            source: "import".to_owned(),
            credits,
        });
    }

    let keys: Vec<&str> = good.iter().map(|a| a.idempotency_key.as_str()).collect();
    let existing = find_existing_keys(&mut tx, &keys).await?;
    report.unchanged += existing.len() as u64;
    good.retain(|a| !existing.contains(&a.idempotency_key));
    timings.check += started.elapsed();
    if opts.dry_run {
        report.inserted += good.len() as u64;
        tx.rollback().await?;
        return Ok(());
    }
    let started = Instant::now();
    for e in &new_events {
        create_event(&mut tx, e, opts.now).await?;
    }
    let inserted = create_attendances(&mut tx, &good, opts.now).await?;
    timings.insert += started.elapsed();
    let committing = Instant::now();
    tx.commit().await?;
    timings.commit += committing.elapsed();
    timings.longest_write = timings.longest_write.max(started.elapsed());
    // A concurrent writer may have recorded some keys since the look-up: those are unchanged.
    report.inserted += inserted;
    report.unchanged += good.len() as u64 - inserted;
    Ok(())
}

fn key_digest(key: &str) -> [u8; 16] {
    let digest = Sha256::digest(key.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

fn unique<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    items.filter(|i| seen.insert(*i)).collect()
}

#[cfg(test)]
mod tests {
    use super::{record_id, record_key};

    #[test]
    fn record_ids_name_keys_and_back() {
        for (key, id) in [
            ("import:R1", "R1"),
            ("import:EV1/123456/20260601", "EV1/123456/20260601"),
            ("import:-5", "-5"),
            ("tap:card-9/2026-07-01", "key:tap:card-9/2026-07-01"),
            ("entry:org-1/5", "key:entry:org-1/5"),
            ("import:key:legacy", "key:import:key:legacy"),
            ("import:", "key:import:"),
            ("importR1", "key:importR1"),
        ] {
            assert_eq!(record_id(key), id, "{key}");
            assert_eq!(record_key(id).unwrap(), key, "{id}");
        }
        let long = format!("import:{}", "x".repeat(201));
        assert_eq!(record_id(&long), format!("key:{long}"));
        assert_eq!(record_key(&record_id(&long)).unwrap(), long);
        // Two spellings of one record.
        assert_eq!(record_key("key:import:R1").unwrap(), record_key("R1").unwrap());
    }

    #[test]
    fn bad_record_ids_are_refused() {
        assert_eq!(record_key(&"x".repeat(201)).unwrap_err().to_string(), "longer than 200 characters");
        assert!(record_key(&"x".repeat(200)).is_ok());
        let refused =
            "`key:` must be followed by a record key: 1 to 256 characters, no white space at either end";
        assert_eq!(record_key("key:").unwrap_err().to_string(), refused);
        assert_eq!(record_key("key: x").unwrap_err().to_string(), refused);
        assert_eq!(record_key(&format!("key:{}", "k".repeat(257))).unwrap_err().to_string(), refused);
        assert!(record_key(&format!("key:{}", "k".repeat(256))).is_ok());
    }
}
