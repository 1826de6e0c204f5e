//! A credit system as a file an operator writes (`shikaku admin credits apply FILE.toml`) and
//! reads back (`admin credits export SYSTEM`): the system, its codes with their names, and its
//! certificate rules with their requirements. Applying a definition adds the system or updates
//! it in place (docs/portal.md, "Credit systems as data"); nothing needs a release.
//!
//! ```toml
//! id = "jmsb_common"
//! name_ja = "日本専門医機構 共通講習"
//! name_en = "Japanese Medical Specialty Board: common courses"
//! unit_step = "0.5"
//! sort_order = 10
//!
//! [[codes]]
//! code = "safety"
//! name_ja = "医療安全"
//! name_en = "Patient safety"
//!
//! [[rules]]
//! id = "jmsb_common_renewal"
//! name_ja = "専門医更新（共通講習）"
//! name_en = "Specialist renewal (common courses)"
//! window = "rolling_years"
//! years = 5
//! requirements = [ { measure = "units", minimum = "3" },
//!                  { measure = "units", code = "safety", minimum = "1" } ]
//!
//! [[caps]]
//! per = "event"        # or "fiscal_year"
//! maximum = "6"        # code = "safety" limits the cap to a code and its branch
//! ```

use serde::{Deserialize, Serialize};

use crate::credits::Units;
use crate::credits::rules::WindowKind;

/// A credit system with its codes and rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemDef {
    /// Stable id: 1–32 of `a-z 0-9 _`.
    pub id: String,
    /// Japanese name.
    pub name_ja: String,
    /// English name.
    pub name_en: String,
    /// Smallest step of units (`"0.5"`, `"1"`).
    pub unit_step: String,
    /// Place among the systems (lower first).
    #[serde(default)]
    pub sort_order: i64,
    /// Codes, in display order.
    #[serde(default)]
    pub codes: Vec<CodeDef>,
    /// Certificate (or completion) rules.
    #[serde(default)]
    pub rules: Vec<RuleDef>,
    /// Caps on the credits that count. Absent: the stored caps stay; `caps = []` removes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps: Option<Vec<CapDef>>,
}

/// A cap: at most `maximum` units of the codes within `code` count per event or fiscal year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapDef {
    /// `event` or `fiscal_year`.
    pub per: String,
    /// A code and its dotted descendants; absent: every code of the system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The most that counts, in units (`"6"`, `"1.5"`).
    pub maximum: String,
}

/// One code of a system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeDef {
    /// The code: dotted path of `a-z A-Z 0-9 _ -` segments (`76`, `basic.early`).
    pub code: String,
    /// Japanese name.
    pub name_ja: Option<String>,
    /// English name.
    pub name_en: Option<String>,
}

/// A certificate rule: every requirement holds within one window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    /// Stable id: 1–64 of `a-z 0-9 _`.
    pub id: String,
    /// Japanese name.
    pub name_ja: String,
    /// English name.
    pub name_en: String,
    /// `fiscal_years`, `calendar_years`, `rolling_years` or `all_time`.
    pub window: String,
    /// Length of the window in years (1–10; 0 with `all_time`).
    #[serde(default)]
    pub years: i64,
    /// Another rule that must hold as well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prerequisite: Option<String>,
    /// Requirements; the first is the headline one.
    pub requirements: Vec<RequirementDef>,
}

/// One requirement of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequirementDef {
    /// `units`, `distinct_codes` or `units_plus_distinct_codes`.
    pub measure: String,
    /// A code and its dotted descendants; absent: every code of the system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The minimum, in units (`"60"`, `"1.5"`).
    pub minimum: String,
}

