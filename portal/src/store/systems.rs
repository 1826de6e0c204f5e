//! SQL of the credit-system tables: systems, codes, certificate rules and their requirements.

use storage::Db;

use crate::credits::Units;
use crate::credits::rules::{CreditCode, CreditSystem, Measure, Requirement, Rule, WindowKind};
use crate::store::StoreError;

/// Every credit system, in display order.
pub async fn find_systems(db: &Db) -> Result<Vec<CreditSystem>, StoreError> {
    let rows: Vec<(String, String, String, i64)> =
        sqlx::query_as("SELECT id, name_ja, name_en, unit_step FROM credit_systems ORDER BY sort_order, id")
            .fetch_all(db.pool())
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name_ja, name_en, step)| CreditSystem { id, name_ja, name_en, unit_step: Units(step) })
        .collect())
}

/// Every code of every system, in display order.
pub async fn find_codes(db: &Db) -> Result<Vec<CreditCode>, StoreError> {
    let rows: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT c.system_id, c.code, c.name_ja, c.name_en FROM credit_codes c \
         JOIN credit_systems s ON s.id = c.system_id ORDER BY s.sort_order, c.sort_order, c.code",
    )
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(system_id, code, name_ja, name_en)| CreditCode { system_id, code, name_ja, name_en })
        .collect())
}

/// Every certificate rule with its requirements, in display order.
pub async fn find_rules(db: &Db) -> Result<Vec<Rule>, StoreError> {
    type RuleRow = (String, String, String, String, String, i64, Option<String>);
    let rules: Vec<RuleRow> = sqlx::query_as(
        "SELECT id, system_id, name_ja, name_en, window_kind, window_years, prerequisite_rule_id \
         FROM certificate_rules ORDER BY sort_order, id",
    )
    .fetch_all(db.pool())
    .await?;
    let reqs: Vec<(String, i64, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT rule_id, seq, measure, code_scope, minimum FROM certificate_requirements \
         ORDER BY rule_id, seq",
    )
    .fetch_all(db.pool())
    .await?;
    rules
        .into_iter()
        .map(|(id, system_id, name_ja, name_en, kind, years, prerequisite)| {
            let window = WindowKind::from_stored(&kind, years)
                .ok_or_else(|| StoreError::Corrupt(format!("rule {id}: window {kind}/{years}")))?;
            let requirements = reqs
                .iter()
                .filter(|r| r.0 == id)
                .map(|(_, seq, measure, scope, minimum)| {
                    Ok(Requirement {
                        seq: *seq,
                        measure: measure
                            .parse::<Measure>()
                            .map_err(|()| StoreError::Corrupt(format!("rule {id}: measure {measure}")))?,
                        code_scope: scope.clone(),
                        minimum: Units(*minimum),
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(Rule { id, system_id, name_ja, name_en, window, prerequisite, requirements })
        })
        .collect()
}

/// A system's rule for credits by time attended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRule {
    /// Minutes of attendance per 1 unit.
    pub minutes_per_unit: i64,
    /// Less attendance than this grants nothing.
    pub minimum_minutes: i64,
    /// The system's unit step (hundredths).
    pub unit_step: i64,
}

impl TimeRule {
    /// The units (hundredths) that `seconds` of attendance grant, at most `cap` (the event's).
    pub fn units(&self, seconds: i64, cap: i64) -> i64 {
        let minutes = seconds.max(0) / 60;
        if minutes < self.minimum_minutes || self.minutes_per_unit <= 0 {
            return 0;
        }
        let step = self.unit_step.max(1);
        let raw = minutes * 100 / self.minutes_per_unit;
        (raw / step * step).min(cap)
    }
}

/// The systems that grant credits by time attended, by id.
pub async fn find_time_rules(db: &Db) -> Result<std::collections::HashMap<String, TimeRule>, StoreError> {
    let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT id, minutes_per_unit, COALESCE(minimum_minutes, 0), unit_step FROM credit_systems \
         WHERE minutes_per_unit IS NOT NULL",
    )
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, minutes_per_unit, minimum_minutes, unit_step)| {
            (id, TimeRule { minutes_per_unit, minimum_minutes, unit_step })
        })
        .collect())
}

/// Sets (`Some((minutes per unit, minimum minutes))`) or clears (`None`: per event) a system's
/// rule for credits by time attended. Returns false for an unknown system.
pub async fn update_time_rule(
    db: &Db,
    system_id: &str,
    rule: Option<(i64, i64)>,
) -> Result<bool, StoreError> {
    let res =
        sqlx::query("UPDATE credit_systems SET minutes_per_unit = $1, minimum_minutes = $2 WHERE id = $3")
            .bind(rule.map(|r| r.0))
            .bind(rule.map(|r| r.1))
            .bind(system_id)
            .execute(db.pool())
            .await?;
    Ok(res.rows_affected() == 1)
}

/// Every system with its time rule: (id, name_ja, name_en, unit_step, minutes_per_unit,
/// minimum_minutes), in display order.
pub async fn find_system_rows(
    db: &Db,
) -> Result<Vec<(String, String, String, i64, Option<i64>, Option<i64>)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, name_ja, name_en, unit_step, minutes_per_unit, minimum_minutes FROM credit_systems \
         ORDER BY sort_order, id",
    )
    .fetch_all(db.pool())
    .await?)
}
