//! `/documents`: a signed-in doctor issues documents (受講証明書, yearly statement,
//! 日医生涯教育認定証, and, signed in with the card, the 資格確認書 with the card checked at the
//! idp) and lists the ones issued. `POST /documents` validates on the server and
//! re-renders the form with messages next to the fields (422); on success it answers 303 to
//! `/documents?issued={id}`, where a notice links the new PDF.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use time::Date;
use web::csrf::CsrfToken;
use web::templates::Context;
use web::{Lang, PageError, Templates};

use crate::AppState;
use crate::credits::{FiscalYear, dates};
use crate::documents::content::eligibility;
use crate::documents::{DocumentError, Kind, Request, issue, japan_date};
use crate::linking;
use crate::pages::{render, signed_in, store_error};
use crate::signin::PortalSession;
use crate::store::attendance::find_fiscal_years;
use crate::store::documents::{DocumentRecord, find_documents_of};
use crate::store::links::{Link, LinkStatus};

/// The issue form as sent.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct IssueForm {
    /// `attendance`, `statement`, `jma_certificate` or `qualification`.
    #[serde(default)]
    pub kind: String,
    /// First day (受講証明書).
    #[serde(default)]
    pub from: String,
    /// Last day (受講証明書).
    #[serde(default)]
    pub to: String,
    /// Fiscal year (statement).
    #[serde(default)]
    pub fiscal_year: String,
}

/// `GET /documents` query: the document just issued.
#[derive(Debug, Default, Deserialize)]
pub struct Shown {
    /// Id of the document just issued.
    #[serde(default)]
    pub issued: Option<String>,
}

/// One issued document as the lists (the doctor's, the operator's) show it.
#[derive(Debug, Serialize)]
pub(crate) struct DocumentView {
    id: String,
    kind: &'static str,
    title: String,
    registration_number: String,
    period: String,
    issued_on: String,
    revoked_on: Option<String>,
    revoked_reason: Option<String>,
}

impl DocumentView {
    /// The view of a stored document in `lang`.
    pub(crate) fn of(r: &DocumentRecord, lang: Lang) -> Self {
        let kind = Kind::parse(&r.kind);
        let period = match (dates::from_int(r.period_from), dates::from_int(r.period_to)) {
            (Some(f), Some(t)) => format!("{} – {}", ymd(f), ymd(t)),
            _ => String::new(),
        };
        Self {
            id: r.id.clone(),
            kind: kind.map_or("unknown", Kind::as_str),
            title: kind
                .map(|k| if lang == Lang::Ja { k.title_ja() } else { k.title_en() })
                .unwrap_or(r.kind.as_str())
                .to_owned(),
            registration_number: r.registration_number.clone(),
            period,
            issued_on: ymd(japan_date(r.issued_at)),
            revoked_on: r.revoked_at.map(|t| ymd(japan_date(t))),
            revoked_reason: r.revoked_reason.clone(),
        }
    }
}

/// The link as the page mentions it.
#[derive(Debug, Serialize)]
struct LinkState {
    status: &'static str,
    registration_number: String,
}

/// Messages next to the fields, already in the page's language.
type FieldErrors = BTreeMap<&'static str, String>;

