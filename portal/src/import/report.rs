//! What an import tells its caller: a per-row error list and counts, or a file-level error.

use std::fmt;

use crate::credits::units::UnitsError;
use crate::import::Encoding;
use crate::store::StoreError;

/// Why a row is rejected: a stable code ([`RowErrorKind::code`]) and its parameters
/// ([`RowErrorKind::params`]), so that a page can say it in its language. [`fmt::Display`] is the
/// English the CLI prints (a scripted interface: keep it as it is).
///
/// The upload page renders the locale text `import_row_error_{code}` with `{param}`
/// placeholders ([`RowErrorKind::render`]); `templates/locales/en.toml` holds exactly the
/// English of `Display`. A new kind goes into [`RowErrorKind::examples`] too, where the tests
/// find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowErrorKind {
    /// The CSV reader gave up on the row.
    UnreadableCsv {
        /// The reader's own (English) explanation.
        detail: String,
    },
    /// The row has more or fewer fields than the header.
    FieldCount {
        /// Columns in the header.
        expected: usize,
        /// Fields in the row.
        found: usize,
    },
    /// A field is not valid Shift_JIS.
    NotShiftJis,
    /// A field is not valid UTF-8.
    NotUtf8,
    /// Not 1 to 8 digits.
    NotARegistrationNumber {
        /// The field.
        value: String,
    },
    /// Not a date.
    NotADate {
        /// The field.
        value: String,
    },
    /// A field longer than allowed.
    TooLong {
        /// The most characters allowed.
        max: usize,
    },
    /// `kana_name` has other characters than katakana.
    NotKatakana {
        /// The field.
        value: String,
    },
    /// A birth date before 1900 or after today.
    ImplausibleBirthDate {
        /// The date, `YYYY-MM-DD`.
        value: String,
    },
    /// `issuer` longer than 500 or `subscriber_id` longer than 100 characters.
    CardTooLong,
    /// Only one of `issuer` and `subscriber_id`.
    CardHalf,
    /// The file names the doctor twice.
    DuplicateRegistrationNumber {
        /// Where the file named them first.
        first: u64,
    },
    /// Not an event id.
    NotAnEventId {
        /// The field.
        value: String,
    },
    /// `online` is not 0 or 1.
    NotABoolean {
        /// The field (lowercased).
        value: String,
    },
    /// A `credits` item is not `SYSTEM:CODE=UNITS`.
    CreditSyntax {
        /// The item.
        item: String,
    },
    /// A credit system the database does not know.
    UnknownCreditSystem {
        /// The system.
        system: String,
    },
    /// A code its system does not have.
    UnknownCreditCode {
        /// The system.
        system: String,
        /// The code.
        code: String,
    },
    /// Units that are not a number.
    UnitsNotANumber {
        /// The system.
        system: String,
        /// The code.
        code: String,
        /// The units given.
        value: String,
    },
    /// Negative units.
    UnitsNegative {
        /// The system.
        system: String,
        /// The code.
        code: String,
        /// The units given.
        value: String,
    },
    /// Zero units.
    UnitsZero {
        /// The system.
        system: String,
        /// The code.
        code: String,
    },
    /// Units off the system's step.
    UnitsStep {
        /// The system.
        system: String,
        /// The code.
        code: String,
        /// The system's step (`0.5`).
        step: String,
        /// The units given.
        value: String,
    },
    /// A system and code given twice in one row.
    CreditTwice {
        /// The system.
        system: String,
        /// The code.
        code: String,
    },
    /// A `status` the import does not know.
    NotAStatus {
        /// The field.
        value: String,
    },
    /// `key:` followed by something that is not a record key.
    NotARecordKey {
        /// The longest record key.
        max: usize,
    },
    /// A registration number the registry does not hold.
    UnknownRegistrationNumber {
        /// The number (canonical form).
        number: String,
    },
    /// The file gives the same record twice.
    DuplicateRecord {
        /// Where the file gave it first.
        first: u64,
    },
    /// Neither the row nor its (known) event gives credits.
    NoCredits {
        /// The event id.
        event: String,
    },
    /// An unknown event without `event_title` and `organizer`.
    UnknownEvent {
        /// The event id.
        event: String,
    },
    /// An unknown event without credits.
    NewEventWithoutCredits {
        /// The event id.
        event: String,
    },
}

impl RowErrorKind {
    /// The units error of `system:code`.
    pub fn units(system: &str, code: &str, error: UnitsError) -> Self {
        let (system, code) = (system.to_owned(), code.to_owned());
        match error {
            UnitsError::NotANumber(value) => Self::UnitsNotANumber { system, code, value },
            UnitsError::Negative(value) => Self::UnitsNegative { system, code, value },
            UnitsError::Zero => Self::UnitsZero { system, code },
            UnitsError::Step { text, step } => {
                Self::UnitsStep { system, code, step: step.to_string(), value: text }
            }
        }
    }

