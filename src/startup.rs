//! Starting the servers: database and migrations, key-value store, templates, signing keys,
//! listeners; then serving until Ctrl-C or SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use keys::{Clock, KeyPolicy};
use secrecy::ExposeSecret;
use storage::Db;
use storage::db::DbOptions;
use web::ops::Probes;

use crate::config::Config;
use crate::master_key;

/// Which services a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sides {
    /// idp and portal (`shikaku serve`).
    Both,
    /// The idp alone (`shikaku idp`).
    Idp,
    /// The portal alone (`shikaku portal`).
    Portal,
}

/// Opens the configured database (no migrations).
pub async fn open_database(config: &Config) -> anyhow::Result<Db> {
    let options =
        DbOptions { max_connections: Some(config.database_max_connections), ..DbOptions::default() };
    Ok(Db::connect(config.database_url.expose_secret(), &options).await?)
}

/// `shikaku migrate`.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let db = open_database(config).await?;
    let applied = db.migrate().await?;
    let latest = db.backend().migrator().iter().map(|m| m.version).max().unwrap_or(0);
    println!("applied {applied} migration(s); {} database at version {latest}", db.backend().name());
    db.close().await;
    Ok(())
}

/// The idp's settings from the configuration.
pub fn idp_config(config: &Config) -> idp::IdpConfig {
    let secs = Duration::from_secs;
    idp::IdpConfig {
        signing_algs: config.signing_algs.clone(),
        key_policy: KeyPolicy {
            publish_lead: secs(config.key_publish_lead_secs),
            retention: secs(config.key_retention_secs),
        },
        session_idle: secs(config.session_idle_secs),
        session_absolute: secs(config.session_absolute_secs),
        access_token_ttl: secs(config.access_token_ttl_secs),
        id_token_ttl: secs(config.id_token_ttl_secs),
        crl_grace: secs(config.crl_grace_secs),
        refresh_token_ttl: secs(config.refresh_token_ttl_secs),
        rate_limits: config.rate_limits,
        trusted_proxies: config.trusted_proxies.clone(),
        crl_fetch: crl_fetch_config(config),
        outbound: idp::outbound::Guard::new(config.outbound_allow_addresses.clone()),
        // The portal's API (device attendance) takes tokens issued for its public URL.
        resource_servers: vec![config.portal_public_url.clone()],
        cert_login: idp::signin::certificate::CertLoginConfig {
            trusted_proxies: config.mtls_trusted_proxies.clone(),
            public_url: config.mtls_public_url.clone(),
            listener: config.mtls_listen.is_some(),
        },
        ..idp::IdpConfig::new(&config.idp_public_url)
    }
}

/// The idp's application state for an admin command that acts as the server would (ending
/// sessions, signing back-channel logout tokens): same database, key-value store and keys; no
/// listener.
pub async fn idp_app(config: &Config, db: &Db) -> anyhow::Result<Arc<idp::App>> {
    let redis_url = config.redis_url.as_ref().map(|u| u.expose_secret().to_owned());
    let kv = storage::kv::connect(redis_url.as_deref(), &config.redis_prefix)
        .await
        .context("cannot connect to the key-value store (config key `redis_url`)")?;
    let templates = Arc::new(web::Templates::load()?);
    let probes = Probes { db: db.clone(), kv, metrics: web::metrics::recorder() };
    let master = master_key::resolve(config, db).await?;
    let (_, app) = idp::build(idp_config(config), probes, templates, master, Clock::system()).await?;
    Ok(app)
}

/// The portal's document service: its signing keys (created on a first start, signing from
/// `now`) and PDF font. A command that signs at `now` must pass that same `now`: a key created
/// a second later would not sign yet.
pub async fn portal_documents(
    config: &Config,
    db: &Db,
    master: keys::MasterKey,
    now: i64,
) -> anyhow::Result<portal::documents::routes::DocumentService> {
    let signer = portal::documents::Signer::open(db.clone(), master, &config.portal_public_url, now)
        .await
        .context("portal document-signing keys")?;
    let search = match &config.portal_font_dirs {
        Some(dirs) => portal::documents::pdf::FontSearch::Dirs(dirs.clone()),
        None => portal::documents::pdf::FontSearch::System,
    };
    Ok(portal::documents::routes::DocumentService::with_font_search(
        signer,
        config.portal_font_path.clone(),
        search,
    ))
}

/// Starts the certificate sign-in listener (`mtls_listen`); the task ends after `shutdown`.
async fn serve_mtls(
    config: &Config,
    listen: std::net::SocketAddr,
    app: Arc<idp::App>,
    probes: &Probes,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    let read = |key: &str, path: &Option<std::path::PathBuf>| -> anyhow::Result<Vec<u8>> {
        let path =
            path.as_ref().with_context(|| format!("config key `{key}` is required with `mtls_listen`"))?;
        std::fs::read(path).with_context(|| format!("cannot read {} (config key `{key}`)", path.display()))
    };
    let cert = read("mtls_cert_file", &config.mtls_cert_file)?;
    let key = read("mtls_key_file", &config.mtls_key_file)?;
    let tls = idp::serve::mtls::server_config(&cert, &key).context("mTLS listener")?;
    let public_url = config.mtls_public_url.clone().unwrap_or_default();
    let templates = app.templates.clone();
    let router = idp::serve::mtls::router(app, &public_url, templates, probes.clone());
    let listener = idp::serve::mtls::bind(listen, tls).await?;
    tracing::info!(addr = %listen, %public_url, "certificate sign-in (mTLS) listening");
    let service = router.into_make_service_with_connect_info::<idp::serve::mtls::PeerInfo>();
    Ok(tokio::spawn(async move {
        axum::serve(listener, service).with_graceful_shutdown(shutdown.cancelled_owned()).await
    }))
}