fn ymd(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn text(templates: &Templates, lang: Lang, key: &str, args: &[(&str, String)]) -> String {
    args.iter().fold(templates.text(lang, key).to_owned(), |t, (k, v)| t.replace(&format!("{{{k}}}"), v))
}

/// The signed-in doctor's confirmed link, or the response to give instead (redirect to
/// `/login`, or the page asking for a link).
async fn doctor(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    ctx: &mut Context,
) -> Result<Result<(PortalSession, Link), Response>, PageError> {
    let session = match signed_in(state, headers).await {
        Ok(s) => s,
        Err(redirect) => return Ok(Err(redirect)),
    };
    let link =
        linking::resolve(&state.0.probes.db, &session, state.0.clock.now()).await.map_err(store_error)?;
    ctx.insert("session", &session);
    ctx.insert(
        "link",
        &link.as_ref().map(|l| LinkState {
            status: l.status.as_str(),
            registration_number: l.registration_number.clone(),
        }),
    );
    match link.filter(|l| l.status == LinkStatus::Confirmed) {
        Some(l) => Ok(Ok((session, l))),
        None => Ok(Err(render(state, "portal/documents.html", lang, ctx)?)),
    }
}

/// Fills the form and the list and renders the page.
async fn page(
    state: &AppState,
    lang: Lang,
    mut ctx: Context,
    number: &str,
    form: &IssueForm,
    errors: &FieldErrors,
    issued: Option<&str>,
) -> Result<Response, PageError> {
    let app = &state.0;
    let db = &app.probes.db;
    let templates = &app.templates;
    let (years, records) = tokio::try_join!(find_fiscal_years(db, number), find_documents_of(db, number))
        .map_err(store_error)?;
    let jma_refusal = match eligibility(db, number, japan_date(app.clock.now())).await {
        Ok(_) => None,
        Err(e) => Some(refusal(templates, lang, e)?),
    };
    let chosen_year = form.fiscal_year.trim().parse::<i32>().ok();
    let years: Vec<serde_json::Value> = years
        .iter()
        .enumerate()
        .map(|(i, FiscalYear(y))| {
            serde_json::json!({
                "value": y.to_string(),
                "label": text(templates, lang, "history_fy", &[("year", y.to_string())]),
                "selected": chosen_year.map_or(i == 0, |c| c == *y),
            })
        })
        .collect();
    let documents: Vec<DocumentView> = records.iter().map(|r| DocumentView::of(r, lang)).collect();
    let notice = issued.filter(|id| records.iter().any(|r| r.id == *id));
    ctx.insert("docs", &true);
    ctx.insert("form", form);
    ctx.insert("errors", errors);
    ctx.insert("years", &years);
    ctx.insert("jma_refusal", &jma_refusal);
    ctx.insert("documents", &documents);
    ctx.insert("issued", &notice);
    ctx.insert("has_card", &ctx.get("session").and_then(|s| s.get("card")).is_some_and(|c| !c.is_null()));
    crate::pages::render_form(state, "portal/documents.html", lang, &ctx, !errors.is_empty())
}

/// Why the certificate cannot be issued, as the page says it; other failures are a 500.
fn refusal(templates: &Templates, lang: Lang, e: DocumentError) -> Result<String, PageError> {
    match e {
        DocumentError::NotEligible { achieved, minimum, remaining, from, to } => Ok(text(
            templates,
            lang,
            "documents_jma_not_eligible",
            &[
                ("achieved", achieved.to_string()),
                ("minimum", minimum.to_string()),
                ("remaining", remaining.to_string()),
                ("from", ymd(from)),
                ("to", ymd(to)),
            ],
        )),
        DocumentError::RuleMissing(_) => Ok(templates.text(lang, "documents_jma_unavailable").to_owned()),
        other => Err(PageError::internal(other)),
    }
}

fn base_context(csrf: &CsrfToken) -> Context {
    let mut ctx = Context::new();
    ctx.insert("csrf_token", &csrf.0);
    ctx
}

/// `GET /documents`.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    lang: Lang,
    csrf: CsrfToken,
    Query(shown): Query<Shown>,
) -> Result<Response, PageError> {
    let mut ctx = base_context(&csrf);
    let (_, link) = match doctor(&state, &headers, lang, &mut ctx).await? {
        Ok(d) => d,
        Err(res) => return Ok(res),
    };
    let form = IssueForm { kind: "attendance".into(), ..IssueForm::default() };
    page(&state, lang, ctx, &link.registration_number, &form, &FieldErrors::new(), shown.issued.as_deref())
        .await
}

/// Reads date field `field`; a missing or malformed value puts its message in `errors`.
fn date_field(
    value: &str,
    field: &'static str,
    errors: &mut FieldErrors,
    t: &dyn Fn(&str) -> String,
) -> Option<Date> {
    let value = value.trim();
    if value.is_empty() {
        errors.insert(field, t(&format!("documents_error_{field}_missing")));
        return None;
    }
    let parsed = dates::parse(value);
    if parsed.is_none() {
        errors.insert(field, t(&format!("documents_error_{field}_invalid")));
    }
    parsed
}

/// The request the form asks for, or the messages next to its fields.
fn parse_form(form: &IssueForm, t: &dyn Fn(&str) -> String) -> Result<Request, FieldErrors> {
    let mut errors = FieldErrors::new();
    match form.kind.as_str() {
        "attendance" => {
            let from = date_field(&form.from, "from", &mut errors, t);
            let to = date_field(&form.to, "to", &mut errors, t);
            match (from, to) {
                (Some(from), Some(to)) if to < from => {
                    errors.insert("to", t("documents_error_order"));
                    Err(errors)
                }
                (Some(from), Some(to)) => Ok(Request::Attendance { from, to }),
                _ => Err(errors),
            }
        }
        "statement" => match form.fiscal_year.trim().parse::<i32>() {
            Ok(y) if (1900..=2200).contains(&y) => Ok(Request::Statement { fiscal_year: y }),
            _ => {
                errors.insert("fiscal_year", t("documents_error_year"));
                Err(errors)
            }
        },
        "jma_certificate" => Ok(Request::JmaCertificate),
        _ => {
            errors.insert("kind", t("documents_error_kind"));
            Err(errors)
        }
    }
}

/// The field a refusal of `request` belongs to.
fn field_of(request: Request) -> &'static str {
    match request {
        Request::Attendance { .. } => "to",
        Request::Statement { .. } => "fiscal_year",
        Request::JmaCertificate => "jma",
    }
}

