//! Demo mode (`shikaku demo` or `shikaku serve --demo`): a test PKI trusted by the idp, virtual
//! cards on the sign-in page, and the portal registered as a client, so that a newcomer can sign
//! in in a browser without a card. The test PKI is deterministic (fixed seed), so demo accounts
//! survive restarts. It also seeds the portal: a registry naming the demo doctors' cards (so the
//! idp releases their registration numbers with the `license` scope), training events and
//! attendance over three fiscal years, through the same imports an operator runs, and makes the
//! hospital director's card holder an `organizer`.

use anyhow::Context;
use hpki::testpki::TestPki;
use idp::clients::{Client, GrantType};
use idp::signin::virtual_card::DemoCard;
use idp::store::{clients as client_store, trust};
use sha2::{Digest, Sha256};
use storage::Db;

use crate::config::Config;

/// The flag that lets demo mode run on a public address.
pub const PUBLIC_FLAG: &str = "--demo-on-public-address";

/// Refuses demo mode where others could reach it: every public URL and listener of the
/// configuration must be on a loopback address (`localhost`, 127.0.0.0/8, `::1`), since the
/// demo's virtual cards sign anyone in. `allow_public` (the [`PUBLIC_FLAG`]) lets it start anyway,
/// with a warning in the log.
pub fn check_exposure(config: &Config, allow_public: bool) -> anyhow::Result<()> {
    let mut exposed = Vec::new();
    let urls = [
        ("idp_public_url", Some(&config.idp_public_url)),
        ("portal_public_url", Some(&config.portal_public_url)),
    ]
    .into_iter()
    .chain([("mtls_public_url", config.mtls_public_url.as_ref())]);
    for (key, url) in urls {
        if let Some(url) = url
            && !url_is_loopback(url)
        {
            exposed.push(format!("`{key}` {url}"));
        }
    }
    let listeners = [("idp_listen", Some(config.idp_listen)), ("portal_listen", Some(config.portal_listen))]
        .into_iter()
        .chain([("mtls_listen", config.mtls_listen)]);
    for (key, addr) in listeners {
        if let Some(addr) = addr
            && !addr.ip().is_loopback()
        {
            exposed.push(format!("`{key}` {addr}"));
        }
    }
    if exposed.is_empty() {
        return Ok(());
    }
    let list = exposed.join(", ");
    if allow_public {
        tracing::warn!(
            exposed = %list,
            "DEMO MODE ON A PUBLIC ADDRESS: anyone who reaches it can sign in with a virtual card"
        );
        return Ok(());
    }
    anyhow::bail!(
        "demo mode refuses to start on a non-loopback address ({list}): its virtual cards sign \
         anyone in. Use 127.0.0.1 or localhost, or pass {PUBLIC_FLAG} to expose the demo on purpose"
    )
}

/// Whether the host of an `http(s)://host[:port]/…` URL is `localhost` or a loopback address.
fn url_is_loopback(url: &str) -> bool {
    let Ok(uri) = url.parse::<axum::http::Uri>() else { return false };
    let Some(host) = uri.host() else { return false };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

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
    /// The CRL distribution points of the demo PKI (CAs and cards): their CRLs are stored
    /// here at start, and their host (`crl.shikaku.invalid`) cannot be fetched from.
    pub crl_points: Vec<String>,
}

/// The http(s) CRL distribution points of the demo PKI's CA and card certificates.
fn crl_points(pki: &TestPki) -> Vec<String> {
    let ders = pki.ca_certificates().into_iter().chain(pki.cards.iter().map(|c| c.issued.der.as_slice()));
    let mut points: Vec<String> = ders
        .filter_map(|der| hpki::HpkiCertificate::parse(der).ok())
        .flat_map(|cert| idp::trust::crl_fetch::http_points(&cert))
        .collect();
    points.sort();
    points.dedup();
    points
}

/// Trusts the demo PKI and (re-)registers the portal at `now`; returns the virtual cards.
pub async fn prepare(db: &Db, config: &Config, now: i64) -> anyhow::Result<Demo> {
    let pki = tokio::task::spawn_blocking(|| TestPki::generate(SEED))
        .await?
        .map_err(|e| anyhow::anyhow!("demo PKI: {e}"))?;
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
    let id_token_alg = config.signing_algs.first().copied().unwrap_or(keys::SigningAlg::ES256);
    let portal = Client {
        name: "資格 ポータル".into(),
        secret_hash: Some(idp::ids::hash(&portal_secret)),
        redirect_uris: vec![format!("{}/callback", config.portal_public_url)],
        post_logout_redirect_uris: vec![format!("{}/", config.portal_public_url)],
        scopes: ["openid", "profile", "hpki", "license", "roles", "card:read"].map(String::from).to_vec(),
        // The venue kiosk asks the idp about the cards tapped (POST /api/v1/card-reads).
        grant_types: vec![GrantType::AuthorizationCode, GrantType::ClientCredentials],
        skip_consent: true,
        ..Client::new(PORTAL_CLIENT_ID, id_token_alg, now)
    };

    if client_store::find_client(db, PORTAL_CLIENT_ID).await?.is_some() {
        client_store::update_client(db, &portal).await?;
    } else {
        client_store::create_client(db, &portal).await.context("registering the portal client")?;
    }
    seed_portal(db, &pki, now).await?;
    // The hospital director's card holder organizes training events in the demo.
    if let Some(cert) = pki
        .cards
        .iter()
        .find(|c| c.name == "director-auth")
        .and_then(|c| hpki::HpkiCertificate::parse(&c.issued.der).ok())
        && let Some(subscriber) = &cert.subscriber_id
    {
        idp::store::roles::create_role(db, &cert.issuer, subscriber, "organizer", now).await?;
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
            let name_en = cert.as_ref().and_then(|c| c.romaji_name.clone()).unwrap_or_else(|| name.clone());
            let role_ja = portal::roles::hc_role_name(&c.role, web::Lang::Ja);
            let (revoked_ja, revoked_en) =
                if c.revoked { ("（失効）", " — revoked") } else { ("", "") };
            DemoCard {
                id: c.name.clone(),
                label: format!("{name}（{role_ja}）{revoked_ja}"),
                label_en: format!("{name_en} ({}){revoked_en}", c.role),
                card: c.virtual_card(),
            }
        })
        .collect();
    Ok(Demo { cards, portal_secret, crl_points: crl_points(&pki) })
}

