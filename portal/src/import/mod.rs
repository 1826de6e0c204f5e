//! Bulk imports from CSV: attendance records and the doctors' registry.
//!
//! Both read UTF-8 or Shift_JIS ([`input`]), validate every row on its own, report each bad row
//! with its line, column and reason ([`report`]), skip it, and write the good rows in batches,
//! one transaction per batch. Writes are idempotent: importing a file again changes nothing.
//! The same functions serve the CLI (`shikaku admin import …`) and the organizers' upload page,
//! where an import runs as a background job with its progress shown ([`jobs`]).

pub mod attendance;
pub mod cell;
pub mod input;
pub mod jobs;
pub mod registration;
pub mod registry;
pub mod report;

pub use input::Encoding;
pub use report::{ImportError, Report, RowError, RowErrorKind};

/// Options common to both imports.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// How the file is encoded.
    pub encoding: Encoding,
    /// Validate and count only; write nothing.
    pub dry_run: bool,
    /// Rows per transaction.
    pub batch_size: usize,
    /// Unix seconds recorded as creation time.
    pub now: i64,
}

impl Options {
    /// Defaults: detect the encoding, write, 50 000 rows per batch (fewer, larger transactions
    /// rewrite far fewer index pages on SQLite; one batch still commits in about a second).
    pub fn new(now: i64) -> Self {
        Self { encoding: Encoding::Auto, dry_run: false, batch_size: 50_000, now }
    }
}
