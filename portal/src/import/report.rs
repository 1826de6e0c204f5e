//! What an import tells its caller: a per-row error list and counts, or a file-level error.

use std::fmt;

use crate::import::Encoding;
use crate::store::StoreError;

/// One rejected row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line of the file where the row starts.
    pub line: u64,
    /// The column at fault, if one is.
    pub column: Option<String>,
    /// Why, in English.
    pub reason: String,
}

impl RowError {
    /// An error in `column` of the row at `line`.
    pub fn at(line: u64, column: &str, reason: impl Into<String>) -> Self {
        Self { line, column: Some(column.to_owned()), reason: reason.into() }
    }

    /// An error of the whole row at `line`.
    pub fn row(line: u64, reason: impl Into<String>) -> Self {
        Self { line, column: None, reason: reason.into() }
    }
}

impl fmt::Display for RowError {
    /// `line 4, column units: …` or `line 4: …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(c) => write!(f, "line {}, column {c}: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// The outcome of an import that ran to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The encoding the file was read in.
    pub encoding: Encoding,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Data rows read (the header not counted).
    pub rows: u64,
    /// Rows recorded anew (or that would be, in a dry run).
    pub inserted: u64,
    /// Rows that changed an existing record (registry only).
    pub updated: u64,
    /// Rows already recorded exactly so.
    pub unchanged: u64,
    /// Rejected rows, in file order.
    pub errors: Vec<RowError>,
}

impl Report {
    pub(crate) fn new(encoding: Encoding, dry_run: bool) -> Self {
        Self { encoding, dry_run, rows: 0, inserted: 0, updated: 0, unchanged: 0, errors: Vec::new() }
    }
}

/// An import that could not run (nothing of the file was written, or only whole batches before
/// a database failure; a new run completes it).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file has no header line.
    #[error("line 1: the file is empty; expected a header line")]
    Empty,
    /// A required column is missing from the header.
    #[error("line 1: missing column `{0}`")]
    MissingColumn(String),
    /// The header names a column the import does not know.
    #[error("line 1: unknown column `{column}` (known: {known})")]
    UnknownColumn {
        /// The column.
        column: String,
        /// The known columns.
        known: String,
    },
    /// The header names a column twice.
    #[error("line 1: column `{0}` appears twice")]
    DuplicateColumn(String),
    /// The header is not readable in the chosen encoding.
    #[error("line 1: the header is not valid {0}")]
    HeaderEncoding(Encoding),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}
