//! The escape that keeps exported CSV cells from running as spreadsheet formulas, and its
//! inverse on import (`docs/import.md`, "Formulas").
//!
//! A spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`, TAB or CR as a formula. On
//! export, a value that is zero or more apostrophes followed by one of those characters gets one
//! more leading apostrophe (`=1` → `'=1`, `'=1` → `''=1`); on import, a value that is one or more
//! apostrophes followed by one of them loses exactly one (`''=1` → `'=1`). The two are inverse:
//! importing an exported value gives the value back, and no exported cell starts with a formula
//! character.

use std::borrow::Cow;

/// Characters that make a spreadsheet read a cell as a formula when they come first.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether `rest` (what follows the leading apostrophes) starts like a formula.
fn formula_like(rest: &str) -> bool {
    rest.starts_with(FORMULA_START)
}

/// The export form of `value`: one more `'` before a value matching `'*[=+\-@\t\r].*`.
pub fn escape(value: &str) -> Cow<'_, str> {
    if formula_like(value.trim_start_matches('\'')) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// The value an imported cell stands for: one `'` fewer on a value matching
/// `'+[=+\-@\t\r].*`, anything else as it is.
pub fn unescape(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if formula_like(rest.trim_start_matches('\'')) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::{escape, unescape};

    #[test]
    fn formula_starts_get_one_more_apostrophe() {
        for (value, exported) in [
            ("=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("'=1", "''=1"),
            ("''-1", "'''-1"),
            ("=", "'="),
        ] {
            assert_eq!(escape(value), exported, "{value:?}");
            assert_eq!(unescape(exported), value, "{exported:?}");
        }
    }

    #[test]
    fn other_values_are_left_alone() {
        for value in ["", "'", "''", "'x", "a=1", " =1", "講習会", "1-2", "x'=1", "'''"] {
            assert_eq!(escape(value), value, "{value:?}");
            assert_eq!(unescape(value), value, "{value:?}");
        }
    }

    #[test]
    fn import_removes_exactly_one_apostrophe() {
        assert_eq!(unescape("'=1"), "=1");
        assert_eq!(unescape("''=1"), "'=1");
        assert_eq!(unescape("'''@x"), "''@x");
        assert_eq!(unescape("=1"), "=1");
    }

    #[test]
    fn export_then_import_is_exact_and_never_starts_a_formula() {
        let samples = ["=", "'", "'=", "''=", "-", "'-x", "@", "\t", "\r", "+'", "'a", "a", ""];
        // Every string of up to three of these pieces.
        let mut values = vec![String::new()];
        for _ in 0..3 {
            let longer: Vec<String> =
                values.iter().flat_map(|v| samples.iter().map(move |s| format!("{v}{s}"))).collect();
            values.extend(longer);
        }
        for v in &values {
            let out = escape(v);
            assert_eq!(unescape(&out), v, "{v:?}");
            assert!(!out.starts_with(['=', '+', '-', '@', '\t', '\r']), "{v:?} → {out:?}");
        }
    }
}
