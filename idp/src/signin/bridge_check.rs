//! `GET /bridge`: the card bridge check page (docs/bridge.md). The page itself is static; its
//! script (`static/bridge.js`) asks the extension for `web-eid:status` and shows whether the
//! extension, the native host and a card are there, with installation steps for the browser
//! in use. Without JavaScript it shows the steps for every browser.

use axum::extract::State;
use axum::response::Html;
use web::{Lang, PageError};

use crate::app::AppState;

/// `GET /bridge`.
pub async fn page(State(state): State<AppState>, lang: Lang) -> Result<Html<String>, PageError> {
    let ctx = web::templates::Context::new();
    state.0.templates.render("idp/bridge.html", lang, &ctx).map(Html).map_err(PageError::internal)
}
