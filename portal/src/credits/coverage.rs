//! The code-coverage grid: one cell per code of a system (84 for JMA lifelong education),
//! filled when the doctor has credits in it within the period shown.

use std::collections::HashMap;

use crate::credits::progress::Window;
use crate::credits::rules::CreditCode;
use crate::credits::{CreditLine, Units};

/// One cell of the grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// The code.
    pub code: String,
    /// Its Japanese name, when recorded.
    pub name_ja: Option<String>,
    /// Units earned in it within the period.
    pub units: Units,
}

impl Cell {
    /// Whether the doctor has the code.
    pub fn filled(&self) -> bool {
        self.units > Units(0)
    }
}

/// The grid of `system_id` in the order of `codes`, over `window` (`None`: all time).
pub fn grid(
    system_id: &str,
    codes: &[CreditCode],
    lines: &[CreditLine],
    window: Option<Window>,
) -> Vec<Cell> {
    let mut units: HashMap<&str, Units> = HashMap::new();
    for l in lines.iter().filter(|l| l.system_id == system_id && window.is_none_or(|w| w.contains(l.date))) {
        *units.entry(l.code.as_str()).or_default() += l.units;
    }
    codes
        .iter()
        .filter(|c| c.system_id == system_id)
        .map(|c| Cell {
            code: c.code.clone(),
            name_ja: c.name_ja.clone(),
            units: units.get(c.code.as_str()).copied().unwrap_or_default(),
        })
        .collect()
}