    /// The stable code: `snake_case`, the locale key is `import_row_error_{code}`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnreadableCsv { .. } => "unreadable_csv",
            Self::FieldCount { .. } => "field_count",
            Self::NotShiftJis => "not_shift_jis",
            Self::NotUtf8 => "not_utf8",
            Self::NotARegistrationNumber { .. } => "not_a_registration_number",
            Self::NotADate { .. } => "not_a_date",
            Self::TooLong { .. } => "too_long",
            Self::NotKatakana { .. } => "not_katakana",
            Self::ImplausibleBirthDate { .. } => "implausible_birth_date",
            Self::CardTooLong => "card_too_long",
            Self::CardHalf => "card_half",
            Self::DuplicateRegistrationNumber { .. } => "duplicate_registration_number",
            Self::NotAnEventId { .. } => "not_an_event_id",
            Self::NotABoolean { .. } => "not_a_boolean",
            Self::CreditSyntax { .. } => "credit_syntax",
            Self::UnknownCreditSystem { .. } => "unknown_credit_system",
            Self::UnknownCreditCode { .. } => "unknown_credit_code",
            Self::UnitsNotANumber { .. } => "units_not_a_number",
            Self::UnitsNegative { .. } => "units_negative",
            Self::UnitsZero { .. } => "units_zero",
            Self::UnitsStep { .. } => "units_step",
            Self::CreditTwice { .. } => "credit_twice",
            Self::NotAStatus { .. } => "not_a_status",
            Self::NotARecordKey { .. } => "not_a_record_key",
            Self::UnknownRegistrationNumber { .. } => "unknown_registration_number",
            Self::DuplicateRecord { .. } => "duplicate_record",
            Self::NoCredits { .. } => "no_credits",
            Self::UnknownEvent { .. } => "unknown_event",
            Self::NewEventWithoutCredits { .. } => "new_event_without_credits",
        }
    }

    /// The locale key of the message: `import_row_error_{code}`.
    pub fn locale_key(code: &str) -> String {
        format!("{LOCALE_PREFIX}{code}")
    }

    /// The parameters, by the names the locale texts use as `{name}`.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        let s = |v: &String| v.clone();
        match self {
            Self::NotShiftJis | Self::NotUtf8 | Self::CardTooLong | Self::CardHalf => Vec::new(),
            Self::UnreadableCsv { detail } => vec![("detail", s(detail))],
            Self::FieldCount { expected, found } => {
                vec![("expected", expected.to_string()), ("found", found.to_string())]
            }
            Self::NotARegistrationNumber { value }
            | Self::NotADate { value }
            | Self::NotKatakana { value }
            | Self::ImplausibleBirthDate { value }
            | Self::NotAnEventId { value }
            | Self::NotABoolean { value }
            | Self::NotAStatus { value } => vec![("value", s(value))],
            Self::TooLong { max } | Self::NotARecordKey { max } => vec![("max", max.to_string())],
            Self::DuplicateRegistrationNumber { first } | Self::DuplicateRecord { first } => {
                vec![("first", first.to_string())]
            }
            Self::CreditSyntax { item } => vec![("item", s(item))],
            Self::UnknownCreditSystem { system } => vec![("system", s(system))],
            Self::UnknownCreditCode { system, code }
            | Self::UnitsZero { system, code }
            | Self::CreditTwice { system, code } => vec![("system", s(system)), ("code", s(code))],
            Self::UnitsNotANumber { system, code, value } | Self::UnitsNegative { system, code, value } => {
                vec![("system", s(system)), ("code", s(code)), ("value", s(value))]
            }
            Self::UnitsStep { system, code, step, value } => {
                vec![("system", s(system)), ("code", s(code)), ("step", s(step)), ("value", s(value))]
            }
            Self::UnknownRegistrationNumber { number } => vec![("number", s(number))],
            Self::NoCredits { event }
            | Self::UnknownEvent { event }
            | Self::NewEventWithoutCredits { event } => {
                vec![("event", s(event))]
            }
        }
    }

    /// One of each kind (for the tests that check every code has its messages).
    pub fn examples() -> Vec<Self> {
        let (system, code, value) = (String::from("jma_cme"), String::from("76"), String::from("x"));
        vec![
            Self::UnreadableCsv { detail: "CSV error".into() },
            Self::FieldCount { expected: 7, found: 2 },
            Self::NotShiftJis,
            Self::NotUtf8,
            Self::NotARegistrationNumber { value: "12a".into() },
            Self::NotADate { value: "2026-13-40".into() },
            Self::TooLong { max: 100 },
            Self::NotKatakana { value: "山田".into() },
            Self::ImplausibleBirthDate { value: "1899-12-31".into() },
            Self::CardTooLong,
            Self::CardHalf,
            Self::DuplicateRegistrationNumber { first: 2 },
            Self::NotAnEventId { value: "E 1".into() },
            Self::NotABoolean { value: "2".into() },
            Self::CreditSyntax { item: "jma_cme76".into() },
            Self::UnknownCreditSystem { system: "other".into() },
            Self::UnknownCreditCode { system: system.clone(), code: "85".into() },
            Self::UnitsNotANumber { system: system.clone(), code: code.clone(), value: value.clone() },
            Self::UnitsNegative { system: system.clone(), code: code.clone(), value: "-1".into() },
            Self::UnitsZero { system: system.clone(), code: code.clone() },
            Self::UnitsStep {
                system: system.clone(),
                code: code.clone(),
                step: "0.5".into(),
                value: "0.3".into(),
            },
            Self::CreditTwice { system, code },
            Self::NotAStatus { value },
            Self::NotARecordKey { max: 256 },
            Self::UnknownRegistrationNumber { number: "123456".into() },
            Self::DuplicateRecord { first: 2 },
            Self::NoCredits { event: "EV1".into() },
            Self::UnknownEvent { event: "EV3".into() },
            Self::NewEventWithoutCredits { event: "EV4".into() },
        ]
    }

    /// `text` (a locale message) with each `{name}` replaced by the parameter `name`, in one
    /// pass (a value that contains `{…}` stays as it is); an unknown `{name}` is kept.
    pub fn render(text: &str, params: &[(&str, &str)]) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let value = after.find('}').and_then(|close| {
                params.iter().find(|(n, _)| *n == &after[..close]).map(|(_, v)| (close, v))
            });
            match value {
                Some((close, v)) => {
                    out.push_str(v);
                    rest = &after[close + 1..];
                }
                None => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// Prefix of the locale keys of row errors.
pub const LOCALE_PREFIX: &str = "import_row_error_";

impl fmt::Display for RowErrorKind {
    /// The English the CLI prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnreadableCsv { detail } => write!(f, "unreadable CSV: {detail}"),
            Self::FieldCount { expected, found } => write!(f, "expected {expected} fields, found {found}"),
            Self::NotShiftJis => f.write_str("not valid Shift_JIS"),
            Self::NotUtf8 => {
                f.write_str("not valid UTF-8 (save the file as UTF-8 or Shift_JIS and import it again)")
            }
            Self::NotARegistrationNumber { value } => {
                write!(f, "`{value}` is not a registration number (1 to 8 digits)")
            }
            Self::NotADate { value } => write!(f, "`{value}` is not a date (YYYY-MM-DD)"),
            Self::TooLong { max } => write!(f, "longer than {max} characters"),
            Self::NotKatakana { value } => write!(f, "`{value}` is not a katakana name"),
            Self::ImplausibleBirthDate { value } => write!(f, "{value} is not a plausible birth date"),
            Self::CardTooLong => f.write_str("issuer or subscriber_id too long"),
            Self::CardHalf => f.write_str("give both issuer and subscriber_id, or neither"),
            Self::DuplicateRegistrationNumber { first } => {
                write!(f, "same registration number as line {first}")
            }
            Self::NotAnEventId { value } => {
                write!(f, "`{value}` is not an event id (1 to 64 of A-Z a-z 0-9 - _ .)")
            }
            Self::NotABoolean { value } => write!(f, "`{value}` is not 0 or 1"),
            Self::CreditSyntax { item } => write!(f, "`{item}` is not SYSTEM:CODE=UNITS"),
            Self::UnknownCreditSystem { system } => write!(f, "unknown credit system `{system}`"),
            Self::UnknownCreditCode { system, code } => {
                write!(f, "unknown code `{code}` in system `{system}`")
            }
            Self::UnitsNotANumber { system, code, value } => {
                write!(f, "{system}:{code}: `{value}` is not a number of units")
            }
            Self::UnitsNegative { system, code, value } => {
                write!(f, "{system}:{code}: units must not be negative: `{value}`")
            }
            Self::UnitsZero { system, code } => write!(f, "{system}:{code}: units must be more than 0"),
            Self::UnitsStep { system, code, step, value } => {
                write!(f, "{system}:{code}: units must be a multiple of {step}: `{value}`")
            }
            Self::CreditTwice { system, code } => write!(f, "{system}:{code} appears twice"),
            Self::NotAStatus { value } => {
                write!(f, "`{value}` is not a status (provisional, confirmed or rejected)")
            }
            Self::NotARecordKey { max } => write!(
                f,
                "`key:` must be followed by a record key: 1 to {max} characters, no white space at either end"
            ),
            Self::UnknownRegistrationNumber { number } => {
                write!(f, "unknown registration number {number} (import the registry first)")
            }
            Self::DuplicateRecord { first } => write!(f, "same record as line {first}"),
            Self::NoCredits { event } => {
                write!(f, "no credits: the row gives none and event `{event}` grants none")
            }
            Self::UnknownEvent { event } => {
                write!(f, "unknown event `{event}`: give event_title and organizer to create it")
            }
            Self::NewEventWithoutCredits { event } => {
                write!(f, "event `{event}` is new: the row must give its credits")
            }
        }
    }
}

