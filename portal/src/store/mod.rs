//! The portal's SQL: one module per table group, functions named `find_*`, `create_*`,
//! `update_*`. Runtime queries with `$N` placeholders, the same text on SQLite and PostgreSQL.
//!
//! Functions that belong to a batch (imports) take a connection, so that the caller can run
//! them inside one transaction; the others take the [`storage::Db`].

pub mod attendance;
pub mod doctors;
pub mod documents;
pub mod events;
pub mod links;
pub mod organizer;
pub mod systems;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A stored value does not have a shape the code knows (a hand-edited row).
    #[error("unexpected stored value: {0}")]
    Corrupt(String),
    /// No such record.
    #[error("not found")]
    NotFound,
    /// The record is not in a state that allows the change.
    #[error("{0}")]
    Conflict(String),
}

/// `($1, $2, $3), ($4, $5, $6)` for `rows` rows of `cols` columns.
pub(crate) fn value_rows(rows: usize, cols: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(r * cols + c + 1).to_string());
        }
        out.push(')');
    }
    out
}

/// `$1, $2, …, $n`.
pub(crate) fn list(n: usize) -> String {
    (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Largest number of rows in one multi-row statement or `IN` list (SQLite allows 32 766
/// parameters per statement, PostgreSQL 65 535).
pub(crate) const CHUNK: usize = 500;

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders() {
        assert_eq!(super::value_rows(2, 2), "($1, $2), ($3, $4)");
        assert_eq!(super::list(3), "$1, $2, $3");
    }
}
