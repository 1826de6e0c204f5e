//! Test helpers: a fresh database per test (a temporary SQLite file, or a PostgreSQL database
//! created for the test and dropped afterwards) and a key-value store per test.
//!
//! PostgreSQL and Redis are used when `SHIKAKU_TEST_POSTGRES_URL` and `SHIKAKU_TEST_REDIS_URL`
//! are set; with `CI` set, their absence is an error rather than a quiet skip.

use std::sync::Arc;

use rand::Rng;
use sqlx::Connection;

use crate::db::{Db, DbOptions};
use crate::kv::{self, Kv};

/// Environment variable naming the PostgreSQL server for tests (any existing database on it).
pub const POSTGRES_ENV: &str = "SHIKAKU_TEST_POSTGRES_URL";
/// Environment variable naming the Redis server for tests.
pub const REDIS_ENV: &str = "SHIKAKU_TEST_REDIS_URL";

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDb {
    /// The migrated database.
    pub db: Db,
    url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Sqlite(
        #[expect(dead_code, reason = "held so the folder lives as long as the database")] tempfile::TempDir,
    ),
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDb {
    /// A migrated SQLite database in a fresh temporary folder.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let db = Db::connect(&url, &DbOptions::default()).await.expect("open sqlite");
        db.migrate().await.expect("migrate sqlite");
        Self { db, url, cleanup: Cleanup::Sqlite(dir) }
    }

    /// A migrated, freshly created PostgreSQL database on the server at `admin_url`.
    pub async fn postgres(admin_url: &str) -> Self {
        let this = Self::postgres_empty(admin_url).await;
        this.db.migrate().await.expect("migrate postgres");
        this
    }

    /// A freshly created PostgreSQL database with no migrations applied.
    pub async fn postgres_empty(admin_url: &str) -> Self {
        sqlx::any::install_default_drivers();
        let name = format!("shikaku_t_{:016x}", rand::rng().random::<u64>());
        let mut admin = sqlx::AnyConnection::connect(admin_url).await.expect("connect to postgres");
        // The name is generated here from hex digits only.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create database");
        admin.close().await.ok();
        let url = with_database(admin_url, &name);
        let db = Db::connect(&url, &DbOptions { max_connections: Some(5), ..DbOptions::default() })
            .await
            .expect("open test database");
        Self { db, url, cleanup: Cleanup::Postgres { admin_url: admin_url.to_owned(), name } }
    }

    /// A migrated database on the backend named: `sqlite` or `postgres`.
    pub async fn on(backend: crate::Backend) -> Self {
        match backend {
            crate::Backend::Sqlite => Self::sqlite().await,
            crate::Backend::Postgres => {
                Self::postgres(&postgres_url().expect("SHIKAKU_TEST_POSTGRES_URL")).await
            }
        }
    }

    /// The database URL (for handing to a server under test).
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime, so the drop happens on a thread of its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                rt.block_on(async {
                    let mut admin = sqlx::AnyConnection::connect(&admin_url).await.ok()?;
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await.ok()
                })
            })
            .join();
        }
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("postgres URL");
    parsed.set_path(&format!("/{name}"));
    parsed.to_string()
}

fn required_env(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if std::env::var_os("CI").is_some() => panic!("{var} must be set in CI"),
        _ => None,
    }
}

/// The PostgreSQL server for tests, if configured.
pub fn postgres_url() -> Option<String> {
    required_env(POSTGRES_ENV)
}

/// The Redis server for tests, if configured.
pub fn redis_url() -> Option<String> {
    required_env(REDIS_ENV)
}

/// A random key prefix, so that tests sharing one Redis never see each other's keys.
pub fn unique_prefix() -> String {
    format!("t{:016x}:", rand::rng().random::<u64>())
}

/// One test's storage: a database and a key-value store of matching kind.
#[derive(Debug)]
pub struct TestEnv {
    /// The database (dropped with the env).
    pub db: TestDb,
    /// The key-value store.
    pub kv: Arc<dyn Kv>,
}

/// Sends the test's log (warnings and errors, or what `RUST_LOG` says) to the test's captured
/// output, so a failing test shows the server's error behind an "internal error (id …)"
/// answer. Called by every [`TestEnv`] constructor; later calls do nothing.
pub fn log_to_test_output() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _already_set =
        tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().with_ansi(false).try_init();
}

impl TestEnv {
    /// SQLite in a temporary folder and the in-memory store: always available.
    pub async fn sqlite_memory() -> Self {
        log_to_test_output();
        Self { db: TestDb::sqlite().await, kv: Arc::new(kv::MemoryKv::new()) }
    }

    /// A fresh PostgreSQL database and Redis, or `None` (with a note) when not configured.
    pub async fn postgres_redis() -> Option<Self> {
        log_to_test_output();
        let (Some(pg), Some(redis)) = (postgres_url(), redis_url()) else {
            eprintln!("note: {POSTGRES_ENV} / {REDIS_ENV} not set; PostgreSQL+Redis variant not run");
            return None;
        };
        let kv = kv::connect(Some(&redis), &unique_prefix()).await.expect("connect to redis");
        Some(Self { db: TestDb::postgres(&pg).await, kv })
    }
}

/// Runs each named `async fn(TestEnv)` twice: on SQLite + memory and on PostgreSQL + Redis.
///
/// Expands to modules `sqlite_memory` and `postgres_redis`, one `#[tokio::test]` per function.
#[macro_export]
macro_rules! each_backend {
    ($($name:ident),+ $(,)?) => {
        mod sqlite_memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::testing::TestEnv::sqlite_memory().await).await;
                }
            )+
        }
        mod postgres_redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(env) = $crate::testing::TestEnv::postgres_redis().await {
                        super::$name(env).await;
                    }
                }
            )+
        }
    };
}

/// A free TCP port on 127.0.0.1 (free when asked; bind it soon).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

/// A Redis server of one test's own, so that the test can stop it and start it again.
#[derive(Debug)]
pub struct OwnRedis {
    port: u16,
    child: std::process::Child,
}

impl OwnRedis {
    /// Starts `redis-server` on a free port; `None` (with a note) when it is not installed
    /// outside CI. In CI a missing `redis-server` is an error.
    pub async fn start() -> Option<Self> {
        let found = std::process::Command::new("redis-server").arg("--version").output().is_ok();
        if !found {
            assert!(std::env::var_os("CI").is_none(), "redis-server must be installed in CI");
            eprintln!("note: redis-server not installed; test not run");
            return None;
        }
        Some(Self::start_on(free_port()).await)
    }

    /// Starts `redis-server` on `port` and waits until it answers.
    pub async fn start_on(port: u16) -> Self {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Self { port, child }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops it and waits until it is gone.
    pub fn stop(mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
