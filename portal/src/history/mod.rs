//! `/history`: a signed-in doctor's training records, totals, curriculum-code coverage, units
//! per fiscal year and certificate progress. Server-rendered; the filters are a plain GET form.

pub mod chart;
pub mod view;

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Serialize;
use web::csrf::CsrfToken;
use web::templates::Context;
use web::{Lang, PageError, Templates};

use crate::AppState;
use crate::history::view::{Data, Filters, RawFilters, Texts};
use crate::linking;
use crate::pages::{SignedIn, render, store_error};
use crate::store::attendance::{find_attendance_page, find_confirmed_credits, find_fiscal_years};
use crate::store::links::LinkStatus;
use crate::store::systems::{find_codes, find_rules, find_systems};

struct PageTexts<'a> {
    templates: &'a Templates,
    lang: Lang,
}

impl Texts for PageTexts<'_> {
    fn text(&self, key: &str) -> String {
        self.templates.text(self.lang, key).to_owned()
    }
    fn japanese(&self) -> bool {
        self.lang == Lang::Ja
    }
}

/// The link as the page mentions it.
#[derive(Debug, Serialize)]
struct LinkState {
    status: &'static str,
    registration_number: String,
}

/// `GET /history`.
pub async fn page(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    lang: Lang,
    csrf: CsrfToken,
    Query(raw): Query<RawFilters>,
) -> Result<Response, PageError> {
    let app = &state.0;
    let db = &app.probes.db;
    let link = linking::resolve(db, &session, app.clock.now()).await.map_err(store_error)?;
    let mut ctx = Context::new();
    ctx.insert("csrf_token", &csrf.0);
    ctx.insert("session", &session);
    ctx.insert(
        "link",
        &link.as_ref().map(|l| LinkState {
            status: l.status.as_str(),
            registration_number: l.registration_number.clone(),
        }),
    );
    let Some(link) = link.filter(|l| l.status == LinkStatus::Confirmed) else {
        return render(&state, "portal/history.html", lang, &ctx);
    };
    // The queries run side by side (separate pooled connections); the credit lines are the
    // largest read.
    let systems = find_systems(db).await.map_err(store_error)?;
    let filters = Filters::parse(&raw, &systems);
    let number = link.registration_number.as_str();
    let store_filter = filters.store_filter();
    let (codes, rules, page, years, lines) = tokio::try_join!(
        find_codes(db),
        find_rules(db),
        find_attendance_page(db, number, &store_filter, view::MAX_ROWS as u32),
        find_fiscal_years(db, number),
        find_confirmed_credits(db, number),
    )
    .map_err(store_error)?;
    let texts = PageTexts { templates: &app.templates, lang };
    let data = Data {
        listed: &page.records,
        matching: usize::try_from(page.matching).unwrap_or(usize::MAX),
        years: &years,
        lines: &lines,
        events: &page.events,
        systems: &systems,
        codes: &codes,
        rules: &rules,
    };
    let history = view::build(data, &filters, &texts, app.clock.today());
    ctx.insert("history", &history);
    render(&state, "portal/history.html", lang, &ctx)
}
