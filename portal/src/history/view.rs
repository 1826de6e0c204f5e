//! What the history page shows, computed from a doctor's records with the credit rules: the
//! records grouped by fiscal year after the filters, totals per system, the curriculum-code
//! coverage grid, units per fiscal year and progress toward each certificate.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use time::Date;

use crate::credits::progress::{self, Progress, Window};
use crate::credits::rules::{CreditCode, CreditSystem, Rule, WindowKind};
use crate::credits::{CreditLine, FiscalYear, Units, coverage, totals};
use crate::history::chart::{self, Chart};
use crate::store::attendance::{Attendance, AttendanceFilter, Status};

/// The system whose curriculum codes make the coverage grid.
pub const GRID_SYSTEM: &str = "jma_cme";
/// Most records listed at once (the totals still count every record).
pub const MAX_ROWS: usize = 500;
/// Most fiscal years in the chart (the latest ones).
const CHART_YEARS: i32 = 10;

/// The filters as the form sends them (GET query); empty means "all".
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RawFilters {
    /// Fiscal year (`2026`).
    #[serde(default)]
    pub year: String,
    /// System id.
    #[serde(default)]
    pub system: String,
    /// Code within the system (or any system).
    #[serde(default)]
    pub code: String,
    /// `provisional`, `confirmed`, `rejected`.
    #[serde(default)]
    pub status: String,
}

/// The filters that hold: a value that is not understood is ignored (and shown as "all").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Fiscal year.
    pub year: Option<FiscalYear>,
    /// System.
    pub system: Option<String>,
    /// Code.
    pub code: Option<String>,
    /// Status.
    pub status: Option<Status>,
}

impl Filters {
    /// Reads the form's values against the known systems.
    pub fn parse(raw: &RawFilters, systems: &[CreditSystem]) -> Self {
        let year = raw.year.trim().parse::<i32>().ok().filter(|y| (1900..=2200).contains(y)).map(FiscalYear);
        let system =
            Some(raw.system.trim()).filter(|s| systems.iter().any(|x| x.id == *s)).map(str::to_owned);
        let code = Some(raw.code.trim())
            .filter(|c| !c.is_empty() && c.len() <= 64)
            // A numeric code is written as imports write numbers (full-width digits, leading
            // zeros: "０７６" is 76); other codes stay as given.
            .map(|c| crate::import::registration::normalize(c).unwrap_or_else(|_| c.to_owned()));
        let status = raw.status.trim().parse().ok();
        Self { year, system, code, status }
    }

    fn credit_matches(&self, system_id: &str, code: &str) -> bool {
        self.system.as_deref().is_none_or(|s| s == system_id)
            && self.code.as_deref().is_none_or(|c| c == code)
    }

    /// The store's form of the filters.
    pub fn store_filter(&self) -> AttendanceFilter<'_> {
        AttendanceFilter {
            fiscal_year: self.year,
            status: self.status,
            system_id: self.system.as_deref(),
            code: self.code.as_deref(),
        }
    }

    fn keeps_line(&self, l: &CreditLine) -> bool {
        self.year.is_none_or(|y| FiscalYear::of(l.date) == y) && self.credit_matches(&l.system_id, &l.code)
    }
}

/// Texts the view needs, in the page's language.
pub trait Texts {
    /// The text of a locale key.
    fn text(&self, key: &str) -> String;
    /// Whether the page is in Japanese.
    fn japanese(&self) -> bool;
}

/// A doctor's data, as read from the store.
#[derive(Debug, Clone, Copy)]
pub struct Data<'a> {
    /// The records to list (already filtered, newest first, at most [`MAX_ROWS`]).
    pub listed: &'a [Attendance],
    /// How many records match the filters in all.
    pub matching: usize,
    /// Fiscal years with records, newest first.
    pub years: &'a [FiscalYear],
    /// Every confirmed credit of the doctor.
    pub lines: &'a [CreditLine],
    /// Title and organizer of the listed records' events, by id.
    pub events: &'a HashMap<String, (String, String)>,
    /// Credit systems.
    pub systems: &'a [CreditSystem],
    /// Codes of every system.
    pub codes: &'a [CreditCode],
    /// Certificate rules.
    pub rules: &'a [Rule],
}

