//! The shape of credit systems, codes and certificate rules, as stored in the tables
//! `credit_systems`, `credit_codes`, `certificate_rules` and `certificate_requirements`.

use std::str::FromStr;

use crate::credits::Units;

/// A credit system (`jma_cme`: 日医生涯教育制度).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditSystem {
    /// Stable id.
    pub id: String,
    /// Japanese name.
    pub name_ja: String,
    /// English name.
    pub name_en: String,
    /// Smallest step of units (0.5).
    pub unit_step: Units,
}

/// One code of a system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditCode {
    /// The system.
    pub system_id: String,
    /// The code (`76`).
    pub code: String,
    /// Japanese name, when recorded.
    pub name_ja: Option<String>,
    /// English name, when recorded.
    pub name_en: Option<String>,
}

/// A code as a document shows it in a narrow column: a curriculum number as it is (`76`),
/// another code by its name in the language (`応用研修`, not `applied`) when `codes` has one.
pub fn code_short_label(codes: &[CreditCode], system: &str, code: &str, japanese: bool) -> String {
    if code.bytes().all(|b| b.is_ascii_digit()) {
        return code.to_owned();
    }
    codes
        .iter()
        .find(|c| c.system_id == system && c.code == code)
        .and_then(
            |c| if japanese { c.name_ja.clone() } else { c.name_en.clone().or_else(|| c.name_ja.clone()) },
        )
        .unwrap_or_else(|| code.to_owned())
}

/// Over which stretch of time a rule's requirements must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// N consecutive fiscal years (April–March), ending with the current one.
    FiscalYears(u16),
    /// N consecutive calendar years, ending with the current one.
    CalendarYears(u16),
    /// The N years up to the day of evaluation.
    RollingYears(u16),
    /// No window: everything ever earned counts.
    AllTime,
}

impl WindowKind {
    /// From the stored `window_kind` and `window_years`.
    pub fn from_stored(kind: &str, years: i64) -> Option<Self> {
        let years = u16::try_from(years).ok().filter(|y| *y > 0);
        match kind {
            "fiscal_years" => years.map(Self::FiscalYears),
            "calendar_years" => years.map(Self::CalendarYears),
            "rolling_years" => years.map(Self::RollingYears),
            "all_time" => Some(Self::AllTime),
            _ => None,
        }
    }
}

/// What a requirement counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Sum of units.
    Units,
    /// Number of distinct codes (each 1.00).
    DistinctCodes,
    /// Sum of units plus the number of distinct codes (JMA: 単位 + カリキュラムコード数).
    UnitsPlusDistinctCodes,
}

impl FromStr for Measure {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "units" => Ok(Self::Units),
            "distinct_codes" => Ok(Self::DistinctCodes),
            "units_plus_distinct_codes" => Ok(Self::UnitsPlusDistinctCodes),
            _ => Err(()),
        }
    }
}

/// One requirement of a rule: `measure` over the codes in `code_scope` reaches `minimum`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// Order; 1 is the headline.
    pub seq: i64,
    /// What is counted.
    pub measure: Measure,
    /// Which codes count (`None`: all of the system's).
    pub code_scope: Option<String>,
    /// The threshold (distinct codes count as 1.00 each).
    pub minimum: Units,
}

/// A certificate or completion rule of one system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Stable id (`jma_cme_certificate`).
    pub id: String,
    /// The system whose credits count.
    pub system_id: String,
    /// Japanese name.
    pub name_ja: String,
    /// English name.
    pub name_en: String,
    /// Window over which the requirements hold.
    pub window: WindowKind,
    /// A rule that must hold too.
    pub prerequisite: Option<String>,
    /// Requirements, headline first.
    pub requirements: Vec<Requirement>,
}
