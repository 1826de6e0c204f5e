//! SQL of shares and the verification log (issue: staff verify a doctor). A share is found by
//! the SHA-256 of its link token or of its short code; a view takes one use atomically, so a
//! single-use share is shown once however many verifiers open it at the same moment.

use sha2::{Digest, Sha256};
use storage::Db;

use crate::store::StoreError;

/// The fields a share may disclose, in the order the verify page shows them.
pub const FIELDS: [&str; 6] = ["name", "kana", "qualification", "registration_number", "validity", "credits"];

/// Shortest and longest lifetime of a share (10 minutes, 7 days).
pub const LIFETIME_SECS: std::ops::RangeInclusive<i64> = 600..=7 * 86_400;

/// Letters of short codes: Crockford base32 without I, L, O, U (no letter read as another).
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// SHA-256 hex of a secret as stored.
pub fn secret_hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A new link token (32 random bytes, base64url) and short code (`XXXX-XXXX`, 40 bits).
pub fn new_secrets() -> (String, String) {
    use base64::Engine;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let bytes = rand::random::<[u8; 8]>();
    let letters: String = bytes.iter().map(|b| char::from(CODE_ALPHABET[usize::from(b & 31)])).collect();
    (token, format!("{}-{}", &letters[..4], &letters[4..]))
}

/// The canonical form of a typed short code: upper case, no spaces or dashes, `O` read as `0`
/// and `I`/`L` as `1`; `None` unless 8 letters of the alphabet remain.
pub fn normalize_code(typed: &str) -> Option<String> {
    let mut out = String::with_capacity(9);
    for c in typed.chars().filter(|c| !matches!(c, ' ' | '-' | '\u{3000}' | 'ー')) {
        let c = match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !CODE_ALPHABET.contains(&(c as u8)) {
            return None;
        }
        out.push(c);
    }
    (out.len() == 8).then(|| format!("{}-{}", &out[..4], &out[4..]))
}

/// A share as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// Record id (not a secret).
    pub id: String,
    /// The doctor's subject at the idp.
    pub owner_sub: String,
    /// 医籍登録番号, when the doctor's link is confirmed.
    pub registration_number: Option<String>,
    /// Issuing CA of the card, as the idp names it.
    pub card_issuer: String,
    /// Subscriber id of the card.
    pub card_subscriber: String,
    /// Disclosed fields, from [`FIELDS`].
    pub disclose: Vec<String>,
    /// Views allowed (`None`: any number until expiry).
    pub max_uses: Option<i64>,
    /// Views so far.
    pub uses: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Unix seconds, when revoked.
    pub revoked_at: Option<i64>,
}

/// Why a share is not shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No share has this secret (mistyped, forged).
    Unknown,
    /// Past its lifetime.
    Expired,
    /// Revoked by the doctor.
    Revoked,
    /// Every allowed view was taken.
    UsedUp,
}

impl Refusal {
    /// The stored outcome and the page's key.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::UsedUp => "used_up",
        }
    }
}

type Row = (String, String, Option<String>, String, String, String, Option<i64>, i64, i64, i64, Option<i64>);

const COLUMNS: &str = "id, owner_sub, registration_number, card_issuer, card_subscriber, disclose, max_uses, \
                       uses, created_at, expires_at, revoked_at";

fn from_row(r: Row) -> Share {
    Share {
        id: r.0,
        owner_sub: r.1,
        registration_number: r.2,
        card_issuer: r.3,
        card_subscriber: r.4,
        disclose: r.5.split(',').filter(|f| !f.is_empty()).map(str::to_owned).collect(),
        max_uses: r.6,
        uses: r.7,
        created_at: r.8,
        expires_at: r.9,
        revoked_at: r.10,
    }
}