/// An option of a select.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Choice {
    /// Value sent.
    pub value: String,
    /// Text shown.
    pub label: String,
    /// Currently chosen.
    pub selected: bool,
}

/// One credit of a listed record.
#[derive(Debug, Clone, Serialize)]
pub struct CreditView {
    /// System name.
    pub system: String,
    /// Code.
    pub code: String,
    /// Code name, when recorded.
    pub code_name: Option<String>,
    /// As shown: a curriculum number with its name (`76 糖尿病`), a named code by its name
    /// alone (`応用研修`, not `applied`).
    pub label: String,
    /// Units.
    pub units: String,
}

/// How a code is shown: numbers (JMA curriculum codes) with their name, other codes (`applied`,
/// `refresher`) by their name when they have one.
pub fn code_label(code: &str, name: Option<&str>) -> String {
    match name {
        Some(name) if code.bytes().all(|b| b.is_ascii_digit()) => format!("{code} {name}"),
        Some(name) => name.to_owned(),
        None => code.to_owned(),
    }
}

/// One listed record.
#[derive(Debug, Clone, Serialize)]
pub struct RecordView {
    /// Day of attendance (`2026-06-01`).
    pub date: String,
    /// Event title (or its id when unknown).
    pub title: String,
    /// Organizer.
    pub organizer: String,
    /// `provisional`, `confirmed`, `rejected`.
    pub status: &'static str,
    /// Credits after the system/code filters.
    pub credits: Vec<CreditView>,
}

/// Records of one fiscal year.
#[derive(Debug, Clone, Serialize)]
pub struct YearGroup {
    /// "2026年度" / "FY2026".
    pub label: String,
    /// Records, newest first.
    pub records: Vec<RecordView>,
}

/// Totals of one system.
#[derive(Debug, Clone, Serialize)]
pub struct TotalView {
    /// System id.
    pub system_id: String,
    /// System name.
    pub name: String,
    /// Units.
    pub units: String,
    /// Distinct codes.
    pub distinct_codes: usize,
}

/// One cell of the coverage grid.
#[derive(Debug, Clone, Serialize)]
pub struct CellView {
    /// Code.
    pub code: String,
    /// Code name, when recorded.
    pub name: Option<String>,
    /// Units in it.
    pub units: String,
    /// Whether the doctor has it.
    pub filled: bool,
}

/// The coverage grid.
#[derive(Debug, Clone, Serialize)]
pub struct CoverageView {
    /// The period counted ("2024年度–2026年度").
    pub period: String,
    /// "40 / 84 コード取得（2024年度–2026年度）".
    pub summary: String,
    /// Filled cells.
    pub filled: usize,
    /// All cells (84).
    pub total: usize,
    /// Cells in code order.
    pub cells: Vec<CellView>,
}

/// The chart with its caption.
#[derive(Debug, Clone, Serialize)]
pub struct ChartView {
    /// The system charted.
    pub system: String,
    /// What the chart shows, in words.
    pub description: String,
    /// Bars.
    pub chart: Chart,
}

/// Progress toward one certificate.
#[derive(Debug, Clone, Serialize)]
pub struct ProgressView {
    /// Rule id.
    pub rule_id: String,
    /// Certificate name.
    pub name: String,
    /// Reached.
    pub met: bool,
    /// "12.5 more to go before March 2027" / 「あと12.5単位（2027年3月まで）」, or "achieved".
    pub summary: String,
    /// Headline figure reached.
    pub achieved: String,
    /// Headline threshold.
    pub minimum: String,
    /// Same, as numbers for `<progress>`.
    pub achieved_value: f64,
    /// Threshold as a number.
    pub minimum_value: f64,
    /// The window counted, if any ("2024-04-01 – 2027-03-31").
    pub window: Option<String>,
    /// The prerequisite certificate is missing.
    pub prerequisite_missing: bool,
}

