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
pub mod shares;
pub mod systems;
pub mod taps;

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

/// How the parameters of a long statement (multi-row `INSERT`, `IN` list) are written.
///
/// PostgreSQL needs `$N`. On SQLite sqlx binds each argument after asking SQLite for the name
/// of its parameter, and SQLite finds the name of a `$N` parameter by a linear search of the
/// statement's names: binding a statement of n `$N` parameters costs O(n²), which for a 500-row
/// `INSERT` (5 000 parameters) took most of a bulk import's time. Anonymous `?` parameters have
/// no name to look up. A statement uses one form only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Params {
    /// `$1, $2, …` (PostgreSQL).
    Numbered,
    /// `?, ?, …` (SQLite).
    Anonymous,
}

impl Params {
    /// The form for the database behind `conn`.
    pub(crate) fn of(conn: &sqlx::AnyConnection) -> Self {
        if conn.backend_name() == "SQLite" { Self::Anonymous } else { Self::Numbered }
    }

    fn push(self, out: &mut String, n: usize) {
        match self {
            Self::Numbered => {
                out.push('$');
                out.push_str(&n.to_string());
            }
            Self::Anonymous => out.push('?'),
        }
    }
}

/// `($1, $2, $3), ($4, $5, $6)` (or with `?`) for `rows` rows of `cols` columns.
pub(crate) fn value_rows(params: Params, rows: usize, cols: usize) -> String {
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
            params.push(&mut out, r * cols + c + 1);
        }
        out.push(')');
    }
    out
}

/// `$1, $2, …, $n` (or with `?`).
pub(crate) fn list(params: Params, n: usize) -> String {
    let mut out = String::with_capacity(n * 4);
    for i in 1..=n {
        if i > 1 {
            out.push_str(", ");
        }
        params.push(&mut out, i);
    }
    out
}

/// Largest number of rows in one multi-row statement or `IN` list (SQLite allows 32 766
/// parameters per statement, PostgreSQL 65 535).
pub(crate) const CHUNK: usize = 500;

#[cfg(test)]
mod tests {
    use super::Params::{Anonymous, Numbered};

    #[test]
    fn placeholders() {
        assert_eq!(super::value_rows(Numbered, 2, 2), "($1, $2), ($3, $4)");
        assert_eq!(super::list(Numbered, 3), "$1, $2, $3");
        assert_eq!(super::value_rows(Anonymous, 2, 2), "(?, ?), (?, ?)");
        assert_eq!(super::list(Anonymous, 3), "?, ?, ?");
    }
}