/// Stores `share` (its `uses` and `revoked_at` are ignored) under the hashes of its secrets.
pub async fn create_share(db: &Db, share: &Share, token: &str, code: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO shares (id, token_hash, code_hash, owner_sub, registration_number, card_issuer, \
         card_subscriber, disclose, max_uses, uses, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $11)",
    )
    .bind(&share.id)
    .bind(secret_hash(token))
    .bind(secret_hash(code))
    .bind(&share.owner_sub)
    .bind(&share.registration_number)
    .bind(&share.card_issuer)
    .bind(&share.card_subscriber)
    .bind(share.disclose.join(","))
    .bind(share.max_uses)
    .bind(share.created_at)
    .bind(share.expires_at)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// A doctor's shares, newest first.
pub async fn find_shares(db: &Db, owner_sub: &str) -> Result<Vec<Share>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM shares WHERE owner_sub = $1 ORDER BY created_at DESC, id");
    let rows: Vec<Row> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(owner_sub).fetch_all(db.pool()).await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// Revokes a doctor's own share; false when it is not theirs or already revoked.
pub async fn revoke_share(db: &Db, id: &str, owner_sub: &str, now: i64) -> Result<bool, StoreError> {
    let res = sqlx::query(
        "UPDATE shares SET revoked_at = $3 WHERE id = $1 AND owner_sub = $2 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(owner_sub)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Which secret a verifier presents.
#[derive(Debug, Clone, Copy)]
pub enum Secret<'a> {
    /// The link's token.
    Token(&'a str),
    /// The short code, normalized ([`normalize_code`]).
    Code(&'a str),
}

impl Secret<'_> {
    fn column_and_hash(self) -> (&'static str, String) {
        match self {
            Self::Token(t) => ("token_hash", secret_hash(t)),
            Self::Code(c) => ("code_hash", secret_hash(c)),
        }
    }
}

/// Why `share` cannot be viewed at `now`, if it cannot.
pub fn refusal(share: &Share, now: i64) -> Option<Refusal> {
    if share.revoked_at.is_some() {
        Some(Refusal::Revoked)
    } else if share.expires_at <= now {
        Some(Refusal::Expired)
    } else if share.max_uses.is_some_and(|m| share.uses >= m) {
        Some(Refusal::UsedUp)
    } else {
        None
    }
}

/// The share with `secret`, without taking a view (`None`: no share has it).
pub async fn find_share(db: &Db, secret: Secret<'_>) -> Result<Option<Share>, StoreError> {
    let (column, hash) = secret.column_and_hash();
    let sql = format!("SELECT {COLUMNS} FROM shares WHERE {column} = $1");
    let row: Option<Row> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(&hash).fetch_optional(db.pool()).await?;
    Ok(row.map(from_row))
}

/// Takes one view of the share with `secret` at `now`: the share (with the view counted), or
/// why it is refused. The use is taken by one conditional `UPDATE`, so concurrent views of a
/// single-use share show it once.
pub async fn use_share(db: &Db, secret: Secret<'_>, now: i64) -> Result<Result<Share, Refusal>, StoreError> {
    let (column, hash) = secret.column_and_hash();
    let taken = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE shares SET uses = uses + 1 WHERE {column} = $1 AND revoked_at IS NULL AND expires_at > $2 \
         AND (max_uses IS NULL OR uses < max_uses)"
    )))
    .bind(&hash)
    .bind(now)
    .execute(db.pool())
    .await?
    .rows_affected();
    let Some(share) = find_share(db, secret).await? else { return Ok(Err(Refusal::Unknown)) };
    if taken == 1 {
        return Ok(Ok(share));
    }
    // Not taken: the share is refused now (a concurrent view may have taken the last use).
    Ok(Err(refusal(&share, now).unwrap_or(Refusal::UsedUp)))
}

/// One entry of the verification log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Whose card was checked.
    pub owner_sub: String,
    /// The share viewed, if it was a share.
    pub share_id: Option<String>,
    /// `share` or `in_person`.
    pub kind: String,
    /// `shown` or the refusal.
    pub outcome: String,
    /// The fields shown.
    pub shown: Vec<String>,
    /// The verifier's address (the true client address).
    pub verifier_ip: String,
    /// The verifier, when signed in or registered.
    pub verifier: Option<String>,
    /// Unix seconds.
    pub at: i64,
}

