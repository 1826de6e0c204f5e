//! `/account`: the signed-in person's account at the portal — who the idp says they are, the
//! card they signed in with, their registration link, and the verification log: every view of
//! their shares and every in-person check, with when, what was shown and who checked.

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;
use web::csrf::CsrfToken;
use web::templates::Context;
use web::{Lang, PageError};

use crate::pages::shares::log_rows;
use crate::pages::{SignedIn, render, store_error};
use crate::{AppState, linking, roles};

#[derive(Debug, Serialize)]
struct LinkState {
    status: &'static str,
    status_label: String,
    registration_number: String,
}

/// `GET /account`.
pub async fn show(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    lang: Lang,
    csrf: CsrfToken,
) -> Result<Response, PageError> {
    let app = &state.0;
    let link = linking::resolve(&app.probes.db, &session, app.clock.now()).await.map_err(store_error)?;
    let log = log_rows(app, lang, &session.sub).await?;
    let mut ctx = Context::new();
    ctx.insert("csrf_token", &csrf.0);
    ctx.insert("name", &session.name);
    ctx.insert("sub", &session.sub);
    let qualifications: Vec<&str> = session.hc_roles.iter().map(|r| roles::hc_role_name(r, lang)).collect();
    ctx.insert("qualifications", &qualifications);
    ctx.insert("staff_roles", &session.roles);
    ctx.insert("card", &session.card);
    ctx.insert(
        "link",
        &link.map(|l| LinkState {
            status: l.status.as_str(),
            status_label: app.templates.text(lang, &format!("account_link_{}", l.status.as_str())).to_owned(),
            registration_number: l.registration_number,
        }),
    );
    ctx.insert("log", &log);
    render(&state, "portal/account.html", lang, &ctx)
}