/// CRL fetching settings from the configuration.
pub fn crl_fetch_config(config: &Config) -> idp::trust::crl_fetch::FetchConfig {
    idp::trust::crl_fetch::FetchConfig {
        urls: config.crl_urls.clone(),
        allow_hosts: config.crl_fetch_allow_hosts.clone(),
        max_bytes: config.crl_fetch_max_bytes,
        timeout: Duration::from_secs(config.crl_fetch_timeout_secs),
        refresh_every: (config.crl_refresh_secs > 0).then(|| Duration::from_secs(config.crl_refresh_secs)),
        local: Vec::new(),
        outbound: idp::outbound::Guard::new(config.outbound_allow_addresses.clone()),
    }
}

/// Runs the servers until a shutdown signal, then drains and returns.
pub async fn run(config: Config, sides: Sides, demo: bool) -> anyhow::Result<()> {
    let db = open_database(&config).await?;
    let applied = db.migrate().await?;
    if applied > 0 {
        tracing::info!(applied, backend = db.backend().name(), "applied database migrations");
    }
    let redis_url = config.redis_url.as_ref().map(|u| u.expose_secret().to_owned());
    let kv = storage::kv::connect(redis_url.as_deref(), &config.redis_prefix)
        .await
        .context("cannot connect to the key-value store (config key `redis_url`)")?;
    let templates = Arc::new(web::Templates::load()?);
    let probes = Probes { db: db.clone(), kv, metrics: web::metrics::recorder() };

    let clock = Clock::system();
    let demo = if demo { Some(crate::demo::prepare(&db, &config, clock.now()).await?) } else { None };
    let mut services = Vec::new();
    let master = master_key::resolve(&config, &db).await?;
    let mut background = tokio::task::JoinSet::new();
    background.spawn(db.clone().run_checkpoints());
    let mut mtls = None;
    if sides != Sides::Portal {
        let master = master.clone();
        let mut idp_config = idp_config(&config);
        if let Some(d) = &demo {
            idp_config.demo_cards = d.cards.clone();
            // The demo PKI's CRLs are loaded from the database, never fetched.
            idp_config.crl_fetch.local = d.crl_points.clone();
        }
        let (router, app) =
            idp::build(idp_config, probes.clone(), templates.clone(), master, clock.clone()).await?;
        background.spawn(idp::trust::crl_fetch::run_schedule(app.clone()));
        if let Some(listen) = config.mtls_listen {
            mtls = Some((listen, app));
        }
        let listener = web::serve::bind(config.idp_listen).await?;
        tracing::info!(addr = %listener.local_addr()?, public_url = %config.idp_public_url, "idp listening");
        services.push((listener, router));
    }
    if sides != Sides::Idp {
        let portal_config = portal::PortalConfig {
            public_url: config.portal_public_url.clone(),
            idp_url: config.idp_public_url.clone(),
            client_id: config.portal_client_id.clone(),
            client_secret: match &demo {
                Some(d) => Some(d.portal_secret.clone()),
                None => config.portal_client_secret.as_ref().map(|s| s.expose_secret().to_owned()),
            },
            trusted_proxies: config.trusted_proxies.clone(),
        };
        let documents = portal_documents(&config, &db, master, clock.now()).await?;
        if let Err(e) = documents.font_status() {
            // Once at start; the PDF links answer a 503 page and `/readyz` lists `pdf_font`
            // until a font is there (found without a restart).
            tracing::warn!(config_key = "portal_font_path", package = "fonts-noto-cjk", "{e}");
        }
        let router = portal::build(portal_config, probes.clone(), templates, documents, clock.clone());
        let listener = web::serve::bind(config.portal_listen).await?;
        tracing::info!(addr = %listener.local_addr()?, public_url = %config.portal_public_url, "portal listening");
        services.push((listener, router));
    }
    let listener = web::serve::bind(config.metrics_listen)
        .await
        .context("the management listener (config key `metrics_listen`)")?;
    tracing::info!(addr = %listener.local_addr()?, "management listening (/metrics)");
    services.push((listener, web::ops::management_router(probes.clone())));
    let shutdown = web::serve::shutdown_on_signals();
    let mtls_task = match mtls {
        Some((listen, app)) => Some(serve_mtls(&config, listen, app, &probes, shutdown.clone()).await?),
        None => None,
    };
    let served = web::serve::serve_all(services, shutdown.clone()).await;
    if let Some(task) = mtls_task {
        shutdown.cancel();
        task.await??;
    }
    background.abort_all();
    served?;
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}