/// Everything the history template shows.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryView {
    /// Fiscal years with records, newest first.
    pub years: Vec<Choice>,
    /// Systems.
    pub systems: Vec<Choice>,
    /// Statuses.
    pub statuses: Vec<Choice>,
    /// The code filter as given.
    pub code: String,
    /// Any filter holds.
    pub filtered: bool,
    /// Records after the filters, by fiscal year.
    pub groups: Vec<YearGroup>,
    /// Records listed.
    pub shown: usize,
    /// Records matching the filters.
    pub matching: usize,
    /// "Showing 500 of 5000 records" when the list is cut.
    pub truncated: Option<String>,
    /// Totals of confirmed credits per system (after the filters).
    pub totals: Vec<TotalView>,
    /// The curriculum-code grid.
    pub coverage: Option<CoverageView>,
    /// Units per fiscal year.
    pub chart: Option<ChartView>,
    /// Progress toward each certificate (all confirmed credits, today).
    pub progress: Vec<ProgressView>,
}

fn fy_label(t: &dyn Texts, fy: FiscalYear) -> String {
    t.text("history_fy").replace("{year}", &fy.0.to_string())
}

fn system_name(t: &dyn Texts, systems: &[CreditSystem], id: &str) -> String {
    systems
        .iter()
        .find(|s| s.id == id)
        .map_or_else(|| id.to_owned(), |s| if t.japanese() { s.name_ja.clone() } else { s.name_en.clone() })
}

fn code_name(t: &dyn Texts, codes: &[CreditCode], system: &str, code: &str) -> Option<String> {
    let c = codes.iter().find(|c| c.system_id == system && c.code == code)?;
    if t.japanese() { c.name_ja.clone() } else { c.name_en.clone().or_else(|| c.name_ja.clone()) }
}

/// "あと12.5単位（2027年3月まで）" / "12.5 more to go before March 2027".
pub fn summary(t: &dyn Texts, p: &Progress) -> String {
    if p.met {
        return t.text("history_progress_met");
    }
    let units = p.remaining().to_string();
    match p.deadline {
        Some(d) => {
            let month = if t.japanese() { u8::from(d.month()).to_string() } else { d.month().to_string() };
            t.text("history_progress_remaining_by")
                .replace("{units}", &units)
                .replace("{year}", &d.year().to_string())
                .replace("{month}", &month)
        }
        None => t.text("history_progress_remaining").replace("{units}", &units),
    }
}

fn units_value(u: Units) -> f64 {
    // Exact for every figure a page shows (hundredths well below 2^53).
    u.0 as f64 / 100.0
}

fn window_text(w: Window) -> String {
    format!("{} – {}", w.from, w.to)
}

