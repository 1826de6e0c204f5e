//! Credits as plain data and plain functions: the rules of the credit systems (read from the
//! database, never hard-coded), fiscal years, totals, code coverage and certificate progress.
//!
//! Everything here works on [`CreditLine`]s — one confirmed credit (system, code, units, date) —
//! so it is tested without a database and reused by pages, documents and imports.

pub mod caps;
pub mod coverage;
pub mod dates;
pub mod definition;
pub mod progress;
pub mod rules;
pub mod totals;
pub mod units;

use time::Date;

pub use dates::FiscalYear;
pub use units::Units;

/// One confirmed credit of a doctor: `units` in `code` of `system_id`, earned on `date`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditLine {
    /// The credit system (`jma_cme`).
    pub system_id: String,
    /// The code within the system (`76`, `basic.early.general`).
    pub code: String,
    /// Units earned.
    pub units: Units,
    /// Day of attendance.
    pub date: Date,
    /// The event attended (caps per event count over it).
    pub event_id: String,
}

/// Whether `code` lies within `scope`: the scope itself or a dotted descendant of it
/// (`basic` covers `basic.late`, `7` does not cover `74`). No scope covers every code.
pub fn in_scope(code: &str, scope: Option<&str>) -> bool {
    match scope {
        None => true,
        Some(s) => code == s || code.strip_prefix(s).is_some_and(|rest| rest.starts_with('.')),
    }
}

#[cfg(test)]
mod tests {
    use super::in_scope;

    #[test]
    fn scopes_follow_dotted_paths() {
        assert!(in_scope("basic.late", Some("basic")));
        assert!(in_scope("basic", Some("basic")));
        assert!(!in_scope("basics", Some("basic")));
        assert!(!in_scope("74", Some("7")));
        assert!(in_scope("74", None));
    }
}
