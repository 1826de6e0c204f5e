//! `shikaku admin credits list|apply|export|time-rule`: the credit systems as data (a TOML
//! definition per system: codes with names, certificate rules; docs/portal.md, "Credit systems as
//! data") and their rule for credits by time attended. Totals, history pages and new documents
//! read the stored rules, so they follow a change at once; a change of time rule computes the
//! credits of every attendance recorded by card taps again.

use anyhow::{Context, bail};
use portal::credits::definition::SystemDef;
use portal::store::StoreError;
use portal::store::systems::{apply_system, export_system, find_system_rows, update_time_rule};
use portal::store::taps::recompute_tap_attendances;
use serde_json::json;
use storage::Db;

use crate::cli::admin::Actor;

/// `admin credits …`.
#[derive(Debug, clap::Subcommand)]
pub enum CreditsCommand {
    /// List the credit systems, one JSON object per line: id, names, unit step and time rule.
    List,
    /// Add or update a credit system from a TOML definition (its codes with names, its
    /// certificate rules, its caps per event or fiscal year): no release needed. Codes missing
    /// from the file are kept; a file without `caps` keeps the stored caps, `caps = []` removes
    /// them. Prints what was written as JSON (docs/portal.md, "Credit systems as data").
    Apply {
        /// The definition (format: docs/portal.md, "Credit systems as data"; `export` writes one).
        file: std::path::PathBuf,
    },
    /// Print a credit system as a TOML definition, to edit and apply again.
    Export {
        /// The system's id.
        system: String,
    },
    /// Grant a system's credits by time attended (check-in to check-out of card taps) or, with
    /// --per-event, by the event's units; computes the tap-recorded attendances again.
    TimeRule {
        /// The system's id (`jma_cme`, `jma_sangyoui`, …; see `admin credits list`).
        system: String,
        /// Minutes of attendance per 1 unit (1–600); rounded down to the system's unit step and
        /// at most the event's units.
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=600), required_unless_present = "per_event")]
        minutes_per_unit: Option<i64>,
        /// Less attendance than this grants nothing (0–1440, default 0).
        #[arg(long, value_parser = clap::value_parser!(i64).range(0..=1440), default_value_t = 0)]
        minimum_minutes: i64,
        /// Back to the event's units.
        #[arg(long, conflicts_with_all = ["minutes_per_unit"])]
        per_event: bool,
    },
}

/// Runs one `admin credits` command; returns what to print.
pub async fn run(cmd: CreditsCommand, db: &Db, actor: &Actor, now: i64) -> anyhow::Result<String> {
    match cmd {
        CreditsCommand::List => {
            let rows = find_system_rows(db).await?;
            let lines: Vec<String> = rows
                .into_iter()
                .map(|(id, name_ja, name_en, step, per_unit, minimum)| {
                    json!({ "id": id, "name_ja": name_ja, "name_en": name_en,
                            "unit_step": portal::credits::Units(step).to_string(),
                            "minutes_per_unit": per_unit, "minimum_minutes": minimum })
                    .to_string()
                })
                .collect();
            Ok(lines.join("\n"))
        }
        CreditsCommand::Apply { file } => {
            let text =
                std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let def: SystemDef =
                toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {}", file.display(), e.message()))?;
            def.validate().map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let applied = match apply_system(db, &def).await {
                Ok(a) => a,
                Err(StoreError::Conflict(e)) => bail!("{}: {e}", file.display()),
                Err(e) => return Err(e.into()),
            };
            let detail = json!({ "system": def.id, "created": applied.created, "codes": applied.codes,
                                 "codes_kept": applied.codes_kept, "rules": applied.rules,
                                 "caps": applied.caps });
            actor.audit(db, now, "credits.apply", None, detail.clone()).await?;
            Ok(detail.to_string())
        }
        CreditsCommand::Export { system } => match export_system(db, &system).await? {
            Some(def) => Ok(toml::to_string(&def)?.trim_end().to_owned()),
            None => bail!("no credit system {system:?} (see `shikaku admin credits list`)"),
        },
        CreditsCommand::TimeRule { system, minutes_per_unit, minimum_minutes, per_event } => {
            let rule = if per_event { None } else { minutes_per_unit.map(|m| (m, minimum_minutes)) };
            if !update_time_rule(db, &system, rule).await? {
                bail!("no credit system {system:?} (see `shikaku admin credits list`)");
            }
            let recomputed = recompute_tap_attendances(db, now).await?;
            let detail = json!({ "system": system, "minutes_per_unit": rule.map(|r| r.0),
                                 "minimum_minutes": rule.map(|r| r.1), "recomputed": recomputed });
            actor.audit(db, now, "credits.time_rule", None, detail.clone()).await?;
            Ok(detail.to_string())
        }
    }
}
