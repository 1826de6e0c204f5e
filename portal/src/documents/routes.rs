//! Public document endpoints: `GET /jwks` (the portal's document-signing keys) and
//! `GET /v/{id}` — the verification page, or JSON with `Accept: application/json` or
//! `/v/{id}.json`. Every failure to verify is an answer ("not genuine"), never a 500.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;
use storage::Db;
use web::{ApiError, Lang, PageError};

use crate::AppState;
use crate::credits::rules::{CreditCode, code_short_label};
use crate::documents::pdf::{self, FontFace, FontSearch, PdfError, PdfFont};
use crate::documents::verify::{Verdict, check};
use crate::documents::{DocumentError, Issued, Signer, japan_date};
use crate::store::systems::find_codes;

/// How long a failed search of the font directories is remembered before the next one (the
/// configured file itself is looked for on every call).
pub const FONT_RETRY: Duration = Duration::from_secs(30);

/// What the document routes need: the signer and the PDF font (loaded on first use).
#[derive(Debug)]
pub struct DocumentService {
    /// The portal's signing keys.
    pub signer: Signer,
    font_path: PathBuf,
    font_search: FontSearch,
    font: OnceLock<PdfFont>,
    /// The last failure to find a font, and when the font directories were last searched.
    font_failure: Mutex<Option<(Instant, Arc<PdfError>)>>,
}

impl DocumentService {
    /// A service signing with `signer` and drawing with the font at `font_path`, or else a
    /// Japanese font of the system font directories.
    pub fn new(signer: Signer, font_path: PathBuf) -> Self {
        Self::with_font_search(signer, font_path, FontSearch::System)
    }

    /// [`new`](Self::new) looking for a font in `search` when `font_path` is absent.
    pub fn with_font_search(signer: Signer, font_path: PathBuf, font_search: FontSearch) -> Self {
        Self { signer, font_path, font_search, font: OnceLock::new(), font_failure: Mutex::new(None) }
    }

    /// The PDF font: once found it is kept; until then every call looks for the configured
    /// file and, at most every [`FONT_RETRY`], searches the font directories, so a font
    /// installed while the server runs is used without a restart.
    pub fn font(&self) -> Result<PdfFont, Arc<PdfError>> {
        if let Some(font) = self.font.get() {
            return Ok(font.clone());
        }
        let mut failure = self.font_failure.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(font) = self.font.get() {
            return Ok(font.clone());
        }
        let face = self.locate(&mut failure)?;
        match PdfFont::load_face(face) {
            Ok(font) => {
                if failure.take().is_some() {
                    let face = font.face();
                    tracing::info!(font = %face.path.display(), face = face.index, "PDF font found: PDF documents available");
                }
                Ok(self.font.get_or_init(|| font).clone())
            }
            Err(e) => Err(remember(&mut failure, false, e)),
        }
    }

    /// For `/readyz`: whether PDFs can be drawn, without loading the font (the file is found).
    pub fn font_status(&self) -> Result<(), String> {
        if self.font.get().is_some() {
            return Ok(());
        }
        let mut failure = self.font_failure.lock().unwrap_or_else(PoisonError::into_inner);
        self.locate(&mut failure).map(|_| ()).map_err(|e| e.to_string())
    }

    /// The configured file, or a face of the font directories when the last search is older
    /// than [`FONT_RETRY`].
    fn locate(&self, failure: &mut Option<(Instant, Arc<PdfError>)>) -> Result<FontFace, Arc<PdfError>> {
        let search = match failure {
            Some((at, _)) if at.elapsed() < FONT_RETRY => None,
            _ => Some(&self.font_search),
        };
        pdf::locate(&self.font_path, search).map_err(|e| remember(failure, search.is_some(), e))
    }

    /// The PDF of an issued document.
    pub async fn pdf(&self, db: &Db, issued: &Issued) -> Result<Vec<u8>, DocumentError> {
        let font = self.font()?;
        let codes = find_codes(db).await?;
        Ok(pdf::render(&issued.content, &font, &codes).map_err(Arc::new)?)
    }

    /// The PDF of stored document `id` for its owner: `None` when the id is unknown, the
    /// document belongs to another doctor, is revoked or does not verify. This is what
    /// `GET /documents/{id}.pdf` serves once the signed-in doctor's registration number is known.
    pub async fn owned_pdf(
        &self,
        db: &Db,
        id: &str,
        registration_number: &str,
        now: i64,
    ) -> Result<Option<Vec<u8>>, DocumentError> {
        let Verdict::Genuine { content, .. } = check(db, &self.signer, id, now).await? else {
            return Ok(None);
        };
        if content.doctor.registration_number != registration_number {
            return Ok(None);
        }
        let font = self.font()?;
        let codes = find_codes(db).await?;
        Ok(Some(pdf::render(&content, &font, &codes).map_err(Arc::new)?))
    }
}

/// Keeps `e` as the last failure; `searched`: the font directories were searched just now.
fn remember(failure: &mut Option<(Instant, Arc<PdfError>)>, searched: bool, e: PdfError) -> Arc<PdfError> {
    let e = Arc::new(e);
    match failure {
        Some((at, last)) => {
            *last = e.clone();
            if searched {
                *at = Instant::now();
            }
        }
        None => *failure = Some((Instant::now(), e.clone())),
    }
    e
}

/// `GET /jwks`.
pub async fn jwks(State(state): State<AppState>) -> Response {
    match state.0.documents.signer.jwks(state.0.clock.now()).await {
        Ok(set) => {
            let mut res = Json(set).into_response();
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/jwk-set+json"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
            res
        }
        Err(e) => ApiError::internal(e).into_response(),
    }
}

fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept.contains("application/json") && !accept.contains("text/html")
}

/// `GET /v/{id}` and `GET /v/{id}.json`.
pub async fn verify(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    lang: Lang,
) -> Response {
    let (id, json) = match id.strip_suffix(".json") {
        Some(bare) => (bare.to_owned(), true),
        None => (id, wants_json(&headers)),
    };
    let verdict = match check(&state.0.probes.db, &state.0.documents.signer, &id, state.0.clock.now()).await {
        Ok(v) => v,
        Err(e) if json => return ApiError::internal(e).into_response(),
        Err(e) => return PageError::internal(e).into_response(),
    };
    let codes = if json {
        Vec::new()
    } else {
        match find_codes(&state.0.probes.db).await {
            Ok(codes) => codes,
            Err(e) => return PageError::internal(e).into_response(),
        }
    };
    let status = if verdict == Verdict::Unknown { StatusCode::NOT_FOUND } else { StatusCode::OK };
    let live = live_card(&state, &verdict).await;
    let mut res = if json {
        let mut body = json_body(&id, &verdict);
        if let Some(live) = live {
            body["card_now"] = json!(live);
        }
        (status, Json(body)).into_response()
    } else {
        match page(&state, &id, &verdict, lang, &codes, live) {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => return PageError::internal(e).into_response(),
        }
    };
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut().insert(header::VARY, HeaderValue::from_static("accept"));
    res
}

/// For a genuine 資格確認書, the card's state now, as the idp answers it: `valid`,
/// `revoked`, `expired`, `invalid` (another refusal) or `unavailable` (the idp cannot answer).
async fn live_card(state: &AppState, verdict: &Verdict) -> Option<&'static str> {
    use crate::idp_api::CardReadError;
    let Verdict::Genuine { content, .. } = verdict else { return None };
    let q = content.qualification.as_ref()?;
    let app = &state.0;
    Some(match app.idp_api.card_status(app, &q.card_issuer, &q.card_subscriber).await {
        Ok(_) => "valid",
        Err(CardReadError::Refused(code)) => match code.as_str() {
            "cert_revoked" => "revoked",
            "cert_expired" | "cert_not_yet_valid" => "expired",
            "revocation_unavailable" => "unavailable",
            _ => "invalid",
        },
        Err(_) => "unavailable",
    })
}

/// The JSON answer: `status` genuine | revoked | not_genuine, the content and the JWS.
pub fn json_body(id: &str, verdict: &Verdict) -> serde_json::Value {
    match verdict {
        Verdict::Genuine { content, jws } => {
            json!({ "id": id, "status": "genuine", "content": content, "jws": jws })
        }
        Verdict::Revoked { content, jws, revoked_at, reason } => json!({
            "id": id, "status": "revoked", "revoked_at": revoked_at, "revoked_reason": reason,
            "content": content, "jws": jws,
        }),
        Verdict::NotGenuine { reason } => json!({ "id": id, "status": "not_genuine", "reason": reason }),
        Verdict::Unknown => json!({ "id": id, "status": "not_genuine", "reason": "no document has this id" }),
    }
}

fn ymd(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn page(
    state: &AppState,
    id: &str,
    verdict: &Verdict,
    lang: Lang,
    codes: &[CreditCode],
    live: Option<&str>,
) -> Result<String, String> {
    let mut ctx = web::templates::Context::new();
    ctx.insert("id", id);
    ctx.insert("card_now", &live);
    let label = live.map(|l| state.0.templates.text(lang, &format!("verify_card_now_{l}")).to_owned());
    ctx.insert("card_now_label", &label);
    let (status, content, jws) = match verdict {
        Verdict::Genuine { content, jws } => ("genuine", Some(content), Some(jws)),
        Verdict::Revoked { content, jws, revoked_at, reason } => {
            ctx.insert("revoked_on", &ymd(japan_date(*revoked_at)));
            ctx.insert("revoked_reason", reason);
            ("revoked", Some(content), Some(jws))
        }
        Verdict::NotGenuine { .. } | Verdict::Unknown => ("not_genuine", None, None),
    };
    ctx.insert("status", status);
    ctx.insert("jws", &jws);
    if let Some(c) = content {
        ctx.insert("title_ja", c.kind.title_ja());
        ctx.insert("title_en", c.kind.title_en());
        ctx.insert("issued_on", &ymd(japan_date(c.iat)));
        let rows: Vec<serde_json::Value> = c
            .rows
            .iter()
            .map(|r| {
                let shown: Vec<String> = r
                    .codes
                    .iter()
                    .map(|code| code_short_label(codes, &r.system, code, lang == Lang::Ja))
                    .collect();
                let mut row = serde_json::to_value(r).unwrap_or_default();
                row["codes_shown"] = json!(shown.join(", "));
                row
            })
            .collect();
        ctx.insert("verify_rows", &rows);
        if let Some(q) = &c.qualification {
            let roles: Vec<&str> = q.hc_roles.iter().map(|r| crate::roles::hc_role_name(r, lang)).collect();
            ctx.insert("qualification_names", &roles.join("、"));
            ctx.insert("card_valid_until", &ymd(q.card_valid_until));
            let checked = time::OffsetDateTime::from_unix_timestamp(q.checked_at)
                .map(|t| t.to_offset(keys::clock::JST))
                .map(|t| format!("{} {:02}:{:02}", ymd(t.date()), t.hour(), t.minute()))
                .unwrap_or_default();
            ctx.insert("card_checked_at", &checked);
        }
        ctx.insert("content", c);
    } else {
        ctx.insert("content", &None::<()>);
    }
    state.0.templates.render("portal/verify.html", lang, &ctx).map_err(|e| e.to_string())
}
