//! The SQL database: one pool type for SQLite and PostgreSQL, selected by the URL scheme.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, Connection, Executor};

use crate::pool::{DbPool, Single};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
/// Set on every SQLite connection: integrity, concurrency and durability settings.
/// The automatic checkpoint only as a safety net (a server checkpoints in the background, see
/// [`Db::run_checkpoints`]): it runs inside the commit that crosses the threshold and makes it,
/// and everything waiting on it, wait for the copy and its fsync.
const SQLITE_PRAGMAS: &str = "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
     PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 10000;";

/// How often [`Db::run_checkpoints`] copies SQLite's write-ahead log into the database file.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// Which SQL engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file (the default single-machine setup).
    Sqlite,
    /// PostgreSQL (the scale-out setup).
    Postgres,
}

impl Backend {
    /// Picks the backend from a `sqlite:` or `postgres(ql):` URL.
    pub fn from_url(url: &str) -> Result<Self, DbError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(DbError::UnsupportedUrl)
        }
    }

    /// The migrations embedded for this backend.
    pub fn migrator(self) -> &'static Migrator {
        match self {
            Self::Sqlite => &SQLITE_MIGRATIONS,
            Self::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Pool size when none is configured. SQLite: one connection. SQLite runs one writer at a
    /// time anyway, and in WAL mode a connection drops its whole page cache whenever another
    /// connection has committed, so a pool of several connections re-reads pages for almost every
    /// statement (measured: the card sign-in round trip costs ~20 % more server CPU with 10
    /// connections than with 1). Long jobs take a connection of their own ([`Db::connect_one`]).
    /// PostgreSQL: 10.
    pub fn default_max_connections(self) -> u32 {
        match self {
            Self::Sqlite => 1,
            Self::Postgres => 10,
        }
    }

    /// Lower-case name, as shown in logs and `/readyz`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// Errors from opening, migrating or probing the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names neither SQLite nor PostgreSQL.
    #[error("unsupported database URL: expected sqlite://PATH or postgres://…")]
    UnsupportedUrl,
    /// The SQLite file's folder could not be created.
    #[error("cannot create the folder {path} for the SQLite database: {source}")]
    CreateDir {
        /// The folder.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The database could not be reached or opened.
    #[error("cannot open database {url}: {source}")]
    Connect {
        /// The URL with any password removed.
        url: String,
        /// The cause.
        source: sqlx::Error,
    },
    /// A migration failed (nothing after the failing migration was applied).
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
}

/// Options for [`Db::connect`].
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Largest number of pooled connections; `None`: [`Backend::default_max_connections`].
    pub max_connections: Option<u32>,
    /// How long to wait for a connection before giving up.
    pub acquire_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self { max_connections: None, acquire_timeout: Duration::from_secs(5) }
    }
}

/// A pooled connection to the SQL database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pool: Arc<DbPool>,
    backend: Backend,
    id: u64,
    /// How to open a connection outside the pool ([`Db::connect_one`]).
    connect_options: Arc<AnyConnectOptions>,
}