/// Appends to the verification log. The entry's id begins with the system clock's nanoseconds
/// (hex), so entries of the same second list in the order they were made.
pub async fn record_verification(db: &Db, entry: &LogEntry) -> Result<(), StoreError> {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let id = format!("{nanos:024x}{}", crate::documents::new_id());
    sqlx::query(
        "INSERT INTO verification_log (id, owner_sub, share_id, kind, outcome, shown, verifier_ip, verifier, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(&entry.owner_sub)
    .bind(&entry.share_id)
    .bind(&entry.kind)
    .bind(&entry.outcome)
    .bind(entry.shown.join(","))
    .bind(&entry.verifier_ip)
    .bind(&entry.verifier)
    .bind(entry.at)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// A doctor's verification log, newest first, at most `limit` entries.
pub async fn find_verifications(db: &Db, owner_sub: &str, limit: i64) -> Result<Vec<LogEntry>, StoreError> {
    type LogRow = (String, Option<String>, String, String, String, String, Option<String>, i64);
    let rows: Vec<LogRow> = sqlx::query_as(
        "SELECT owner_sub, share_id, kind, outcome, shown, verifier_ip, verifier, at FROM verification_log \
         WHERE owner_sub = $1 ORDER BY at DESC, id DESC LIMIT $2",
    )
    .bind(owner_sub)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| LogEntry {
            owner_sub: r.0,
            share_id: r.1,
            kind: r.2,
            outcome: r.3,
            shown: r.4.split(',').filter(|f| !f.is_empty()).map(str::to_owned).collect(),
            verifier_ip: r.5,
            verifier: r.6,
            at: r.7,
        })
        .collect())
}

/// The verification-log owner of a card no portal account has signed in with yet: its entries
/// move to the account at the card's first sign-in ([`record_card_owner`]).
pub fn card_key(issuer: &str, subscriber: &str) -> String {
    format!("card:{}", secret_hash(&format!("{issuer}\n{subscriber}")))
}

/// Records that `owner_sub` signed in with the card `issuer`/`subscriber` at `now`, and moves
/// the card's earlier log entries (in-person checks before any sign-in) to them.
pub async fn record_card_owner(
    db: &Db,
    issuer: &str,
    subscriber: &str,
    owner_sub: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO card_owners (card_issuer, card_subscriber, owner_sub, seen_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (card_issuer, card_subscriber) DO UPDATE SET owner_sub = excluded.owner_sub, \
         seen_at = excluded.seen_at",
    )
    .bind(issuer)
    .bind(subscriber)
    .bind(owner_sub)
    .bind(now)
    .execute(db.pool())
    .await?;
    sqlx::query("UPDATE verification_log SET owner_sub = $1 WHERE owner_sub = $2")
        .bind(owner_sub)
        .bind(card_key(issuer, subscriber))
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Who owns the card's log entries: the account that last signed in with it, else
/// [`card_key`].
pub async fn card_owner(db: &Db, issuer: &str, subscriber: &str) -> Result<String, StoreError> {
    let owner: Option<String> = sqlx::query_scalar(
        "SELECT owner_sub FROM card_owners WHERE card_issuer = $1 AND card_subscriber = $2",
    )
    .bind(issuer)
    .bind(subscriber)
    .fetch_optional(db.pool())
    .await?;
    Ok(owner.unwrap_or_else(|| card_key(issuer, subscriber)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_codes_are_typed_forgivingly() {
        let (_, code) = new_secrets();
        assert_eq!(code.len(), 9);
        assert_eq!(normalize_code(&code).as_deref(), Some(code.as_str()));
        assert_eq!(normalize_code(" k7qm 2xpa ").as_deref(), Some("K7QM-2XPA"));
        assert_eq!(normalize_code("K7QM-2XPO").as_deref(), Some("K7QM-2XP0"), "O is read as 0");
        assert_eq!(normalize_code("ilIL-0000").as_deref(), Some("1111-0000"));
        for bad in ["", "K7QM-2XP", "K7QM-2XPAA", "K7QM-2XPU", "K7QM-2XP😀"] {
            assert_eq!(normalize_code(bad), None, "{bad}");
        }
    }
}
