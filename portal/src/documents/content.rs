//! What a document says — the JWS payload (its format is an interface: docs/portal.md, "JWS
//! payload") — and how it is gathered from the store.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use storage::Db;
use time::Date;

use crate::credits::progress::{Window, progress};
use crate::credits::{FiscalYear, Units, dates};
use crate::documents::{DocumentError, Request, japan_date};
use crate::store::documents::find_confirmed_rows;
use crate::store::{StoreError, attendance, doctors, systems};

/// The rule behind the 日医生涯教育認定証.
pub const JMA_CERTIFICATE_RULE: &str = "jma_cme_certificate";
/// The system of JMA lifelong education.
pub const JMA_SYSTEM: &str = "jma_cme";

/// The kind of document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// 受講証明書.
    Attendance,
    /// 単位取得状況証明書 (yearly credit statement).
    Statement,
    /// 日医生涯教育認定証.
    JmaCertificate,
    /// 資格確認書: the qualification on the doctor's card, checked at the idp at issue.
    Qualification,
}

impl Kind {
    /// Stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Attendance => "attendance",
            Self::Statement => "statement",
            Self::JmaCertificate => "jma_certificate",
            Self::Qualification => "qualification",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Attendance, Self::Statement, Self::JmaCertificate, Self::Qualification]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    /// Japanese title.
    pub fn title_ja(self) -> &'static str {
        match self {
            Self::Attendance => "受講証明書",
            Self::Statement => "単位取得状況証明書",
            Self::JmaCertificate => "日医生涯教育認定証",
            Self::Qualification => "資格確認書",
        }
    }

    /// English title.
    pub fn title_en(self) -> &'static str {
        match self {
            Self::Attendance => "Certificate of attendance",
            Self::Statement => "Yearly credit statement",
            Self::JmaCertificate => "JMA lifelong-education certificate",
            Self::Qualification => "Certificate of qualification",
        }
    }
}

/// `YYYY-MM-DD` dates in the payload.
mod ymd {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    pub fn serialize<S: Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        crate::credits::dates::parse(&text)
            .filter(|_| text.len() == 10)
            .ok_or_else(|| serde::de::Error::custom("expected YYYY-MM-DD"))
    }
}

/// Units as a decimal string (`"1.5"`): exact, no floating point.
mod units {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::credits::Units;

    pub fn serialize<S: Serializer>(u: &Units, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&u.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Units, D::Error> {
        let text = String::deserialize(d)?;
        if text == "0" {
            return Ok(Units(0));
        }
        Units::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Days covered, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// First day.
    #[serde(with = "ymd")]
    pub from: Date,
    /// Last day.
    #[serde(with = "ymd")]
    pub to: Date,
}

/// Who the document is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Doctor {
    /// 医籍登録番号.
    pub registration_number: String,
    /// Kanji name (the kana name when the registry has no kanji name).
    pub name: String,
    /// Katakana name.
    pub kana_name: String,
}

/// One line: the credits of one attendance in one system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// Day attended.
    #[serde(with = "ymd")]
    pub date: Date,
    /// The event's id.
    pub event_id: String,
    /// The event's title.
    pub title: String,
    /// The credit system.
    pub system: String,
    /// Units earned.
    #[serde(with = "units")]
    pub units: Units,
    /// Codes, in the system's order.
    pub codes: Vec<String>,
}

/// The totals of one system over the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Total {
    /// The system.
    pub system: String,
    /// Its Japanese name.
    pub system_name: String,
    /// Units.
    #[serde(with = "units")]
    pub units: Units,
    /// Distinct codes.
    pub distinct_codes: u32,
}

/// The standing of the certificate rule (`jma_certificate` only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// The rule.
    pub rule: String,
    /// Units + distinct codes within the window.
    #[serde(with = "units")]
    pub achieved: Units,
    /// The rule's minimum.
    #[serde(with = "units")]
    pub minimum: Units,
}

