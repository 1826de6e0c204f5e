//! Verifiable documents: 受講証明書 (attendances in a period), yearly credit statements, the
//! 日医生涯教育認定証 and the 資格確認書 (the qualification on the doctor's card). A document is a signed record (compact JWS, ES256, the portal's key series
//! published at `/jwks`) stored with its id; the PDF shows it with a QR code of the public
//! verification URL `/v/{id}`, and an operator can revoke it.
//!
//! [`issue`] is the core: a plain function of the database, the signer, a request and `now`, so
//! the HTTP route, the CLI and tests call the same code.

pub mod content;
pub mod download;
pub mod jws;
pub mod page;
pub mod pdf;
pub mod routes;
pub mod verify;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use storage::Db;
use time::Date;

use crate::credits::{Units, dates};
use crate::store::StoreError;
use crate::store::documents::{DocumentRecord, create_document};

pub use content::{Content, Kind, Qualification};
pub use jws::Signer;

/// What to issue: the kind with its period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// 受講証明書: confirmed attendances from `from` to `to` (both included).
    Attendance {
        /// First day.
        from: Date,
        /// Last day.
        to: Date,
    },
    /// Yearly credit statement of one fiscal year (April–March; 2026 = FY 2026).
    Statement {
        /// The fiscal year.
        fiscal_year: i32,
    },
    /// 日医生涯教育認定証, over the rule's current window; only when eligible.
    JmaCertificate,
}

impl Request {
    /// The document kind.
    pub fn kind(self) -> Kind {
        match self {
            Self::Attendance { .. } => Kind::Attendance,
            Self::Statement { .. } => Kind::Statement,
            Self::JmaCertificate => Kind::JmaCertificate,
        }
    }
}

/// Why a document was not issued.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// No doctor with this registration number.
    #[error("no doctor with registration number {0}")]
    UnknownDoctor(String),
    /// The period ends before it starts.
    #[error("the period ends ({to}) before it starts ({from})")]
    BadPeriod {
        /// First day.
        from: Date,
        /// Last day.
        to: Date,
    },
    /// No confirmed attendance in the period.
    #[error("no confirmed attendance between {from} and {to}")]
    NoRecords {
        /// First day.
        from: Date,
        /// Last day.
        to: Date,
    },
    /// The certificate rule does not hold.
    #[error(
        "not eligible for the JMA lifelong-education certificate: {achieved} of {minimum} (units + distinct codes) between {from} and {to}, {remaining} missing"
    )]
    NotEligible {
        /// What the doctor has.
        achieved: Units,
        /// What the rule asks.
        minimum: Units,
        /// What is missing.
        remaining: Units,
        /// Window start.
        from: Date,
        /// Window end.
        to: Date,
    },
    /// The certificate rule is not in the database.
    #[error("certificate rule {0} is not configured")]
    RuleMissing(String),
    /// Signing failed (no key, master key mismatch).
    #[error("cannot sign the document: {0}")]
    Signing(#[from] keys::KeyError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The PDF could not be made (font missing).
    #[error(transparent)]
    Pdf(#[from] std::sync::Arc<pdf::PdfError>),
}

/// A document just issued.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The stored record.
    pub record: DocumentRecord,
    /// Its content (the JWS payload).
    pub content: Content,
}

/// A new document id: 16 random bytes as base64url (22 characters).
pub fn new_id() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

/// Whether `id` has the shape of a document id (checked before any lookup).
pub fn is_id(id: &str) -> bool {
    id.len() == 22 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The date in Japan (UTC+9) at Unix second `now`.
pub fn japan_date(now: i64) -> Date {
    let offset = time::UtcOffset::from_hms(9, 0, 0).unwrap_or(time::UtcOffset::UTC);
    time::OffsetDateTime::from_unix_timestamp(now).map_or(Date::MIN, |t| t.to_offset(offset).date())
}

/// Issues a document for the doctor `registration_number`: gathers the confirmed records,
/// checks eligibility (certificate), signs the content and stores the record.
pub async fn issue(
    db: &Db,
    signer: &Signer,
    request: Request,
    registration_number: &str,
    now: i64,
) -> Result<Issued, DocumentError> {
    let id = new_id();
    let content = content::build(db, request, registration_number, &id, signer.public_url(), now).await?;
    store_signed(db, signer, content, now).await
}

/// Issues a 資格確認書 for the doctor `registration_number`: the card's `qualification` as the
/// idp checked it just now.
pub async fn issue_qualification(
    db: &Db,
    signer: &Signer,
    qualification: Qualification,
    registration_number: &str,
    now: i64,
) -> Result<Issued, DocumentError> {
    let id = new_id();
    let content =
        content::build_qualification(db, qualification, registration_number, &id, signer.public_url(), now)
            .await?;
    store_signed(db, signer, content, now).await
}

/// Signs `content` and stores the record.
async fn store_signed(db: &Db, signer: &Signer, content: Content, now: i64) -> Result<Issued, DocumentError> {
    let jws = signer.sign(&content, now).await?;
    let record = DocumentRecord {
        id: content.jti.clone(),
        kind: content.kind.as_str().to_owned(),
        registration_number: content.doctor.registration_number.clone(),
        period_from: dates::to_int(content.period.from),
        period_to: dates::to_int(content.period.to),
        issued_at: now,
        jws,
        revoked_at: None,
        revoked_reason: None,
    };
    create_document(db, &record).await?;
    Ok(Issued { record, content })
}