/// Source of [`Db::id`].
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Db {
    /// Opens the database named by `url` and checks that it answers.
    ///
    /// A SQLite file (and its folder) is created when missing; an existing file that is not a
    /// SQLite database is an error and is left untouched.
    pub async fn connect(url: &str, options: &DbOptions) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let shown = redact_url(url);
        let connect_error = |source| DbError::Connect { url: shown.clone(), source };
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => url.to_owned(),
        };
        let connect_options = AnyConnectOptions::from_str(&url).map_err(connect_error)?;
        // One direct connection first, so that the real cause (refused, not a database, bad
        // password) is reported instead of the pool's generic time-out.
        let probe = async { open_connection(&connect_options, backend).await?.close().await };
        match tokio::time::timeout(options.acquire_timeout, probe).await {
            Ok(result) => result.map_err(connect_error)?,
            Err(_) => return Err(connect_error(sqlx::Error::PoolTimedOut)),
        }
        let max_connections = options.max_connections.unwrap_or(backend.default_max_connections());
        let connect_options = Arc::new(connect_options);
        let pool = if backend == Backend::Sqlite && max_connections == 1 {
            DbPool::Single(Single::new(connect_options.clone(), options.acquire_timeout))
        } else {
            let mut pool_options = AnyPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(options.acquire_timeout);
            if backend == Backend::Sqlite {
                // An embedded database cannot drop a connection: the ping sqlx sends before
                // handing out a pooled connection would only add a round trip to its thread.
                pool_options = pool_options.test_before_acquire(false).after_connect(|conn, _meta| {
                    Box::pin(async move {
                        conn.execute(SQLITE_PRAGMAS).await?;
                        Ok(())
                    })
                });
            }
            DbPool::Pooled(pool_options.connect_lazy_with((*connect_options).clone()))
        };
        let db = Self {
            pool: Arc::new(pool),
            backend,
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            connect_options,
        };
        db.ping().await.map_err(|e| match e {
            DbError::Query(source) => DbError::Connect { url: shown.clone(), source },
            other => other,
        })?;
        Ok(db)
    }

    /// Applies every pending embedded migration; returns how many were applied.
    pub async fn migrate(&self) -> Result<usize, DbError> {
        let migrator = self.backend.migrator();
        let before = self.applied_migrations().await.unwrap_or(0);
        let mut conn = self.pool.acquire().await?;
        migrator.run(&mut *conn).await?;
        drop(conn);
        let after = self.applied_migrations().await?;
        Ok(after.saturating_sub(before))
    }

    /// Number of migrations recorded as applied (an error when the table does not exist yet).
    async fn applied_migrations(&self) -> Result<usize, DbError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(&*self.pool)
            .await?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Runs a trivial query: the database is reachable and answers.
    pub async fn ping(&self) -> Result<(), DbError> {
        let one: i64 = sqlx::query_scalar("SELECT 1").fetch_one(&*self.pool).await?;
        debug_assert_eq!(one, 1);
        Ok(())
    }

    /// The connections, for running queries (`.fetch_one(db.pool())`) or taking one
    /// ([`DbPool::acquire`]).
    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// A new connection of its own, outside the pool (with the pool's settings), for a long job
    /// (an import) that would otherwise hold a pooled connection for its whole run: on SQLite the
    /// pool has one connection by default, which every request needs.
    pub async fn connect_one(&self) -> Result<AnyConnection, sqlx::Error> {
        open_connection(&self.connect_options, self.backend).await
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// An id unique in this process for this pool (its clones share it), for per-database state
    /// kept outside the pool (caches, background writers).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Until the pool closes: every [`CHECKPOINT_EVERY`], copies SQLite's write-ahead log into
    /// the database file (`PASSIVE`: readers and writers go on), so that commits on the request
    /// path rarely run a checkpoint themselves. Runs on a connection of its own, so that the
    /// copy and its fsync do not hold up the pool. Returns at once on PostgreSQL. Servers spawn
    /// it; one-shot commands leave checkpoints to SQLite.
    pub async fn run_checkpoints(self) {
        if self.backend != Backend::Sqlite {
            return;
        }
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut conn: Option<AnyConnection> = None;
        loop {
            tick.tick().await;
            if self.pool.is_closed() {
                if let Some(c) = conn.take() {
                    let _ = c.close().await;
                }
                return;
            }
            let c = match &mut conn {
                Some(c) => c,
                None => match self.connect_one().await {
                    Ok(c) => conn.insert(c),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot open the checkpoint connection");
                        continue;
                    }
                },
            };
            if let Err(e) = c.execute("PRAGMA wal_checkpoint(PASSIVE)").await {
                tracing::warn!(error = %e, "background WAL checkpoint failed");
                conn = None;
            }
        }
    }

    /// Closes every connection (waits for checked-out ones to return).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// One connection with the backend's settings (SQLite pragmas).
pub(crate) async fn open_connection(
    options: &AnyConnectOptions,
    backend: Backend,
) -> Result<AnyConnection, sqlx::Error> {
    let mut conn = AnyConnection::connect_with(options).await?;
    if backend == Backend::Sqlite {
        conn.execute(SQLITE_PRAGMAS).await?;
    }
    Ok(conn)
}

/// Makes sure the SQLite file's folder exists and asks sqlx to create a missing file.
fn prepare_sqlite_url(url: &str) -> Result<String, DbError> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if let Some(parent) = Path::new(path).parent().filter(|p| path != ":memory:" && !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .map_err(|source| DbError::CreateDir { path: parent.display().to_string(), source })?;
    }
    if query.split('&').any(|kv| kv.starts_with("mode=")) {
        Ok(url.to_owned())
    } else if query.is_empty() {
        Ok(format!("sqlite://{path}?mode=rwc"))
    } else {
        Ok(format!("sqlite://{path}?{query}&mode=rwc"))
    }
}

/// The URL with its password replaced by `***`, for messages.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
    }

    #[test]
    fn backend_by_scheme() {
        assert_eq!(Backend::from_url("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::from_url("postgresql://h/db").unwrap(), Backend::Postgres);
        assert!(matches!(Backend::from_url("mysql://h/db"), Err(DbError::UnsupportedUrl)));
    }
}
