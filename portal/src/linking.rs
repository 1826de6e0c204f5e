//! Linking a signed-in doctor to a medical registration number (docs/design.md §7): from the idp's
//! `medical_registration_number` claim when the registry knows that number (confirmed at once),
//! or from the doctor's own entry, pending until an organizer confirms it.

use storage::Db;

use crate::import::registration;
use crate::signin::PortalSession;
use crate::store::StoreError;
use crate::store::doctors::find_doctor;
use crate::store::links::{Link, create_confirmed_link, find_link};

/// Why an entered registration number is refused (each has a message next to the field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// Nothing entered.
    #[error("enter your registration number")]
    Empty,
    /// Something other than digits.
    #[error("a registration number has digits only")]
    NotDigits,
    /// All zeros, or more than 8 digits once leading zeros are dropped.
    #[error("a registration number has 1 to 8 digits")]
    Length,
}

impl EntryError {
    /// Locale key of the message.
    pub fn message_key(self) -> &'static str {
        match self {
            Self::Empty => "registration_error_empty",
            Self::NotDigits => "registration_error_digits",
            Self::Length => "registration_error_length",
        }
    }
}

/// The canonical form of an entered number, normalised as the imports do (full-width digits,
/// leading zeros dropped).
pub fn parse_entry(text: &str) -> Result<String, EntryError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(EntryError::Empty);
    }
    if !t.chars().all(|c| c.is_ascii_digit() || ('０'..='９').contains(&c)) {
        return Err(EntryError::NotDigits);
    }
    registration::normalize(t).map_err(|_| EntryError::Length)
}

/// The session's link, creating a confirmed one first when the session carries a registration
/// number claim that is in the registry and no confirmed link exists yet. With a confirmed link,
/// the unlinked kiosk taps of the session's card are resolved to its number (the doctor's own
/// link, or a registry entry that reached the idp, links the card's earlier taps).
pub async fn resolve(db: &Db, session: &PortalSession, now: i64) -> Result<Option<Link>, StoreError> {
    let link = resolve_link(db, session, now).await?;
    // Kiosk taps of the signed-in card that waited for a registration number.
    if let (Some(card), Some(l)) = (&session.card, &link)
        && l.status == crate::store::links::LinkStatus::Confirmed
    {
        let linked = crate::store::taps::resolve_card(
            db,
            &card.issuer,
            &card.subscriber_id,
            &l.registration_number,
            now,
        )
        .await?;
        if linked > 0 {
            tracing::info!(linked, "unlinked kiosk taps resolved through the doctor's link");
        }
    }
    Ok(link)
}

async fn resolve_link(db: &Db, session: &PortalSession, now: i64) -> Result<Option<Link>, StoreError> {
    let link = find_link(db, &session.sub).await?;
    if link.as_ref().is_some_and(|l| l.status == crate::store::links::LinkStatus::Confirmed) {
        return Ok(link);
    }
    let Some(number) =
        session.medical_registration_number.as_deref().and_then(|n| registration::normalize(n).ok())
    else {
        return Ok(link);
    };
    if find_doctor(db, &number).await?.is_none() {
        tracing::info!("registration number claim not in the registry; the doctor links by entry");
        return Ok(link);
    }
    create_confirmed_link(db, &session.sub, &number, session.name.as_deref(), now).await?;
    find_link(db, &session.sub).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_normalised_like_imports() {
        assert_eq!(parse_entry(" 0123456 "), Ok("123456".into()));
        assert_eq!(parse_entry("１２３４５６"), Ok("123456".into()));
        assert_eq!(parse_entry("00012345678"), Ok("12345678".into()));
        assert_eq!(parse_entry(""), Err(EntryError::Empty));
        assert_eq!(parse_entry("   "), Err(EntryError::Empty));
        assert_eq!(parse_entry("12-34"), Err(EntryError::NotDigits));
        assert_eq!(parse_entry("abc"), Err(EntryError::NotDigits));
        assert_eq!(parse_entry("0000"), Err(EntryError::Length));
        assert_eq!(parse_entry("123456789"), Err(EntryError::Length));
    }
}
