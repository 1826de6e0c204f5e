//! Caps on the credits that count: at most N units of a system's codes (or of one branch of
//! them) per event, or per fiscal year. A record keeps what its event granted; the lines past a
//! cap are cut before totals, the coverage grid and certificate progress see them, so a changed
//! cap changes every total at once.

use std::collections::HashMap;
use std::str::FromStr;

use crate::credits::{CreditLine, FiscalYear, Units, in_scope};

/// What a cap is counted over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapPeriod {
    /// One event (all of a doctor's attendances at it).
    Event,
    /// One fiscal year, April–March.
    FiscalYear,
}

impl CapPeriod {
    /// The stored and written form (`event`, `fiscal_year`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Event => "event",
            Self::FiscalYear => "fiscal_year",
        }
    }
}

impl FromStr for CapPeriod {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "event" => Ok(Self::Event),
            "fiscal_year" => Ok(Self::FiscalYear),
            _ => Err(()),
        }
    }
}

/// At most `maximum` units of `system_id`'s codes within `code_scope` count per `per`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cap {
    /// The system.
    pub system_id: String,
    /// Over what the maximum holds.
    pub per: CapPeriod,
    /// Which codes it covers (`None`: all of the system's).
    pub code_scope: Option<String>,
    /// The most that counts.
    pub maximum: Units,
}

#[derive(Debug, PartialEq, Eq, Hash)]
enum Bucket<'a> {
    Event(&'a str),
    Year(FiscalYear),
}

/// The lines as they count under `caps`: in their order (oldest first), each line counts what
/// every cap covering it still allows; a line that counts nothing is dropped (its code is not
/// covered either).
pub fn apply(caps: &[Cap], lines: Vec<CreditLine>) -> Vec<CreditLine> {
    if caps.is_empty() {
        return lines;
    }
    let mut used: HashMap<(usize, Bucket<'_>), Units> = HashMap::new();
    let mut counted = Vec::with_capacity(lines.len());
    for line in &lines {
        let covering: Vec<(usize, &Cap)> = caps
            .iter()
            .enumerate()
            .filter(|(_, c)| c.system_id == line.system_id && in_scope(&line.code, c.code_scope.as_deref()))
            .collect();
        let bucket = |cap: &Cap| match cap.per {
            CapPeriod::Event => Bucket::Event(line.event_id.as_str()),
            CapPeriod::FiscalYear => Bucket::Year(FiscalYear::of(line.date)),
        };
        let mut allowed = line.units;
        for (i, cap) in &covering {
            let so_far = used.get(&(*i, bucket(cap))).copied().unwrap_or_default();
            allowed = allowed.min(so_far.remaining_to(cap.maximum));
        }
        for (i, cap) in &covering {
            *used.entry((*i, bucket(cap))).or_default() += allowed;
        }
        counted.push(allowed);
    }
    lines
        .into_iter()
        .zip(counted)
        .filter(|(_, units)| *units > Units(0))
        .map(|(line, units)| CreditLine { units, ..line })
        .collect()
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn line(code: &str, units: i64, date: time::Date, event: &str) -> CreditLine {
        CreditLine {
            system_id: "s".into(),
            code: code.into(),
            units: Units(units),
            date,
            event_id: event.into(),
        }
    }

    fn cap(per: CapPeriod, scope: Option<&str>, maximum: i64) -> Cap {
        Cap { system_id: "s".into(), per, code_scope: scope.map(Into::into), maximum: Units(maximum) }
    }

    #[test]
    fn an_event_counts_at_most_its_cap_across_its_codes() {
        let lines = vec![
            line("1", 300, date!(2026 - 05 - 01), "A"),
            line("2", 300, date!(2026 - 05 - 01), "A"),
            line("3", 300, date!(2026 - 05 - 01), "A"),
            line("1", 300, date!(2026 - 06 - 01), "B"),
        ];
        let out = apply(&[cap(CapPeriod::Event, None, 500)], lines);
        let got: Vec<(&str, i64, &str)> =
            out.iter().map(|l| (l.code.as_str(), l.units.0, l.event_id.as_str())).collect();
        // Code 3 of event A counts nothing and is dropped; event B has its own 5.
        assert_eq!(got, [("1", 300, "A"), ("2", 200, "A"), ("1", 300, "B")]);
    }

    #[test]
    fn a_fiscal_year_cap_covers_its_scope_only_and_restarts_in_april() {
        let lines = vec![
            line("e.video", 600, date!(2026 - 04 - 01), "A"),
            line("e.video", 600, date!(2027 - 03 - 31), "B"),
            line("live", 600, date!(2027 - 03 - 31), "C"),
            line("e.quiz", 600, date!(2027 - 04 - 01), "D"),
        ];
        let out = apply(&[cap(CapPeriod::FiscalYear, Some("e"), 1000)], lines);
        let got: Vec<i64> = out.iter().map(|l| l.units.0).collect();
        assert_eq!(got, [600, 400, 600, 600]);
    }

    #[test]
    fn the_tightest_of_several_caps_holds_and_other_systems_are_untouched() {
        let mut other = line("1", 900, date!(2026 - 05 - 01), "A");
        other.system_id = "t".into();
        let lines = vec![line("1", 900, date!(2026 - 05 - 01), "A"), other];
        let caps = [cap(CapPeriod::Event, None, 800), cap(CapPeriod::FiscalYear, Some("1"), 300)];
        let got: Vec<i64> = apply(&caps, lines).iter().map(|l| l.units.0).collect();
        assert_eq!(got, [300, 900]);
    }
}
