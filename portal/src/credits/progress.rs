//! Progress toward a certificate: which window counts now, how much each requirement has, what
//! is missing and by when ("12.5 more to go before March 2027").

use std::collections::{BTreeSet, HashMap};

use time::{Date, Month};

use crate::credits::rules::{Measure, Rule, WindowKind};
use crate::credits::{CreditLine, FiscalYear, Units, in_scope};

/// A stretch of days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First day.
    pub from: Date,
    /// Last day.
    pub to: Date,
}

impl Window {
    /// Whether `date` lies within.
    pub fn contains(&self, date: Date) -> bool {
        self.from <= date && date <= self.to
    }

    /// The `n` fiscal years ending with `last`.
    pub fn fiscal_years(last: FiscalYear, n: u16) -> Self {
        Self { from: FiscalYear(last.0 - i32::from(n) + 1).first_day(), to: last.last_day() }
    }
}

/// The window a rule counts on `as_of` (`None`: no window) and the day it closes, if it does.
pub fn current_window(kind: WindowKind, as_of: Date) -> (Option<Window>, Option<Date>) {
    let ymd = |y: i32, m: Month, d: u8| Date::from_calendar_date(y, m, d).unwrap_or(as_of);
    match kind {
        WindowKind::FiscalYears(n) => {
            let w = Window::fiscal_years(FiscalYear::of(as_of), n);
            (Some(w), Some(w.to))
        }
        WindowKind::CalendarYears(n) => {
            let w = Window {
                from: ymd(as_of.year() - i32::from(n) + 1, Month::January, 1),
                to: ymd(as_of.year(), Month::December, 31),
            };
            (Some(w), Some(w.to))
        }
        WindowKind::RollingYears(n) => {
            let from_year = as_of.year() - i32::from(n);
            // The day after the same date n years earlier (29 February falls back to 1 March).
            let start = Date::from_calendar_date(from_year, as_of.month(), as_of.day())
                .unwrap_or_else(|_| ymd(from_year, Month::March, 1))
                .next_day()
                .unwrap_or(as_of);
            (Some(Window { from: start, to: as_of }), None)
        }
        WindowKind::AllTime => (None, None),
    }
}

/// One requirement's standing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequirementProgress {
    /// Its order in the rule.
    pub seq: i64,
    /// What it counts.
    pub measure: Measure,
    /// Which codes count.
    pub code_scope: Option<String>,
    /// The threshold.
    pub minimum: Units,
    /// What the doctor has within the window.
    pub achieved: Units,
    /// What is missing (zero when met).
    pub remaining: Units,
}

/// A rule's standing on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The rule.
    pub rule_id: String,
    /// The window counted (`None`: all time).
    pub window: Option<Window>,
    /// The day the window closes, if it does: "before March 2027".
    pub deadline: Option<Date>,
    /// Each requirement, headline first.
    pub requirements: Vec<RequirementProgress>,
    /// The prerequisite rule's standing, when the rule has one.
    pub prerequisite_met: Option<bool>,
    /// Every requirement (and the prerequisite) holds.
    pub met: bool,
}

impl Progress {
    /// What is missing on the headline requirement ("12.5 more to go").
    pub fn remaining(&self) -> Units {
        self.requirements.first().map_or(Units(0), |r| r.remaining)
    }
}

/// Why a rule cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The rule (or its prerequisite) is not among the rules given.
    #[error("unknown certificate rule `{0}`")]
    UnknownRule(String),
    /// Prerequisites form a cycle (or a chain deeper than 8).
    #[error("the prerequisites of rule `{0}` form a cycle")]
    Cycle(String),
}

/// Counts each requirement of `rule` over `lines` within `window` (`None`: all lines).
pub fn evaluate_window(
    rule: &Rule,
    lines: &[CreditLine],
    window: Option<Window>,
) -> Vec<RequirementProgress> {
    let relevant: Vec<&CreditLine> = lines
        .iter()
        .filter(|l| l.system_id == rule.system_id && window.is_none_or(|w| w.contains(l.date)))
        .collect();
    rule.requirements
        .iter()
        .map(|req| {
            let scoped = relevant.iter().filter(|l| in_scope(&l.code, req.code_scope.as_deref()));
            let mut units = Units(0);
            let mut codes = BTreeSet::new();
            for l in scoped {
                units += l.units;
                codes.insert(l.code.as_str());
            }
            let distinct = Units::whole(i64::try_from(codes.len()).unwrap_or(i64::MAX / 100));
            let achieved = match req.measure {
                Measure::Units => units,
                Measure::DistinctCodes => distinct,
                Measure::UnitsPlusDistinctCodes => units + distinct,
            };
            RequirementProgress {
                seq: req.seq,
                measure: req.measure,
                code_scope: req.code_scope.clone(),
                minimum: req.minimum,
                achieved,
                remaining: achieved.remaining_to(req.minimum),
            }
        })
        .collect()
}

/// The standing of rule `rule_id` on `as_of`, with its prerequisite chain.
pub fn progress(
    rules: &[Rule],
    rule_id: &str,
    lines: &[CreditLine],
    as_of: Date,
) -> Result<Progress, RuleError> {
    let by_id: HashMap<&str, &Rule> = rules.iter().map(|r| (r.id.as_str(), r)).collect();
    progress_at_depth(&by_id, rule_id, lines, as_of, 0)
}

fn progress_at_depth(
    rules: &HashMap<&str, &Rule>,
    rule_id: &str,
    lines: &[CreditLine],
    as_of: Date,
    depth: usize,
) -> Result<Progress, RuleError> {
    if depth > 8 {
        return Err(RuleError::Cycle(rule_id.to_owned()));
    }
    let rule = rules.get(rule_id).ok_or_else(|| RuleError::UnknownRule(rule_id.to_owned()))?;
    let prerequisite_met = match &rule.prerequisite {
        Some(p) => Some(progress_at_depth(rules, p, lines, as_of, depth + 1)?.met),
        None => None,
    };
    let (window, deadline) = current_window(rule.window, as_of);
    let requirements = evaluate_window(rule, lines, window);
    let met = prerequisite_met != Some(false) && requirements.iter().all(|r| r.remaining == Units(0));
    Ok(Progress { rule_id: rule.id.clone(), window, deadline, requirements, prerequisite_met, met })
}

/// The standing of every rule on `as_of`, in the order given; a rule that cannot be evaluated
/// (its prerequisite is missing) is left out.
pub fn all_progress(rules: &[Rule], lines: &[CreditLine], as_of: Date) -> Vec<Progress> {
    rules.iter().filter_map(|r| progress(rules, &r.id, lines, as_of).ok()).collect()
}
