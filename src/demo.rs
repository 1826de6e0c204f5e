//! Demo mode (`shikaku demo` or `shikaku serve --demo`): a test PKI trusted by the idp, virtual
//! cards on the sign-in page, and the portal registered as a client, so that a newcomer can sign
//! in in a browser without a card. The test PKI is deterministic (fixed seed), so demo accounts
//! survive restarts.

use anyhow::Context;
use hpki::testpki::TestPki;
use idp::clients::{AuthMethod, Client, GrantType, SubjectType};
use idp::demo::DemoCard;
use idp::store::{clients as client_store, trust};
use sha2::{Digest, Sha256};
use storage::Db;

use crate::config::Config;

/// Seed of the demo PKI.
const SEED: u64 = 2026;
/// The portal's client id.
pub const PORTAL_CLIENT_ID: &str = "portal";

/// What demo mode hands to the idp and the portal.
#[derive(Debug)]
pub struct Demo {
    /// Virtual cards for the sign-in page.
    pub cards: Vec<DemoCard>,
    /// The portal's client secret (new at every start).
    pub portal_secret: String,
}

/// Trusts the demo PKI and (re-)registers the portal; returns the virtual cards.
pub async fn prepare(db: &Db, config: &Config) -> anyhow::Result<Demo> {
    let pki = tokio::task::spawn_blocking(|| TestPki::generate(SEED))
        .await?
        .map_err(|e| anyhow::anyhow!("demo PKI: {e}"))?;
    let now = idp::app::now();
    for der in pki.ca_certificates() {
        let cert = hpki::HpkiCertificate::parse(der).map_err(|e| anyhow::anyhow!("demo CA: {}", e.detail))?;
        let ca = trust::TrustedCa {
            fingerprint: hpki::hex(&Sha256::digest(der)),
            subject: cert.subject.clone(),
            der: der.to_vec(),
            added_at: now,
            purpose: trust::PURPOSE_CARD.into(),
        };
        trust::create_ca(db, &ca).await?;
    }
    for der in pki.crl_ders() {
        let crl = hpki::Crl::parse(der).map_err(|e| anyhow::anyhow!("demo CRL: {}", e.detail))?;
        let stored = trust::StoredCrl {
            issuer: crl.issuer.clone(),
            der: der.to_vec(),
            this_update: crl.this_update.unix_timestamp(),
            next_update: crl.next_update.map(|t| t.unix_timestamp()),
            source: "demo".into(),
            fetched_at: now,
        };
        trust::upsert_crl(db, &stored).await?;
    }
    let portal_secret = idp::ids::new_secret();
    let portal = Client {
        client_id: PORTAL_CLIENT_ID.into(),
        name: "資格 ポータル".into(),
        secret_hash: Some(idp::ids::hash(&portal_secret)),
        auth_method: AuthMethod::ClientSecretBasic,
        redirect_uris: vec![format!("{}/callback", config.portal_public_url)],
        post_logout_redirect_uris: vec![format!("{}/", config.portal_public_url)],
        grant_types: vec![GrantType::AuthorizationCode],
        scopes: vec!["openid".into(), "profile".into(), "hpki".into()],
        skip_consent: true,
        subject_type: SubjectType::Public,
        id_token_alg: config.signing_algs.first().copied().unwrap_or(idp::keys::SigningAlg::ES256),
        backchannel_logout_uri: None,
        allowed_roles: vec![],
        jwks: None,
        jwks_uri: None,
        tls_subject_dn: None,
        require_par: false,
        created_at: now,
        updated_at: now,
    };
    if client_store::find_client(db, PORTAL_CLIENT_ID).await?.is_some() {
        client_store::update_client(db, &portal).await?;
    } else {
        client_store::create_client(db, &portal).await.context("registering the portal client")?;
    }
    let cards = pki
        .cards
        .iter()
        .filter(|c| !c.signature)
        .map(|c| {
            let cert = hpki::HpkiCertificate::parse(&c.issued.der).ok();
            let name = cert
                .as_ref()
                .and_then(|c| c.kanji_name.clone().or(c.romaji_name.clone()))
                .unwrap_or_default();
            let revoked = if c.revoked { " — 失効 / revoked" } else { "" };
            DemoCard {
                id: c.name.clone(),
                label: format!("{name}（{}）{revoked}", c.role),
                card: c.virtual_card(),
            }
        })
        .collect();
    Ok(Demo { cards, portal_secret })
}
