//! `import registry`: one CSV row = one doctor (registration number, kana name, birth date,
//! optional kanji name). The registry is authoritative: a changed row updates the doctor.
//!
//! Optional `issuer` + `subscriber_id` columns name the doctor's HPKI card (issuing CA as card
//! sign-in records it, subject serialNumber): such rows are also returned as [`CardHolder`]s,
//! which the binary hands to the idp so it can release the `license` claims (docs/design.md §7).

use std::collections::HashMap;

use storage::Db;
use time::{Date, Month};

use crate::credits::dates;
use crate::import::input::{Row, Table};
use crate::import::{ImportError, Options, Report, RowError, RowErrorKind, registration};
use crate::store::doctors::{Doctor, create_doctors, find_doctors, update_doctor};

/// Columns that every file has.
pub const REQUIRED: &[&str] = &["registration_number", "kana_name", "birth_date"];
/// Columns a file may have.
pub const OPTIONAL: &[&str] = &["name", "issuer", "subscriber_id"];

/// A registry row that names the doctor's card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardHolder {
    /// Issuing CA of the card (as the idp records it).
    pub issuer: String,
    /// Subject serialNumber of the card certificates.
    pub subscriber_id: String,
    /// The doctor.
    pub doctor: Doctor,
}

/// Whether `text` is a katakana name: katakana, the long-vowel mark, middle dot and spaces.
fn is_katakana_name(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| matches!(c, '\u{30A1}'..='\u{30FC}' | ' ' | '\u{3000}'))
}

/// Issuing CA and subscriber id of a card.
type CardKey = (String, String);

/// The card a row names: both columns or neither.
fn parse_card(row: &Row) -> Result<Option<CardKey>, RowError> {
    let line = row.line;
    match (row.opt("issuer").map(str::trim), row.opt("subscriber_id").map(str::trim)) {
        (None | Some(""), None | Some("")) => Ok(None),
        (Some(i), Some(s)) if !i.is_empty() && !s.is_empty() => {
            if i.chars().count() > 500 || s.chars().count() > 100 {
                return Err(RowError::row(line, RowErrorKind::CardTooLong));
            }
            Ok(Some((i.to_owned(), s.to_owned())))
        }
        (Some(_) | None, _) => Err(RowError::row(line, RowErrorKind::CardHalf)),
    }
}

fn parse_row(row: &Row, today: Date) -> Result<(u64, Doctor, Option<CardKey>), RowError> {
    let line = row.line;
    let number = registration::normalize(row.get("registration_number"))
        .map_err(|e| RowError::at(line, "registration_number", e))?;
    let kana = row.get("kana_name");
    if !is_katakana_name(kana) {
        let kind = RowErrorKind::NotKatakana { value: kana.to_owned() };
        return Err(RowError::at(line, "kana_name", kind));
    }
    if kana.chars().count() > 100 {
        return Err(RowError::at(line, "kana_name", RowErrorKind::TooLong { max: 100 }));
    }
    let birth = row.get("birth_date");
    let birth_date = dates::parse(birth).ok_or_else(|| {
        RowError::at(line, "birth_date", RowErrorKind::NotADate { value: birth.to_owned() })
    })?;
    let earliest = Date::from_calendar_date(1900, Month::January, 1).unwrap_or(Date::MIN);
    if birth_date > today || birth_date < earliest {
        let kind = RowErrorKind::ImplausibleBirthDate { value: birth_date.to_string() };
        return Err(RowError::at(line, "birth_date", kind));
    }
    let name = row.opt("name").map(str::to_owned);
    if name.as_ref().is_some_and(|n| n.chars().count() > 100) {
        return Err(RowError::at(line, "name", RowErrorKind::TooLong { max: 100 }));
    }
    let card = parse_card(row)?;
    Ok((
        line,
        Doctor {
            registration_number: number,
            name,
            kana_name: kana.to_owned(),
            birth_date,
            source: "registry".into(),
        },
        card,
    ))
}

