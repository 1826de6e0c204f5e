//! SQL of the credit-system tables: systems, codes, certificate rules and their requirements.

use storage::Db;

use crate::credits::Units;
use crate::credits::caps::{Cap, CapPeriod};
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

/// Every cap on counted credits, by system and order.
pub async fn find_caps(db: &Db) -> Result<Vec<Cap>, StoreError> {
    let rows: Vec<(String, String, Option<String>, i64)> =
        sqlx::query_as("SELECT system_id, per, code_scope, maximum FROM credit_caps ORDER BY system_id, seq")
            .fetch_all(db.pool())
            .await?;
    rows.into_iter()
        .map(|(system_id, per, code_scope, maximum)| {
            let per = per
                .parse::<CapPeriod>()
                .map_err(|()| StoreError::Corrupt(format!("cap of {system_id}: per {per}")))?;
            Ok(Cap { system_id, per, code_scope, maximum: Units(maximum) })
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

/// What applying a definition changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Whether the system is new.
    pub created: bool,
    /// Codes written (added or updated).
    pub codes: usize,
    /// Codes of the system not in the definition, kept (records may carry them).
    pub codes_kept: i64,
    /// Rules written.
    pub rules: usize,
    /// Caps written (`None`: the definition has no `caps`, the stored ones stay).
    pub caps: Option<usize>,
}

/// Adds or updates a credit system from a (validated) definition, in one transaction: the system,
/// its codes (added or renamed and reordered; codes missing from the definition are kept), and
/// its rules (added after the stored ones, or replaced in place with their requirements). A rule id of another system, or a
/// prerequisite that is neither in the definition nor stored, is a conflict.
pub async fn apply_system(
    db: &Db,
    def: &crate::credits::definition::SystemDef,
) -> Result<Applied, StoreError> {
    let step = Units::parse(&def.unit_step).map_err(|e| StoreError::Conflict(format!("unit_step: {e}")))?;
    let mut conn = db.pool().acquire().await?;
    let mut tx = conn.begin().await?;
    let existed: Option<String> = sqlx::query_scalar("SELECT id FROM credit_systems WHERE id = $1")
        .bind(&def.id)
        .fetch_optional(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO credit_systems (id, name_ja, name_en, unit_step, sort_order) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO UPDATE SET name_ja = $2, name_en = $3, unit_step = $4, sort_order = $5",
    )
    .bind(&def.id)
    .bind(&def.name_ja)
    .bind(&def.name_en)
    .bind(step.0)
    .bind(def.sort_order)
    .execute(&mut *tx)
    .await?;
    for (i, c) in def.codes.iter().enumerate() {
        sqlx::query(
            "INSERT INTO credit_codes (system_id, code, name_ja, name_en, sort_order) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (system_id, code) DO UPDATE SET name_ja = $3, name_en = $4, sort_order = $5",
        )
        .bind(&def.id)
        .bind(&c.code)
        .bind(&c.name_ja)
        .bind(&c.name_en)
        .bind(i64::try_from(i).unwrap_or(i64::MAX) + 1)
        .execute(&mut *tx)
        .await?;
    }
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM credit_codes WHERE system_id = $1")
        .bind(&def.id)
        .fetch_one(&mut *tx)
        .await?;
    for (i, r) in def.rules.iter().enumerate() {
        let owner: Option<String> =
            sqlx::query_scalar("SELECT system_id FROM certificate_rules WHERE id = $1")
                .bind(&r.id)
                .fetch_optional(&mut *tx)
                .await?;
        if owner.as_deref().is_some_and(|o| o != def.id) {
            return Err(StoreError::Conflict(format!("rule {:?} belongs to another credit system", r.id)));
        }
        if let Some(p) = &r.prerequisite {
            let stored: Option<String> = sqlx::query_scalar("SELECT id FROM certificate_rules WHERE id = $1")
                .bind(p)
                .fetch_optional(&mut *tx)
                .await?;
            if stored.is_none() && !def.rules[..i].iter().any(|x| x.id == *p) {
                return Err(StoreError::Conflict(format!(
                    "rule {:?}: prerequisite {p:?} is neither stored nor an earlier rule of the file",
                    r.id
                )));
            }
        }
        sqlx::query(
            "INSERT INTO certificate_rules (id, system_id, name_ja, name_en, window_kind, window_years, \
             prerequisite_rule_id, sort_order) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT COALESCE(MAX(sort_order), 0) + 1 FROM certificate_rules)) \
             ON CONFLICT (id) DO UPDATE SET name_ja = $3, name_en = $4, window_kind = $5, window_years = $6, \
             prerequisite_rule_id = $7",
        )
        .bind(&r.id)
        .bind(&def.id)
        .bind(&r.name_ja)
        .bind(&r.name_en)
        .bind(&r.window)
        .bind(r.years)
        .bind(&r.prerequisite)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM certificate_requirements WHERE rule_id = $1")
            .bind(&r.id)
            .execute(&mut *tx)
            .await?;
        for (seq, q) in r.requirements.iter().enumerate() {
            let minimum =
                Units::parse(&q.minimum).map_err(|e| StoreError::Conflict(format!("minimum: {e}")))?;
            sqlx::query(
                "INSERT INTO certificate_requirements (rule_id, seq, measure, code_scope, minimum) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&r.id)
            .bind(i64::try_from(seq).unwrap_or(0) + 1)
            .bind(&q.measure)
            .bind(&q.code)
            .bind(minimum.0)
            .execute(&mut *tx)
            .await?;
        }
    }
    if let Some(caps) = &def.caps {
        sqlx::query("DELETE FROM credit_caps WHERE system_id = $1").bind(&def.id).execute(&mut *tx).await?;
        for (seq, c) in caps.iter().enumerate() {
            let maximum =
                Units::parse(&c.maximum).map_err(|e| StoreError::Conflict(format!("maximum: {e}")))?;
            sqlx::query(
                "INSERT INTO credit_caps (system_id, seq, per, code_scope, maximum) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&def.id)
            .bind(i64::try_from(seq).unwrap_or(0) + 1)
            .bind(&c.per)
            .bind(&c.code)
            .bind(maximum.0)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(Applied {
        created: existed.is_none(),
        codes: def.codes.len(),
        codes_kept: total - i64::try_from(def.codes.len()).unwrap_or(0),
        rules: def.rules.len(),
        caps: def.caps.as_ref().map(Vec::len),
    })
}

/// A stored credit system as a definition (what `apply_system` takes), or `None`.
pub async fn export_system(
    db: &Db,
    id: &str,
) -> Result<Option<crate::credits::definition::SystemDef>, StoreError> {
    use crate::credits::definition::{CapDef, CodeDef, RequirementDef, RuleDef, SystemDef};
    let row: Option<(String, String, i64, i64)> =
        sqlx::query_as("SELECT name_ja, name_en, unit_step, sort_order FROM credit_systems WHERE id = $1")
            .bind(id)
            .fetch_optional(db.pool())
            .await?;
    let Some((name_ja, name_en, step, sort_order)) = row else { return Ok(None) };
    let codes = find_codes(db)
        .await?
        .into_iter()
        .filter(|c| c.system_id == id)
        .map(|c| CodeDef { code: c.code, name_ja: c.name_ja, name_en: c.name_en })
        .collect();
    let stored: Vec<(String, String, String, String, i64, Option<String>)> = sqlx::query_as(
        "SELECT id, name_ja, name_en, window_kind, window_years, prerequisite_rule_id FROM certificate_rules \
         WHERE system_id = $1 ORDER BY sort_order, id",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    let mut rules = Vec::with_capacity(stored.len());
    for (rule_id, rule_ja, rule_en, window, years, prerequisite) in stored {
        let reqs: Vec<(String, Option<String>, i64)> = sqlx::query_as(
            "SELECT measure, code_scope, minimum FROM certificate_requirements WHERE rule_id = $1 ORDER BY seq",
        )
        .bind(&rule_id)
        .fetch_all(db.pool())
        .await?;
        rules.push(RuleDef {
            id: rule_id,
            name_ja: rule_ja,
            name_en: rule_en,
            window,
            years,
            prerequisite,
            requirements: reqs
                .into_iter()
                .map(|(measure, code, minimum)| RequirementDef {
                    measure,
                    code,
                    minimum: Units(minimum).to_string(),
                })
                .collect(),
        });
    }
    let caps: Vec<CapDef> = find_caps(db)
        .await?
        .into_iter()
        .filter(|c| c.system_id == id)
        .map(|c| CapDef {
            per: c.per.as_str().to_owned(),
            code: c.code_scope,
            maximum: c.maximum.to_string(),
        })
        .collect();
    Ok(Some(SystemDef {
        id: id.to_owned(),
        name_ja,
        name_en,
        unit_step: Units(step).to_string(),
        sort_order,
        codes,
        rules,
        caps: if caps.is_empty() { None } else { Some(caps) },
    }))
}