/// Builds the page's view on `today`.
pub fn build(data: Data<'_>, filters: &Filters, t: &dyn Texts, today: Date) -> HistoryView {
    let lines = data.lines;

    let mut years: BTreeSet<FiscalYear> = data.years.iter().copied().collect();
    if let Some(y) = filters.year {
        years.insert(y);
    }
    let years = years
        .into_iter()
        .rev()
        .map(|y| Choice { value: y.0.to_string(), label: fy_label(t, y), selected: filters.year == Some(y) })
        .collect();
    let systems = data
        .systems
        .iter()
        .map(|s| Choice {
            value: s.id.clone(),
            label: system_name(t, data.systems, &s.id),
            selected: filters.system.as_deref() == Some(s.id.as_str()),
        })
        .collect();
    let statuses = [Status::Confirmed, Status::Provisional, Status::Rejected]
        .into_iter()
        .map(|s| Choice {
            value: s.as_str().to_owned(),
            label: t.text(&format!("history_status_{}", s.as_str())),
            selected: filters.status == Some(s),
        })
        .collect();

    // Records (the store applied the filters; only the credits shown are narrowed here).
    let mut groups: Vec<YearGroup> = Vec::new();
    let mut last_year = None;
    for a in data.listed.iter().take(MAX_ROWS) {
        let fy = FiscalYear::of(a.attended_on);
        let event = data.events.get(&a.event_id);
        let record = RecordView {
            date: a.attended_on.to_string(),
            title: event.map_or_else(|| a.event_id.clone(), |e| e.0.clone()),
            organizer: event.map(|e| e.1.clone()).unwrap_or_default(),
            status: a.status.as_str(),
            credits: a
                .credits
                .iter()
                .filter(|c| filters.credit_matches(&c.system_id, &c.code))
                .map(|c| {
                    let code_name = code_name(t, data.codes, &c.system_id, &c.code);
                    CreditView {
                        system: system_name(t, data.systems, &c.system_id),
                        code: c.code.clone(),
                        label: code_label(&c.code, code_name.as_deref()),
                        code_name,
                        units: c.units.to_string(),
                    }
                })
                .collect(),
        };
        if last_year != Some(fy) {
            groups.push(YearGroup { label: fy_label(t, fy), records: Vec::new() });
            last_year = Some(fy);
        }
        if let Some(g) = groups.last_mut() {
            g.records.push(record);
        }
    }
    let shown = data.listed.len().min(MAX_ROWS);
    let matching = data.matching.max(shown);

    // Totals of confirmed credits after the filters (a status filter other than confirmed
    // leaves nothing to count).
    let counted: Vec<CreditLine> = if filters.status.is_none_or(|s| s == Status::Confirmed) {
        lines.iter().filter(|l| filters.keeps_line(l)).cloned().collect()
    } else {
        Vec::new()
    };
    let ids: Vec<&str> = data
        .systems
        .iter()
        .map(|s| s.id.as_str())
        .filter(|id| filters.system.as_deref().is_none_or(|s| s == *id))
        .collect();
    let totals = totals::by_system(&ids, &counted)
        .into_iter()
        .map(|s| TotalView {
            name: system_name(t, data.systems, &s.system_id),
            system_id: s.system_id,
            units: s.units.to_string(),
            distinct_codes: s.distinct_codes,
        })
        .collect();

    // Coverage: the chosen fiscal year, else the JMA certificate's current window.
    let coverage = data.codes.iter().any(|c| c.system_id == GRID_SYSTEM).then(|| {
        let (window, period) = match filters.year {
            Some(y) => (Some(Window::fiscal_years(y, 1)), fy_label(t, y)),
            None => {
                let kind = data
                    .rules
                    .iter()
                    .find(|r| r.system_id == GRID_SYSTEM && matches!(r.window, WindowKind::FiscalYears(_)))
                    .map(|r| r.window);
                match kind.map(|k| progress::current_window(k, today).0) {
                    Some(Some(w)) => (
                        Some(w),
                        format!(
                            "{}–{}",
                            fy_label(t, FiscalYear::of(w.from)),
                            fy_label(t, FiscalYear::of(w.to))
                        ),
                    ),
                    _ => (None, t.text("history_all_time")),
                }
            }
        };
        let cells: Vec<CellView> = coverage::grid(GRID_SYSTEM, data.codes, lines, window)
            .into_iter()
            .map(|c| CellView {
                filled: c.filled(),
                name: code_name(t, data.codes, GRID_SYSTEM, &c.code),
                units: c.units.to_string(),
                code: c.code,
            })
            .collect();
        let filled = cells.iter().filter(|c| c.filled).count();
        let summary = t
            .text("history_coverage_summary")
            .replace("{filled}", &filled.to_string())
            .replace("{total}", &cells.len().to_string())
            .replace("{period}", &period);
        CoverageView { period, summary, filled, total: cells.len(), cells }
    });

    // Units per fiscal year of the chosen system (JMA lifelong education by default).
    let chart_system = filters
        .system
        .clone()
        .or_else(|| data.systems.iter().find(|s| s.id == GRID_SYSTEM).map(|s| s.id.clone()))
        .or_else(|| data.systems.first().map(|s| s.id.clone()));
    let chart = chart_system.map(|system| {
        let per_year = totals::by_fiscal_year(lines);
        let current = FiscalYear::of(today);
        let first = per_year
            .iter()
            .filter(|y| y.system_id == system)
            .map(|y| y.fiscal_year)
            .min()
            .unwrap_or(current)
            .max(FiscalYear(current.0 - CHART_YEARS + 1))
            .min(current);
        let values: Vec<(String, Units)> = (first.0..=current.0)
            .map(|y| {
                let units = per_year
                    .iter()
                    .find(|t| t.fiscal_year.0 == y && t.system_id == system)
                    .map_or(Units(0), |t| t.units);
                (fy_label(t, FiscalYear(y)), units)
            })
            .collect();
        let name = system_name(t, data.systems, &system);
        ChartView {
            description: t.text("history_chart_desc").replace("{system}", &name),
            system: name,
            chart: chart::bars(&values),
        }
    });

    let progress = progress::all_progress(data.rules, lines, today)
        .iter()
        .filter_map(|p| {
            let rule = data.rules.iter().find(|r| r.id == p.rule_id)?;
            let head = p.requirements.first()?;
            Some(ProgressView {
                rule_id: p.rule_id.clone(),
                name: if t.japanese() { rule.name_ja.clone() } else { rule.name_en.clone() },
                met: p.met,
                summary: summary(t, p),
                achieved: head.achieved.to_string(),
                minimum: head.minimum.to_string(),
                achieved_value: units_value(head.achieved.min(head.minimum)),
                minimum_value: units_value(head.minimum),
                window: p.window.map(window_text),
                prerequisite_missing: p.prerequisite_met == Some(false),
            })
        })
        .collect();

    HistoryView {
        years,
        systems,
        statuses,
        code: filters.code.clone().unwrap_or_default(),
        filtered: filters != &Filters::default(),
        groups,
        shown,
        matching,
        truncated: (shown < matching).then(|| {
            t.text("history_records_truncated")
                .replace("{shown}", &shown.to_string())
                .replace("{matching}", &matching.to_string())
        }),
        totals,
        coverage,
        chart,
        progress,
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;
    use crate::credits::progress::RequirementProgress;
    use crate::credits::rules::Measure;

    struct Ja;
    impl Texts for Ja {
        fn text(&self, key: &str) -> String {
            match key {
                "history_progress_met" => "達成".into(),
                "history_progress_remaining_by" => "あと{units}単位（{year}年{month}月まで）".into(),
                "history_progress_remaining" => "あと{units}単位".into(),
                _ => key.into(),
            }
        }
        fn japanese(&self) -> bool {
            true
        }
    }
    struct En;
    impl Texts for En {
        fn text(&self, key: &str) -> String {
            match key {
                "history_progress_met" => "Achieved".into(),
                "history_progress_remaining_by" => "{units} more to go before {month} {year}".into(),
                "history_progress_remaining" => "{units} more to go".into(),
                _ => key.into(),
            }
        }
        fn japanese(&self) -> bool {
            false
        }
    }

    fn progress(achieved: i64, deadline: Option<Date>) -> Progress {
        let minimum = Units::whole(60);
        Progress {
            rule_id: "r".into(),
            window: None,
            deadline,
            requirements: vec![RequirementProgress {
                seq: 1,
                measure: Measure::UnitsPlusDistinctCodes,
                code_scope: None,
                minimum,
                achieved: Units(achieved),
                remaining: Units(achieved).remaining_to(minimum),
            }],
            prerequisite_met: None,
            met: Units(achieved) >= minimum,
        }
    }

    #[test]
    fn summaries_in_both_languages() {
        let p = progress(4750, Some(date!(2027 - 03 - 31)));
        assert_eq!(summary(&Ja, &p), "あと12.5単位（2027年3月まで）");
        assert_eq!(summary(&En, &p), "12.5 more to go before March 2027");
        let p = progress(5950, None);
        assert_eq!(summary(&Ja, &p), "あと0.5単位");
        assert_eq!(summary(&En, &p), "0.5 more to go");
        assert_eq!(summary(&Ja, &progress(6000, Some(date!(2027 - 03 - 31)))), "達成");
    }

    #[test]
    fn unknown_filter_values_are_ignored() {
        let systems = [CreditSystem {
            id: "jma_cme".into(),
            name_ja: "日医".into(),
            name_en: "JMA".into(),
            unit_step: Units(50),
        }];
        let raw = RawFilters {
            year: "2026".into(),
            system: "nope".into(),
            code: "０７６".into(),
            status: "x".into(),
        };
        let f = Filters::parse(&raw, &systems);
        assert_eq!(
            f,
            Filters { year: Some(FiscalYear(2026)), system: None, code: Some("76".into()), status: None }
        );
        let raw = RawFilters {
            year: "abc".into(),
            system: "jma_cme".into(),
            code: String::new(),
            status: "confirmed".into(),
        };
        let f = Filters::parse(&raw, &systems);
        assert_eq!(
            f,
            Filters {
                year: None,
                system: Some("jma_cme".into()),
                code: None,
                status: Some(Status::Confirmed)
            }
        );
    }
}
