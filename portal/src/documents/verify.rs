//! Checking a document by id: is it ours (the JWS verifies against the published keys and
//! matches its record), unchanged, and not revoked.

use serde::Serialize;
use storage::Db;

use crate::credits::dates;
use crate::documents::jws::{self, JwsError, Signer};
use crate::documents::{Content, DocumentError, is_id};
use crate::store::documents::find_document;

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Verdict {
    /// Issued by the portal, unchanged, in force.
    Genuine {
        /// The content.
        content: Box<Content>,
        /// The signed record.
        jws: String,
    },
    /// Issued by the portal and unchanged, but revoked by an operator.
    Revoked {
        /// The content.
        content: Box<Content>,
        /// The signed record.
        jws: String,
        /// Unix seconds of revocation.
        revoked_at: i64,
        /// Why.
        reason: String,
    },
    /// A record exists under this id but its signature or content does not hold.
    NotGenuine {
        /// What failed.
        reason: String,
    },
    /// No document has this id.
    Unknown,
}

/// Checks document `id` against the keys published at `now`.
pub async fn check(db: &Db, signer: &Signer, id: &str, now: i64) -> Result<Verdict, DocumentError> {
    if !is_id(id) {
        return Ok(Verdict::Unknown);
    }
    let Some(record) = find_document(db, id).await? else {
        return Ok(Verdict::Unknown);
    };
    let jwks = signer.jwks(now).await?;
    let content = match jws::verify(&record.jws, &jwks) {
        Ok(c) => c,
        Err(e) => return Ok(Verdict::NotGenuine { reason: e.to_string() }),
    };
    let matches = content.jti == record.id
        && content.kind.as_str() == record.kind
        && content.doctor.registration_number == record.registration_number
        && dates::to_int(content.period.from) == record.period_from
        && dates::to_int(content.period.to) == record.period_to;
    if !matches {
        return Ok(Verdict::NotGenuine { reason: JwsError::BadPayload.to_string() });
    }
    let content = Box::new(content);
    Ok(match (record.revoked_at, record.revoked_reason) {
        (Some(revoked_at), reason) => {
            Verdict::Revoked { content, jws: record.jws, revoked_at, reason: reason.unwrap_or_default() }
        }
        (None, _) => Verdict::Genuine { content, jws: record.jws },
    })
}
