//! SQL of `accounts` and `cards`.

use sqlx::Row;
use sqlx::any::AnyRow;
use storage::Db;

use super::{from_json, is_unique_violation, json};

/// A person who signs in.
/// Whether an account may sign in and use its tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// Signs in; its tokens work.
    Active,
    /// Refused at sign-in, refresh, userinfo and introspection (`admin account suspend`).
    Suspended,
    /// A staff account an operator removed (`admin staff remove`): refused as a suspended one,
    /// with its roles, passkeys and invitations deleted; kept for the audit trail.
    Removed,
}

/// Who an account belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountKind {
    /// A card holder.
    Doctor,
    /// Office staff (no card).
    Staff,
}

/// Text columns that hold one of a fixed set of words (`accounts.status`, `accounts.kind`).
macro_rules! text_enum {
    ($ty:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        impl $ty {
            /// The word stored in the database and printed by the CLI.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            fn from_column(r: &AnyRow, column: &str) -> Result<Self, sqlx::Error> {
                let text: String = r.try_get(column)?;
                match text.as_str() {
                    $($text => Ok(Self::$variant),)+
                    other => Err(sqlx::Error::ColumnDecode {
                        index: column.to_owned(),
                        source: format!("unknown {} {other:?}", stringify!($ty)).into(),
                    }),
                }
            }
        }
    };
}
text_enum!(AccountStatus { Active = "active", Suspended = "suspended", Removed = "removed" });
text_enum!(AccountKind { Doctor = "doctor", Staff = "staff" });

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Account {
    /// Account id (random, 128 bits); the public `sub`.
    pub id: String,
    /// A card holder or staff.
    pub kind: AccountKind,
    /// Name in kanji (from the card's subjectAltName).
    pub name: Option<String>,
    /// Name in romaji (the card's subject CN).
    pub romaji_name: Option<String>,
    /// Active or suspended.
    pub status: AccountStatus,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// An HPKI card bound to an account.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Card {
    /// Issuing CA (issuer DN of the certificate).
    pub issuer: String,
    /// Subscriber id (subject serialNumber).
    pub subscriber_id: String,
    /// The account.
    pub account_id: String,
    /// Serial of the latest certificate seen (hex).
    pub serial: String,
    /// Its expiry, Unix seconds.
    pub not_after: i64,
    /// Its hcRoles.
    pub hc_roles: Vec<String>,
    /// Kanji name on the card.
    pub kanji_name: Option<String>,
    /// Romaji name on the card.
    pub romaji_name: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the latest sign-in.
    pub last_used_at: i64,
}

fn row_to_account(r: &AnyRow) -> Result<Account, sqlx::Error> {
    Ok(Account {
        id: r.try_get("id")?,
        kind: AccountKind::from_column(r, "kind")?,
        name: r.try_get("name")?,
        romaji_name: r.try_get("romaji_name")?,
        status: AccountStatus::from_column(r, "status")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn row_to_card(r: &AnyRow) -> Result<Card, sqlx::Error> {
    Ok(Card {
        issuer: r.try_get("issuer")?,
        subscriber_id: r.try_get("subscriber_id")?,
        account_id: r.try_get("account_id")?,
        serial: r.try_get("serial")?,
        not_after: r.try_get("not_after")?,
        hc_roles: from_json(&r.try_get::<String, _>("hc_roles")?)?,
        kanji_name: r.try_get("kanji_name")?,
        romaji_name: r.try_get("romaji_name")?,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
    })
}

/// One account.
pub async fn find_account(db: &Db, id: &str) -> Result<Option<Account>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, kind, name, romaji_name, status, created_at, updated_at FROM accounts WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(row_to_account).transpose()
}

/// Every account, oldest first.
pub async fn find_accounts(db: &Db) -> Result<Vec<Account>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, kind, name, romaji_name, status, created_at, updated_at FROM accounts ORDER BY created_at, id",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(row_to_account).collect()
}

/// Sets an account's status; false when it does not exist.
pub async fn update_account_status(
    db: &Db,
    id: &str,
    status: AccountStatus,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE accounts SET status = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(status.as_str())
        .bind(now)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The card of a subscriber of an issuing CA.
pub async fn find_card(db: &Db, issuer: &str, subscriber_id: &str) -> Result<Option<Card>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT issuer, subscriber_id, account_id, serial, not_after, hc_roles, kanji_name, romaji_name, \
         created_at, last_used_at FROM cards WHERE issuer = $1 AND subscriber_id = $2",
    )
    .bind(issuer)
    .bind(subscriber_id)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(row_to_card).transpose()
}

/// The latest authentication certificate recorded for a card (base64 DER), if any.
pub async fn find_card_certificate(
    db: &Db,
    issuer: &str,
    subscriber_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    Ok(sqlx::query_scalar::<_, Option<String>>(
        "SELECT certificate FROM cards WHERE issuer = $1 AND subscriber_id = $2",
    )
    .bind(issuer)
    .bind(subscriber_id)
    .fetch_optional(db.pool())
    .await?
    .flatten())
}