/// Imports the registry from CSV `data`. `progress` is told how many bytes are done.
pub async fn import(
    db: &Db,
    data: &[u8],
    opts: &Options,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<Report, ImportError> {
    import_with_card_holders(db, data, opts, progress).await.map(|(report, _)| report)
}

/// [`import`], also returning the accepted rows that name a card.
pub async fn import_with_card_holders(
    db: &Db,
    data: &[u8],
    opts: &Options,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<(Report, Vec<CardHolder>), ImportError> {
    let mut holders = Vec::new();
    let table = Table::open(data, opts.encoding, REQUIRED, OPTIONAL)?;
    let today = time::OffsetDateTime::from_unix_timestamp(opts.now)
        .map(|t| t.to_offset(time::UtcOffset::from_hms(9, 0, 0).unwrap_or(time::UtcOffset::UTC)).date())
        .unwrap_or(Date::MAX);
    let mut report = Report::new(table.encoding, opts.dry_run);
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut rows = table.rows().peekable();
    while rows.peek().is_some() {
        let mut batch: Vec<(u64, Doctor)> = Vec::new();
        let mut end = 0;
        for row in rows.by_ref().take(opts.batch_size.max(1)) {
            report.rows += 1;
            let parsed = row.and_then(|r| {
                end = r.end_byte;
                parse_row(&r, today)
            });
            match parsed {
                Ok((line, d, card)) => match seen.get(&d.registration_number) {
                    Some(first) => report.errors.push(RowError::at(
                        line,
                        "registration_number",
                        RowErrorKind::DuplicateRegistrationNumber { first: *first },
                    )),
                    None => {
                        seen.insert(d.registration_number.clone(), line);
                        if let Some((issuer, subscriber_id)) = card {
                            holders.push(CardHolder { issuer, subscriber_id, doctor: d.clone() });
                        }
                        batch.push((line, d));
                    }
                },
                Err(e) => report.errors.push(e),
            }
        }
        write_batch(db, &batch, opts, &mut report).await?;
        progress(end);
    }
    report.errors.sort_by_key(|e| e.line);
    if !opts.dry_run && !holders.is_empty() {
        link_waiting_taps(db, &holders, opts.now).await?;
    }
    Ok((report, holders))
}

/// Links the kiosk taps of cards that were read before the registry named them (design §9:
/// an unlinked card is resolved when its link appears). Reads the few waiting cards first, so
/// a large registry costs one query when nothing waits.
async fn link_waiting_taps(db: &Db, holders: &[CardHolder], now: i64) -> Result<(), ImportError> {
    let waiting = crate::store::taps::find_unlinked_cards(db).await?;
    if waiting.is_empty() {
        return Ok(());
    }
    let waiting: std::collections::HashSet<(String, String)> = waiting.into_iter().collect();
    for h in holders {
        if waiting.contains(&(h.issuer.clone(), h.subscriber_id.clone())) {
            crate::store::taps::resolve_card(
                db,
                &h.issuer,
                &h.subscriber_id,
                &h.doctor.registration_number,
                now,
            )
            .await?;
        }
    }
    Ok(())
}

async fn write_batch(
    db: &Db,
    batch: &[(u64, Doctor)],
    opts: &Options,
    report: &mut Report,
) -> Result<(), ImportError> {
    let mut conn = db.pool().acquire().await?;
    let mut tx = conn.begin().await?;
    let numbers: Vec<&str> = batch.iter().map(|(_, d)| d.registration_number.as_str()).collect();
    let existing = find_doctors(&mut tx, &numbers).await?;
    let mut new = Vec::new();
    let mut changed = Vec::new();
    for (_, d) in batch {
        match existing.get(&d.registration_number) {
            None => new.push(d.clone()),
            Some(old) if old == d => report.unchanged += 1,
            Some(_) => changed.push(d),
        }
    }
    report.inserted += new.len() as u64;
    report.updated += changed.len() as u64;
    if opts.dry_run {
        tx.rollback().await?;
        return Ok(());
    }
    create_doctors(&mut tx, &new, opts.now).await?;
    for d in changed {
        update_doctor(&mut tx, d, opts.now).await?;
    }
    tx.commit().await?;
    Ok(())
}