/// What a 資格確認書 attests: the doctor's card as the idp checked it at issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Qualification {
    /// hcRole values of the card's certificate (`Medical Doctor`).
    pub hc_roles: Vec<String>,
    /// Issuing CA of the card.
    pub card_issuer: String,
    /// Subscriber id of the card.
    pub card_subscriber: String,
    /// Last day of the card certificate's validity.
    #[serde(with = "ymd")]
    pub card_valid_until: Date,
    /// When the idp checked the card (chain, validity, revocation), Unix seconds.
    pub checked_at: i64,
}

/// A document's whole content: the JWS payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    /// Issuer: the portal's public URL.
    pub iss: String,
    /// The document id.
    pub jti: String,
    /// Unix seconds of issue.
    pub iat: i64,
    /// The kind.
    pub kind: Kind,
    /// Days covered.
    pub period: Period,
    /// The doctor.
    pub doctor: Doctor,
    /// The lines, oldest first.
    pub rows: Vec<Row>,
    /// Totals per system.
    pub totals: Vec<Total>,
    /// The certificate rule's standing (certificates only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<Certificate>,
    /// The card's qualification (資格確認書 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualification: Option<Qualification>,
    /// The public verification page.
    pub verify_url: String,
}

/// The verification URL of document `id` under `public_url`.
pub fn verify_url(public_url: &str, id: &str) -> String {
    format!("{}/v/{id}", public_url.trim_end_matches('/'))
}

/// Gathers the content of a new document `id`.
pub async fn build(
    db: &Db,
    request: Request,
    registration_number: &str,
    id: &str,
    public_url: &str,
    now: i64,
) -> Result<Content, DocumentError> {
    let doctor = doctors::find_doctor(db, registration_number)
        .await?
        .ok_or_else(|| DocumentError::UnknownDoctor(registration_number.to_owned()))?;
    let (period, certificate, only_system) = match request {
        Request::Attendance { from, to } => {
            if to < from {
                return Err(DocumentError::BadPeriod { from, to });
            }
            (Period { from, to }, None, None)
        }
        Request::Statement { fiscal_year } => {
            let fy = FiscalYear(fiscal_year);
            (Period { from: fy.first_day(), to: fy.last_day() }, None, None)
        }
        Request::JmaCertificate => {
            let (window, certificate) = eligibility(db, registration_number, japan_date(now)).await?;
            (Period { from: window.from, to: window.to }, Some(certificate), Some(JMA_SYSTEM))
        }
    };
    let rows: Vec<Row> = rows(db, registration_number, period)
        .await?
        .into_iter()
        .filter(|r| only_system.is_none_or(|s| r.system == s))
        .collect();
    if rows.is_empty() {
        return Err(DocumentError::NoRecords { from: period.from, to: period.to });
    }
    let names: BTreeMap<String, String> =
        systems::find_systems(db).await?.into_iter().map(|s| (s.id, s.name_ja)).collect();
    Ok(Content {
        iss: public_url.trim_end_matches('/').to_owned(),
        jti: id.to_owned(),
        iat: now,
        kind: request.kind(),
        period,
        doctor: Doctor {
            registration_number: doctor.registration_number,
            name: doctor.name.clone().unwrap_or_else(|| doctor.kana_name.clone()),
            kana_name: doctor.kana_name,
        },
        totals: totals(&rows, &names),
        rows,
        certificate,
        qualification: None,
        verify_url: verify_url(public_url, id),
    })
}

/// The content of a new 資格確認書 `id`: the doctor's registry entry and the card's
/// `qualification`, as of `now` (the period is the day of issue).
pub async fn build_qualification(
    db: &Db,
    qualification: Qualification,
    registration_number: &str,
    id: &str,
    public_url: &str,
    now: i64,
) -> Result<Content, DocumentError> {
    let doctor = doctors::find_doctor(db, registration_number)
        .await?
        .ok_or_else(|| DocumentError::UnknownDoctor(registration_number.to_owned()))?;
    let today = japan_date(now);
    Ok(Content {
        iss: public_url.trim_end_matches('/').to_owned(),
        jti: id.to_owned(),
        iat: now,
        kind: Kind::Qualification,
        period: Period { from: today, to: today },
        doctor: Doctor {
            registration_number: doctor.registration_number,
            name: doctor.name.clone().unwrap_or_else(|| doctor.kana_name.clone()),
            kana_name: doctor.kana_name,
        },
        rows: Vec::new(),
        totals: Vec::new(),
        certificate: None,
        qualification: Some(qualification),
        verify_url: verify_url(public_url, id),
    })
}