/// `POST /documents`: validates the form and issues the document.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    lang: Lang,
    csrf: CsrfToken,
    Form(form): Form<IssueForm>,
) -> Result<Response, PageError> {
    let mut ctx = base_context(&csrf);
    let (session, link) = match doctor(&state, &headers, lang, &mut ctx).await? {
        Ok(d) => d,
        Err(res) => return Ok(res),
    };
    let number = link.registration_number.as_str();
    let templates = &state.0.templates;
    let t = |key: &str| templates.text(lang, key).to_owned();
    if form.kind == Kind::Qualification.as_str() {
        return match qualification(&state, &session, number).await? {
            Ok(id) => Ok(Redirect::to(&format!("/documents?issued={id}")).into_response()),
            Err(key) => {
                let errors = FieldErrors::from([("qualification", t(key))]);
                page(&state, lang, ctx, number, &form, &errors, None).await
            }
        };
    }
    let request = match parse_form(&form, &t) {
        Ok(r) => r,
        Err(errors) => return page(&state, lang, ctx, number, &form, &errors, None).await,
    };
    let app = &state.0;
    match issue(&app.probes.db, &app.documents.signer, request, number, app.clock.now()).await {
        Ok(issued) => Ok(Redirect::to(&format!("/documents?issued={}", issued.record.id)).into_response()),
        Err(DocumentError::NoRecords { from, to }) => {
            let message =
                text(templates, lang, "documents_error_no_records", &[("from", ymd(from)), ("to", ymd(to))]);
            let errors = FieldErrors::from([(field_of(request), message)]);
            page(&state, lang, ctx, number, &form, &errors, None).await
        }
        Err(e @ (DocumentError::NotEligible { .. } | DocumentError::RuleMissing(_))) => {
            let errors = FieldErrors::from([("jma", refusal(templates, lang, e)?)]);
            page(&state, lang, ctx, number, &form, &errors, None).await
        }
        Err(e) => Err(PageError::internal(e)),
    }
}

/// Issues the 資格確認書 of the session's card, checked at the idp now: the new id, or the
/// locale key of why not.
async fn qualification(
    state: &AppState,
    session: &PortalSession,
    number: &str,
) -> Result<Result<String, &'static str>, PageError> {
    use crate::idp_api::CardReadError;
    let app = &state.0;
    let Some(card) = &session.card else { return Ok(Err("documents_qualification_no_card")) };
    let holder = match app.idp_api.card_status(app, &card.issuer, &card.subscriber_id).await {
        Ok(h) => h,
        Err(CardReadError::Refused(code)) if code != "revocation_unavailable" => {
            tracing::info!(code = %code, "qualification certificate refused: the idp refused the card");
            return Ok(Err("documents_qualification_card_refused"));
        }
        Err(e) => {
            tracing::warn!(error = %e, "qualification certificate: the card cannot be checked now");
            return Ok(Err("documents_qualification_unavailable"));
        }
    };
    let Some(valid_until) = holder.not_after.map(japan_date) else {
        return Ok(Err("documents_qualification_unavailable"));
    };
    let now = app.clock.now();
    let q = crate::documents::Qualification {
        hc_roles: holder.hc_roles,
        card_issuer: holder.issuer,
        card_subscriber: holder.subscriber_id,
        card_valid_until: valid_until,
        checked_at: holder.checked_at.unwrap_or(now),
    };
    let issued = crate::documents::issue_qualification(&app.probes.db, &app.documents.signer, q, number, now)
        .await
        .map_err(PageError::internal)?;
    tracing::info!(document = %issued.record.id, "qualification certificate issued");
    Ok(Ok(issued.record.id))
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn form(kind: &str, from: &str, to: &str, year: &str) -> IssueForm {
        IssueForm { kind: kind.into(), from: from.into(), to: to.into(), fiscal_year: year.into() }
    }

    #[test]
    fn form_fields_are_checked_on_their_own() {
        let t = |k: &str| k.to_owned();
        let keys = |f: IssueForm| parse_form(&f, &t).unwrap_err().into_values().collect::<Vec<_>>();
        assert_eq!(
            keys(form("attendance", "", "2026-13-01", "")),
            ["documents_error_from_missing", "documents_error_to_invalid"]
        );
        assert_eq!(keys(form("attendance", "2026-05-02", "2026-05-01", "")), ["documents_error_order"]);
        assert_eq!(keys(form("statement", "", "", "x")), ["documents_error_year"]);
        assert_eq!(keys(form("other", "", "", "")), ["documents_error_kind"]);
        assert_eq!(
            parse_form(&form("attendance", "2026-05-01", "2026-05-01", ""), &t).unwrap(),
            Request::Attendance { from: date!(2026 - 05 - 01), to: date!(2026 - 05 - 01) }
        );
    }
}
