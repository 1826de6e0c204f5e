//! The idp's SQL, one module per table group. Functions are named `find_*`, `create_*`,
//! `update_*`, `delete_*`; rows map to domain types here and nowhere else.

pub mod accounts;
pub mod audit;
pub mod clients;
pub mod consents;
pub mod emergency;
pub mod identities;
pub mod passkeys;
pub mod refresh;
pub mod roles;
pub mod sessions;
pub mod staff;
pub mod trust;

/// A storage failure of the idp, as domain code sees it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// Concurrent writers kept changing what a write depends on; retrying later may succeed.
    #[error("{0}")]
    Contended(&'static str),
}

/// A JSON column value. Only for plain data (strings, lists, structs of them), whose
/// serialization cannot fail; `null` is written if it ever did.
pub(crate) fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// Reads a JSON column, mapping bad JSON to a decode error.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, sqlx::Error> {
    serde_json::from_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// Whether an error is a unique-constraint violation (on either backend).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}