/// Demo doctors: (card name in the test PKI, registration number, kana name, birth date, how
/// many events they attended).
const DOCTORS: [(&str, &str, &str, &str, usize); 4] = [
    ("doctor-auth", "512345", "ニホン　タロウ", "1978-04-12", 24),
    ("doctor-auth-p384", "498765", "ニホン　ジロウ", "1969-11-03", 40),
    ("doctor-auth-p256", "601234", "ニホン　ゴロウ", "1985-07-21", 8),
    ("doctor-auth-p521", "623456", "ニホン　シロウ", "1990-01-30", 3),
];

/// Titles of the demo training events.
const TITLES: [&str; 12] = [
    "糖尿病診療の最新知見",
    "高血圧治療ガイドライン解説",
    "在宅医療と多職種連携",
    "感染症対策の実際",
    "認知症の早期診断と支援",
    "がん緩和ケア研修会",
    "小児の救急診療",
    "医療安全推進講習会",
    "睡眠障害の診かた",
    "心不全の地域連携",
    "COPDの診断と治療",
    "医の倫理と医療制度",
];

/// The registry and attendance CSV files of the demo, as an organizer would import them.
fn portal_files(pki: &TestPki) -> (String, String) {
    let mut registry = String::from("registration_number,kana_name,birth_date,name,issuer,subscriber_id\n");
    let mut attendance =
        String::from("registration_number,event_id,event_title,organizer,date,credits,status\n");
    for (d, (card, number, kana, birth, events)) in DOCTORS.iter().enumerate() {
        let Some(cert) = pki
            .cards
            .iter()
            .find(|c| c.name == *card)
            .and_then(|c| hpki::HpkiCertificate::parse(&c.issued.der).ok())
        else {
            continue;
        };
        let name = cert.kanji_name.clone().unwrap_or_default();
        let subscriber = cert.subscriber_id.clone().unwrap_or_default();
        registry.push_str(&format!("{number},{kana},{birth},{name},\"{}\",{subscriber}\n", cert.issuer));
        // Events every five weeks back from November 2026: three fiscal years and a bit.
        for i in 0..*events {
            let day =
                time::macros::date!(2026 - 11 - 20) - time::Duration::days(35 * i as i64 + 3 * d as i64);
            let code_a = (i * 7 + d * 11) % 84;
            let code_b = (i * 13 + d * 5 + 40) % 84;
            let units = if i % 3 == 0 { "1.5" } else { "1" };
            let title = TITLES[i % TITLES.len()];
            let status = if i < 2 { "provisional" } else { "confirmed" };
            attendance.push_str(&format!(
                "{number},DEMO-{d}-{i},{title},資格テスト医師会,{day},jma_cme:{code_a}={units};jma_cme:{code_b}=0.5,{status}\n"
            ));
            if i % 6 == 5 {
                attendance.push_str(&format!(
                    "{number},DEMO-K-{d}-{i},かかりつけ医機能研修 応用研修,資格テスト医師会,{day},jma_kakaritsuke:applied=2,confirmed\n"
                ));
            }
        }
    }
    (registry, attendance)
}

/// Imports the demo registry and attendance (idempotent: a restart changes nothing).
async fn seed_portal(db: &Db, pki: &TestPki, now: i64) -> anyhow::Result<()> {
    use portal::import::{Options, attendance, registry};
    let (registry_csv, attendance_csv) = portal_files(pki);
    let opts = Options::new(now);
    let (report, holders) =
        registry::import_with_card_holders(db, registry_csv.as_bytes(), &opts, &mut |_| {})
            .await
            .context("demo registry")?;
    anyhow::ensure!(report.errors.is_empty(), "demo registry: {:?}", report.errors);
    let identities: Vec<_> = holders.iter().map(crate::cli::import::identity).collect();
    idp::store::identities::upsert_identities(db, &identities, now).await?;
    let report = attendance::import(db, attendance_csv.as_bytes(), &opts, &mut |_| {})
        .await
        .context("demo attendance")?;
    anyhow::ensure!(report.errors.is_empty(), "demo attendance: {:?}", report.errors);
    tracing::info!(added = report.inserted, "demo attendance");
    Ok(())
}
