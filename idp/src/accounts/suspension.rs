//! Suspending an account (`shikaku admin account suspend`): besides refusing its sign-ins and
//! new tokens, everything it holds ends at once: its refresh tokens are revoked, its idp
//! sessions end, and each client that received tokens in one of them gets a back-channel logout
//! token.

use std::sync::Arc;

use crate::app::App;
use crate::logout::backchannel::{self, Delivery};
use crate::session;
use crate::store::accounts::AccountStatus;
use crate::store::{accounts, refresh};

/// What a suspension ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Suspension {
    /// Refresh tokens revoked.
    pub refresh_tokens_revoked: u64,
    /// Sessions ended, by the hash of their id (the `sid` claim).
    pub sessions_ended: Vec<String>,
    /// Back-channel logout tokens sent, one per client of each ended session.
    pub backchannel_logout: Vec<Delivery>,
}

/// Suspends `account_id` and ends what it holds; `None` when there is no such account. Waits
/// until every back-channel delivery succeeded or gave up.
pub async fn suspend(app: &Arc<App>, account_id: &str, now: i64) -> Result<Option<Suspension>, sqlx::Error> {
    if !accounts::update_account_status(&app.db, account_id, AccountStatus::Suspended, now).await? {
        return Ok(None);
    }
    let refresh_tokens_revoked = refresh::update_account_revoked(&app.db, account_id, now).await?;
    let mut sessions_ended = Vec::new();
    let mut backchannel_logout = Vec::new();
    for ended in session::end_all(app, account_id, now).await? {
        let delivered =
            backchannel::notify_and_wait(app, account_id, &ended.sid_hash, &ended.clients, now).await;
        backchannel_logout.extend(delivered);
        sessions_ended.push(ended.sid_hash);
    }
    Ok(Some(Suspension { refresh_tokens_revoked, sessions_ended, backchannel_logout }))
}