/// Cards of an account.
pub async fn find_cards(db: &Db, account_id: &str) -> Result<Vec<Card>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT issuer, subscriber_id, account_id, serial, not_after, hc_roles, kanji_name, romaji_name, \
         created_at, last_used_at FROM cards WHERE account_id = $1 ORDER BY created_at",
    )
    .bind(account_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(row_to_card).collect()
}

/// Inserts an account row (within the caller's transaction).
pub(crate) async fn insert_account(
    conn: &mut sqlx::AnyConnection,
    account: &Account,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO accounts (id, kind, name, romaji_name, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&account.id)
    .bind(account.kind.as_str())
    .bind(&account.name)
    .bind(&account.romaji_name)
    .bind(account.status.as_str())
    .bind(account.created_at)
    .bind(account.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Creates an account with its first card in one transaction. `Ok(false)` when the card was
/// created concurrently by another sign-in (the caller reads it again).
pub async fn create_account_with_card(
    db: &Db,
    account: &Account,
    card: &Card,
    certificate: &str,
) -> Result<bool, sqlx::Error> {
    let mut conn = db.pool().acquire().await?;
    let mut tx = conn.begin().await?;
    insert_account(&mut tx, account).await?;
    let inserted = sqlx::query(
        "INSERT INTO cards (issuer, subscriber_id, account_id, serial, not_after, hc_roles, kanji_name, \
         romaji_name, created_at, last_used_at, certificate) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&card.issuer)
    .bind(&card.subscriber_id)
    .bind(&card.account_id)
    .bind(&card.serial)
    .bind(card.not_after)
    .bind(json(&card.hc_roles))
    .bind(&card.kanji_name)
    .bind(&card.romaji_name)
    .bind(card.created_at)
    .bind(card.last_used_at)
    .bind(certificate)
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(_) => {
            tx.commit().await?;
            Ok(true)
        }
        Err(e) if is_unique_violation(&e) => {
            tx.rollback().await?;
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// A card with its account, in one read (the sign-in path).
pub async fn find_card_with_account(
    db: &Db,
    issuer: &str,
    subscriber_id: &str,
) -> Result<Option<(Card, Account)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT c.issuer, c.subscriber_id, c.account_id, c.serial, c.not_after, c.hc_roles, c.kanji_name, \
         c.romaji_name, c.created_at, c.last_used_at, a.kind AS account_kind, a.name AS account_name, \
         a.romaji_name AS account_romaji_name, a.status AS account_status, \
         a.created_at AS account_created_at, a.updated_at AS account_updated_at \
         FROM cards c JOIN accounts a ON a.id = c.account_id WHERE c.issuer = $1 AND c.subscriber_id = $2",
    )
    .bind(issuer)
    .bind(subscriber_id)
    .fetch_optional(db.pool())
    .await?;
    let Some(r) = row else { return Ok(None) };
    let card = row_to_card(&r)?;
    let account = Account {
        id: card.account_id.clone(),
        kind: AccountKind::from_column(&r, "account_kind")?,
        name: r.try_get("account_name")?,
        romaji_name: r.try_get("account_romaji_name")?,
        status: AccountStatus::from_column(&r, "account_status")?,
        created_at: r.try_get("account_created_at")?,
        updated_at: r.try_get("account_updated_at")?,
    };
    Ok(Some((card, account)))
}

/// Records a sign-in with a (possibly renewed) certificate of a known card. With
/// `refresh_names`, also takes the account's names from it (in the same transaction); without,
/// it is one statement.
pub async fn update_card_use(
    db: &Db,
    card: &Card,
    certificate: &str,
    refresh_names: bool,
) -> Result<(), sqlx::Error> {
    // The certificate is rewritten only when the serial changes (SET reads the old values).
    const UPDATE_CARD: &str = "UPDATE cards SET serial = $3, not_after = $4, hc_roles = $5, kanji_name = $6, \
         romaji_name = $7, last_used_at = $8, \
         certificate = CASE WHEN serial = $3 AND certificate IS NOT NULL THEN certificate ELSE $9 END \
         WHERE issuer = $1 AND subscriber_id = $2";
    let update_card = sqlx::query(UPDATE_CARD)
        .bind(&card.issuer)
        .bind(&card.subscriber_id)
        .bind(&card.serial)
        .bind(card.not_after)
        .bind(json(&card.hc_roles))
        .bind(&card.kanji_name)
        .bind(&card.romaji_name)
        .bind(card.last_used_at)
        .bind(certificate);
    if !refresh_names {
        update_card.execute(db.pool()).await?;
        return Ok(());
    }
    let mut conn = db.pool().acquire().await?;
    let mut tx = conn.begin().await?;
    update_card.execute(&mut *tx).await?;
    sqlx::query(
        "UPDATE accounts SET name = COALESCE($2, name), romaji_name = COALESCE($3, romaji_name), updated_at = $4 \
         WHERE id = $1",
    )
    .bind(&card.account_id)
    .bind(&card.kanji_name)
    .bind(&card.romaji_name)
    .bind(card.last_used_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}