/// One rejected row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line of the file where the row starts.
    pub line: u64,
    /// The column at fault, if one is.
    pub column: Option<String>,
    /// Why, in English (what the CLI prints: `kind` as text).
    pub reason: String,
    /// Why, as a code and its parameters (what the upload page renders per language). Boxed:
    /// rows travel as `Err` values, which stay small.
    pub kind: Box<RowErrorKind>,
}

impl RowError {
    /// An error in `column` of the row at `line`.
    pub fn at(line: u64, column: &str, kind: RowErrorKind) -> Self {
        Self { line, column: Some(column.to_owned()), reason: kind.to_string(), kind: Box::new(kind) }
    }

    /// An error of the whole row at `line`.
    pub fn row(line: u64, kind: RowErrorKind) -> Self {
        Self { line, column: None, reason: kind.to_string(), kind: Box::new(kind) }
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

#[cfg(test)]
mod tests {
    use super::RowErrorKind;

    #[test]
    fn examples_hold_every_kind_once() {
        // A new kind breaks this match until it has a number here (and then an example).
        let number = |k: &RowErrorKind| match k {
            RowErrorKind::UnreadableCsv { .. } => 0,
            RowErrorKind::FieldCount { .. } => 1,
            RowErrorKind::NotShiftJis => 2,
            RowErrorKind::NotUtf8 => 3,
            RowErrorKind::NotARegistrationNumber { .. } => 4,
            RowErrorKind::NotADate { .. } => 5,
            RowErrorKind::TooLong { .. } => 6,
            RowErrorKind::NotKatakana { .. } => 7,
            RowErrorKind::ImplausibleBirthDate { .. } => 8,
            RowErrorKind::CardTooLong => 9,
            RowErrorKind::CardHalf => 10,
            RowErrorKind::DuplicateRegistrationNumber { .. } => 11,
            RowErrorKind::NotAnEventId { .. } => 12,
            RowErrorKind::NotABoolean { .. } => 13,
            RowErrorKind::CreditSyntax { .. } => 14,
            RowErrorKind::UnknownCreditSystem { .. } => 15,
            RowErrorKind::UnknownCreditCode { .. } => 16,
            RowErrorKind::UnitsNotANumber { .. } => 17,
            RowErrorKind::UnitsNegative { .. } => 18,
            RowErrorKind::UnitsZero { .. } => 19,
            RowErrorKind::UnitsStep { .. } => 20,
            RowErrorKind::CreditTwice { .. } => 21,
            RowErrorKind::NotAStatus { .. } => 22,
            RowErrorKind::NotARecordKey { .. } => 23,
            RowErrorKind::UnknownRegistrationNumber { .. } => 24,
            RowErrorKind::DuplicateRecord { .. } => 25,
            RowErrorKind::NoCredits { .. } => 26,
            RowErrorKind::UnknownEvent { .. } => 27,
            RowErrorKind::NewEventWithoutCredits { .. } => 28,
        };
        let numbers: Vec<usize> = RowErrorKind::examples().iter().map(number).collect();
        assert_eq!(numbers, (0..=28).collect::<Vec<_>>());
        let mut codes: Vec<&str> = RowErrorKind::examples().iter().map(RowErrorKind::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), numbers.len(), "codes are distinct");
        assert!(
            codes
                .iter()
                .all(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')),
            "{codes:?}"
        );
    }

    #[test]
    fn units_errors_read_as_before() {
        use crate::credits::Units;
        for text in ["x", "-1", "0", "0.3"] {
            let e = Units::parse_with_step(text, Units(50)).unwrap_err();
            let expected = format!("jma_cme:1: {e}");
            assert_eq!(RowErrorKind::units("jma_cme", "1", e).to_string(), expected);
        }
    }

    #[test]
    fn render_fills_placeholders_in_one_pass() {
        let params = [("value", "{first}"), ("first", "2")];
        assert_eq!(RowErrorKind::render("`{value}` と {first}行目", &params), "`{first}` と 2行目");
        assert_eq!(RowErrorKind::render("{unknown} {value", &params), "{unknown} {value");
        assert_eq!(RowErrorKind::render("なし", &[]), "なし");
    }
}