/// Checks the JMA certificate rule on `as_of`: its window and standing when met, else
/// [`DocumentError::NotEligible`].
pub async fn eligibility(
    db: &Db,
    registration_number: &str,
    as_of: Date,
) -> Result<(Window, Certificate), DocumentError> {
    let rules = systems::find_rules(db).await?;
    let lines = attendance::find_confirmed_credits(db, registration_number).await?;
    let p = progress(&rules, JMA_CERTIFICATE_RULE, &lines, as_of)
        .map_err(|_| DocumentError::RuleMissing(JMA_CERTIFICATE_RULE.into()))?;
    let (Some(window), Some(head)) = (p.window, p.requirements.first()) else {
        return Err(DocumentError::RuleMissing(JMA_CERTIFICATE_RULE.into()));
    };
    if !p.met {
        return Err(DocumentError::NotEligible {
            achieved: head.achieved,
            minimum: head.minimum,
            remaining: head.remaining,
            from: window.from,
            to: window.to,
        });
    }
    let certificate =
        Certificate { rule: JMA_CERTIFICATE_RULE.into(), achieved: head.achieved, minimum: head.minimum };
    Ok((window, certificate))
}

/// The confirmed attendances in `period`, one row per attendance and system.
async fn rows(db: &Db, registration_number: &str, period: Period) -> Result<Vec<Row>, DocumentError> {
    let raw =
        find_confirmed_rows(db, registration_number, dates::to_int(period.from), dates::to_int(period.to))
            .await?;
    let mut out: Vec<Row> = Vec::new();
    for (on, event_id, title, system, code, units) in raw {
        let date = dates::from_int(on)
            .ok_or_else(|| DocumentError::Store(StoreError::Corrupt(format!("attended_on {on}"))))?;
        match out.last_mut() {
            Some(last) if last.date == date && last.event_id == event_id && last.system == system => {
                last.units += Units(units);
                last.codes.push(code);
            }
            _ => out.push(Row { date, event_id, title, system, units: Units(units), codes: vec![code] }),
        }
    }
    Ok(out)
}

/// Units and distinct codes per system, in order of first appearance.
fn totals(rows: &[Row], names: &BTreeMap<String, String>) -> Vec<Total> {
    let mut order: Vec<&str> = Vec::new();
    let mut acc: BTreeMap<&str, (Units, BTreeSet<&str>)> = BTreeMap::new();
    for r in rows {
        if !acc.contains_key(r.system.as_str()) {
            order.push(&r.system);
        }
        let e = acc.entry(&r.system).or_default();
        e.0 += r.units;
        e.1.extend(r.codes.iter().map(String::as_str));
    }
    order
        .into_iter()
        .map(|s| {
            let (units, codes) = &acc[s];
            Total {
                system: s.to_owned(),
                system_name: names.get(s).cloned().unwrap_or_else(|| s.to_owned()),
                units: *units,
                distinct_codes: u32::try_from(codes.len()).unwrap_or(u32::MAX),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_with_exact_units_and_dates() {
        let row = Row {
            date: time::macros::date!(2026 - 05 - 10),
            event_id: "E1".into(),
            title: "糖尿病の最新治療".into(),
            system: JMA_SYSTEM.into(),
            units: Units(150),
            codes: vec!["74".into(), "76".into()],
        };
        let json = serde_json::to_value(&row).unwrap();
        assert_eq!(json["date"], "2026-05-10");
        assert_eq!(json["units"], "1.5");
        assert_eq!(serde_json::from_value::<Row>(json).unwrap(), row);
        let names = BTreeMap::from([(JMA_SYSTEM.to_owned(), "日医生涯教育制度".to_owned())]);
        let t = totals(&[row.clone(), Row { codes: vec!["76".into()], ..row }], &names);
        assert_eq!(t[0].units, Units(300));
        assert_eq!(t[0].distinct_codes, 2);
        assert!(serde_json::from_value::<Row>(serde_json::json!({"date": "2026-5-1"})).is_err());
    }
}
