//! Sign-in methods, one module each: [`card`] (the HPKI card through the bridge, Web eID
//! protocol), [`certificate`] (the card's certificate as a TLS client certificate) and, in demo
//! mode only, [`virtual_card`]. Each ends by starting a [`session`].
//! [`bridge_check`] is the page that tells a doctor whether the card bridge is set up.

pub mod bridge_check;
pub mod card;
pub mod certificate;
pub mod emergency;
pub mod passkey;
pub mod virtual_card;

use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use hpki::HpkiCertificate;
use web::{ApiError, Lang};

use crate::app::App;
use crate::audit;
use crate::ids;
use crate::rate_limit::{self, ClientIp};
use crate::session::{self, Authentication, Session};
use crate::store::StoreError;
use crate::store::accounts::{self, Account, AccountKind, AccountStatus, Card};

/// Audits a refused sign-in: event `sign_in`, the outcome is the refusal's code, `method` the
/// sign-in method (`card`, `tls_listener`, `proxy`…).
pub(crate) async fn audit_failure(app: &App, now: i64, ip: Option<String>, method: &str, code: &str) {
    app.audit
        .log(
            now,
            audit::Entry {
                event: "sign_in".into(),
                outcome: code.into(),
                ip,
                detail: serde_json::json!({ "method": method }),
                ..audit::Entry::default()
            },
        )
        .await;
}

/// The sign-in limit per client address: the 429 problem+json once it is reached.
pub(crate) async fn limit_sign_in(app: &App, client_ip: &ClientIp, lang: Lang) -> Result<(), Response> {
    rate_limit::hit(app, "sign_in_ip", &client_ip.subject(), app.config.rate_limits.sign_in_per_ip)
        .await
        .map_err(|l| card::rate_limited(app, lang, l))
}

/// Starts a session for `account_id` in this browser; the session it had is revoked (audited
/// as `replaced_by_sign_in`). Returns the session and its `Set-Cookie` value.
pub(crate) async fn replace_session(
    app: &std::sync::Arc<App>,
    headers: &HeaderMap,
    account_id: &str,
    auth: Authentication,
    ip: Option<String>,
    now: i64,
) -> Result<(Session, HeaderValue), Response> {
    let previous = session::current(app, headers, now).await;
    let started = session::start(app, account_id, auth, now)
        .await
        .map_err(|e| ApiError::internal(e).into_response())?;
    if let Some(old) = previous {
        session::revoke(app, &old, "replaced_by_sign_in", ip, now).await;
    }
    Ok(started)
}

/// The client of the pending authorization request a sign-in continues, for its audit entry
/// (the account page lists where each sign-in was for).
pub(crate) async fn request_client(app: &App, request: Option<&str>) -> Option<String> {
    let id = request.filter(|r| !r.is_empty())?;
    crate::oauth::authorize::load_request(app, id).await.ok().flatten().map(|r| r.client_id)
}

/// The account of a validated card certificate: found by (issuing CA, subscriber id), or created.
pub(crate) async fn account_for(app: &App, id: &HpkiCertificate, now: i64) -> Result<Account, StoreError> {
    let subscriber = id.subscriber_id.clone().unwrap_or_else(|| format!("serial:{}", id.serial));
    let not_after = id.not_after.unix_timestamp();
    let certificate = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, id.der());
    for _ in 0..3 {
        if let Some((mut card, mut account)) =
            accounts::find_card_with_account(&app.db, &id.issuer, &subscriber).await?
        {
            card.serial = id.serial.clone();
            card.not_after = not_after;
            card.hc_roles = id.hc_roles.clone();
            card.kanji_name = id.kanji_name.clone();
            card.romaji_name = id.romaji_name.clone();
            card.last_used_at = now;
            // The account takes the card's names when they differ (a name on a card that has
            // none keeps the account's).
            let renamed = |on_card: &Option<String>, held: &mut Option<String>| match on_card {
                Some(n) if held.as_ref() != Some(n) => {
                    *held = Some(n.clone());
                    true
                }
                _ => false,
            };
            let kanji = renamed(&card.kanji_name, &mut account.name);
            let romaji = renamed(&card.romaji_name, &mut account.romaji_name);
            if kanji || romaji {
                account.updated_at = now;
            }
            accounts::update_card_use(&app.db, &card, &certificate, kanji || romaji).await?;
            return Ok(account);
        }
        let account = Account {
            id: ids::new_id(),
            kind: AccountKind::Doctor,
            name: id.kanji_name.clone(),
            romaji_name: id.romaji_name.clone(),
            status: AccountStatus::Active,
            created_at: now,
            updated_at: now,
        };
        let card = Card {
            issuer: id.issuer.clone(),
            subscriber_id: subscriber.clone(),
            account_id: account.id.clone(),
            serial: id.serial.clone(),
            not_after,
            hc_roles: id.hc_roles.clone(),
            kanji_name: id.kanji_name.clone(),
            romaji_name: id.romaji_name.clone(),
            created_at: now,
            last_used_at: now,
        };
        if accounts::create_account_with_card(&app.db, &account, &card, &certificate).await? {
            tracing::info!(account = %account.id, "created account at first card sign-in");
            return Ok(account);
        }
    }
    Err(StoreError::Contended("the card's account changed under three attempts to find or create it"))
}