fn id_ok(id: &str, max: usize) -> bool {
    (1..=max).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn code_ok(code: &str) -> bool {
    code.len() <= 64
        && code
            .split('.')
            .all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
}

fn name_ok(name: &str) -> bool {
    !name.trim().is_empty() && name.chars().count() <= 200 && !name.chars().any(char::is_control)
}

impl SystemDef {
    /// Checks the definition; the error names the first wrong field.
    pub fn validate(&self) -> Result<(), String> {
        if !id_ok(&self.id, 32) {
            return Err(format!("id {:?}: 1 to 32 of a-z 0-9 _", self.id));
        }
        for (field, name) in [("name_ja", &self.name_ja), ("name_en", &self.name_en)] {
            if !name_ok(name) {
                return Err(format!("{field}: 1 to 200 characters, no control characters"));
            }
        }
        Units::parse(&self.unit_step).map_err(|e| format!("unit_step: {e}"))?;
        let mut seen = std::collections::HashSet::new();
        for c in &self.codes {
            if !code_ok(&c.code) {
                return Err(format!(
                    "code {:?}: dotted segments of a-z A-Z 0-9 _ -, at most 64 characters",
                    c.code
                ));
            }
            if !seen.insert(c.code.as_str()) {
                return Err(format!("code {:?} is listed twice", c.code));
            }
            for (field, name) in [("name_ja", &c.name_ja), ("name_en", &c.name_en)] {
                if name.as_deref().is_some_and(|n| !name_ok(n)) {
                    return Err(format!("code {:?}: {field}: 1 to 200 characters", c.code));
                }
            }
        }
        let step = Units::parse(&self.unit_step).map_err(|e| format!("unit_step: {e}"))?;
        let mut rule_ids = std::collections::HashSet::new();
        for r in &self.rules {
            if !id_ok(&r.id, 64) {
                return Err(format!("rule id {:?}: 1 to 64 of a-z 0-9 _", r.id));
            }
            if !rule_ids.insert(r.id.as_str()) {
                return Err(format!("rule {:?} is listed twice", r.id));
            }
            if !name_ok(&r.name_ja) || !name_ok(&r.name_en) {
                return Err(format!("rule {:?}: names of 1 to 200 characters", r.id));
            }
            let years_ok = if r.window == "all_time" { r.years == 0 } else { (1..=10).contains(&r.years) };
            if WindowKind::from_stored(&r.window, r.years).is_none() || !years_ok {
                return Err(format!(
                    "rule {:?}: window fiscal_years, calendar_years or rolling_years with years 1-10, or all_time",
                    r.id
                ));
            }
            if r.requirements.is_empty() || r.requirements.len() > 20 {
                return Err(format!("rule {:?}: 1 to 20 requirements", r.id));
            }
            for q in &r.requirements {
                if q.measure.parse::<crate::credits::rules::Measure>().is_err() {
                    return Err(format!(
                        "rule {:?}: measure {:?}: units, distinct_codes or units_plus_distinct_codes",
                        r.id, q.measure
                    ));
                }
                if let Some(code) = &q.code
                    && !self.codes.iter().any(|c| c.code == *code || c.code.starts_with(&format!("{code}.")))
                {
                    return Err(format!("rule {:?}: code {code:?} is not a code of the system", r.id));
                }
                let measure_units = q.measure != "distinct_codes";
                let parsed = if measure_units {
                    Units::parse_with_step(&q.minimum, step)
                } else {
                    Units::parse(&q.minimum)
                };
                parsed.map_err(|e| format!("rule {:?}: minimum: {e}", r.id))?;
            }
        }
        let caps = self.caps.as_deref().unwrap_or_default();
        if caps.len() > 20 {
            return Err("caps: at most 20".to_owned());
        }
        for (i, c) in caps.iter().enumerate() {
            let n = i + 1;
            if c.per.parse::<crate::credits::caps::CapPeriod>().is_err() {
                return Err(format!("cap {n}: per {:?}: event or fiscal_year", c.per));
            }
            if let Some(code) = &c.code
                && !self.codes.iter().any(|x| x.code == *code || x.code.starts_with(&format!("{code}.")))
            {
                return Err(format!("cap {n}: code {code:?} is not a code of the system"));
            }
            Units::parse_with_step(&c.maximum, step).map_err(|e| format!("cap {n}: maximum: {e}"))?;
        }
        Ok(())
    }
}
