//! Credit totals per fiscal year and system.

use std::collections::{BTreeMap, BTreeSet};

use crate::credits::{CreditLine, FiscalYear, Units};

/// Units and distinct codes of one system in one fiscal year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearTotal {
    /// The fiscal year.
    pub fiscal_year: FiscalYear,
    /// The system.
    pub system_id: String,
    /// Sum of units.
    pub units: Units,
    /// Number of distinct codes.
    pub distinct_codes: usize,
}

/// Totals per (fiscal year, system), oldest year first, systems by id.
pub fn by_fiscal_year(lines: &[CreditLine]) -> Vec<YearTotal> {
    let mut acc: BTreeMap<(FiscalYear, &str), (Units, BTreeSet<&str>)> = BTreeMap::new();
    for l in lines {
        let entry = acc.entry((FiscalYear::of(l.date), l.system_id.as_str())).or_default();
        entry.0 += l.units;
        entry.1.insert(l.code.as_str());
    }
    acc.into_iter()
        .map(|((fiscal_year, system), (units, codes))| YearTotal {
            fiscal_year,
            system_id: system.to_owned(),
            units,
            distinct_codes: codes.len(),
        })
        .collect()
}

/// Units and distinct codes of one system over all the lines given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemTotal {
    /// The system.
    pub system_id: String,
    /// Sum of units.
    pub units: Units,
    /// Number of distinct codes.
    pub distinct_codes: usize,
}

/// Totals per system over `lines`, in the order of `systems` (systems without lines included,
/// with zero).
pub fn by_system(systems: &[&str], lines: &[CreditLine]) -> Vec<SystemTotal> {
    systems
        .iter()
        .map(|system| {
            let mut units = Units(0);
            let mut codes = BTreeSet::new();
            for l in lines.iter().filter(|l| l.system_id == *system) {
                units += l.units;
                codes.insert(l.code.as_str());
            }
            SystemTotal { system_id: (*system).to_owned(), units, distinct_codes: codes.len() }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn line(system: &str, code: &str, units: i64, date: time::Date) -> CreditLine {
        CreditLine {
            system_id: system.into(),
            code: code.into(),
            units: Units(units),
            date,
            event_id: "e".into(),
        }
    }

    #[test]
    fn totals_per_system_count_each_code_once() {
        let lines = [
            line("jma_cme", "76", 150, date!(2026 - 04 - 01)),
            line("jma_cme", "76", 50, date!(2027 - 03 - 31)),
            line("jma_cme", "1", 100, date!(2025 - 06 - 01)),
            line("jma_sports", "refresher", 200, date!(2026 - 05 - 01)),
        ];
        let t = by_system(&["jma_cme", "jma_sangyoui", "jma_sports"], &lines);
        assert_eq!(
            t,
            [
                SystemTotal { system_id: "jma_cme".into(), units: Units(300), distinct_codes: 2 },
                SystemTotal { system_id: "jma_sangyoui".into(), units: Units(0), distinct_codes: 0 },
                SystemTotal { system_id: "jma_sports".into(), units: Units(200), distinct_codes: 1 },
            ]
        );
    }

    #[test]
    fn fiscal_year_totals_split_on_the_first_of_april() {
        let lines = [
            line("jma_cme", "76", 150, date!(2027 - 03 - 31)),
            line("jma_cme", "76", 50, date!(2027 - 04 - 01)),
        ];
        let t = by_fiscal_year(&lines);
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].fiscal_year, t[0].units), (FiscalYear(2026), Units(150)));
        assert_eq!((t[1].fiscal_year, t[1].units), (FiscalYear(2027), Units(50)));
    }
}
