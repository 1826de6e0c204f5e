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
