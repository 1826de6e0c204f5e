//! Opening databases: both backends, and the failures an operator sees.

use storage::db::DbOptions;
use storage::testing::{self, TestDb};
use storage::{Backend, Db, DbError};

#[tokio::test]
async fn sqlite_file_and_folder_are_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/shikaku.db");
    let db = Db::connect(&format!("sqlite://{}", path.display()), &DbOptions::default()).await.unwrap();
    assert_eq!(db.backend(), Backend::Sqlite);
    assert_eq!(db.migrate().await.unwrap(), Backend::Sqlite.migrator().iter().count());
    assert_eq!(db.migrate().await.unwrap(), 0, "migrations are applied once");
    assert!(path.exists());
}

#[tokio::test]
async fn corrupt_sqlite_file_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shikaku.db");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();
    let err = Db::connect(&format!("sqlite://{}", path.display()), &DbOptions::default())
        .await
        .expect_err("not a database");
    let msg = err.to_string();
    assert!(msg.starts_with("cannot open database sqlite://"), "{msg}");
    assert!(msg.contains("file is not a database"), "{msg}");
    assert_eq!(std::fs::read(&path).unwrap(), garbage, "the file is not touched");
}

#[tokio::test]
async fn unreachable_postgres_is_a_clear_error() {
    let options = DbOptions { acquire_timeout: std::time::Duration::from_secs(2), ..DbOptions::default() };
    let err = Db::connect("postgres://shikaku:hunter2@127.0.0.1:1/shikaku", &options)
        .await
        .expect_err("nothing listens on port 1");
    let msg = err.to_string();
    assert!(msg.starts_with("cannot open database postgres://shikaku:***@127.0.0.1:1/shikaku: "), "{msg}");
    assert!(!msg.contains("hunter2"), "the password is never shown: {msg}");
}

#[tokio::test]
async fn unknown_scheme_is_refused() {
    let err = Db::connect("mysql://h/db", &DbOptions::default()).await.expect_err("unsupported");
    assert!(matches!(err, DbError::UnsupportedUrl));
}

#[tokio::test]
async fn portable_sql_runs_on_both_backends() {
    let mut dbs = vec![TestDb::sqlite().await];
    if let Some(pg) = testing::postgres_url() {
        dbs.push(TestDb::postgres(&pg).await);
    }
    for t in &dbs {
        let pool = t.db.pool();
        sqlx::query(
            "INSERT INTO signing_keys (kid, owner, alg, public_jwk, private_key, created_at, signs_from) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind("k1")
        .bind("idp")
        .bind("ES256")
        .bind("{}")
        .bind(vec![1u8, 2, 3])
        .bind(1_700_000_000_i64)
        .bind(1_700_000_000_i64)
        .execute(pool)
        .await
        .unwrap();
        let (kid, key, at): (String, Vec<u8>, i64) =
            sqlx::query_as("SELECT kid, private_key, signs_from FROM signing_keys WHERE owner = $1")
                .bind("idp")
                .fetch_one(pool)
                .await
                .unwrap();
        assert_eq!((kid.as_str(), key, at), ("k1", vec![1, 2, 3], 1_700_000_000), "{:?}", t.db.backend());
        t.db.ping().await.unwrap();
    }
}

/// Size of the main SQLite file (pages reach it only through a checkpoint).
fn file_len(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[tokio::test]
async fn background_checkpoints_copy_the_log_into_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shikaku.db");
    let db = Db::connect(&format!("sqlite://{}", path.display()), &DbOptions::default()).await.unwrap();
    sqlx::query("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
        .execute(db.pool())
        .await
        .unwrap();
    // About 2 MB in 512 pages: under the automatic-checkpoint threshold, so it stays in the log.
    for _ in 0..16 {
        sqlx::query("INSERT INTO blobs (data) VALUES (randomblob(131072))").execute(db.pool()).await.unwrap();
    }
    let before = file_len(&path);
    assert!(before < 1 << 20, "the rows are still only in the write-ahead log: {before} bytes");
    let task = tokio::spawn(db.clone().run_checkpoints());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while file_len(&path) < 2 << 20 {
        assert!(std::time::Instant::now() < deadline, "no checkpoint within 10 s: {} bytes", file_len(&path));
        tokio::time::sleep(storage::db::CHECKPOINT_EVERY / 2).await;
    }
    // It stops with the pool.
    db.close().await;
    tokio::time::timeout(std::time::Duration::from_secs(5), task).await.expect("task ends").unwrap();
}

#[tokio::test]
async fn background_checkpoints_do_nothing_on_postgres() {
    let Some(url) = testing::postgres_url() else { return };
    let pg = TestDb::postgres(&url).await;
    tokio::time::timeout(std::time::Duration::from_secs(1), pg.db.clone().run_checkpoints())
        .await
        .expect("returns at once");
}

/// A SQLite database with the default pool (one shared connection) and a table `t (n)`.
async fn one_connection(acquire_timeout: std::time::Duration) -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("one.db").display());
    let db = Db::connect(&url, &DbOptions { acquire_timeout, ..DbOptions::default() }).await.unwrap();
    assert!(matches!(db.pool(), storage::DbPool::Single(_)), "SQLite defaults to one shared connection");
    sqlx::query("CREATE TABLE t (n BIGINT NOT NULL)").execute(db.pool()).await.unwrap();
    (dir, db)
}

async fn count(db: &Db) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM t").fetch_one(db.pool()).await.unwrap()
}

#[tokio::test]
async fn a_dropped_transaction_is_rolled_back_before_the_next_statement() {
    let (_dir, db) = one_connection(std::time::Duration::from_secs(5)).await;
    {
        let mut conn = db.pool().acquire().await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("INSERT INTO t (n) VALUES (1)").execute(&mut *tx).await.unwrap();
        // Dropped without commit (an error path returning early).
    }
    assert_eq!(count(&db).await, 0, "the next statement does not run inside the abandoned transaction");
    sqlx::query("INSERT INTO t (n) VALUES (2)").execute(db.pool()).await.unwrap();
    {
        let mut conn = db.pool().acquire().await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("INSERT INTO t (n) VALUES (3)").execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
    }
    let all: Vec<i64> = sqlx::query_scalar("SELECT n FROM t ORDER BY n").fetch_all(db.pool()).await.unwrap();
    assert_eq!(all, [2, 3]);
}

#[tokio::test]
async fn the_shared_connection_is_taken_by_turns_and_a_wait_times_out() {
    let (_dir, db) = one_connection(std::time::Duration::from_millis(300)).await;
    let held = db.pool().acquire().await.unwrap();
    let err = sqlx::query("SELECT 1").execute(db.pool()).await.expect_err("the connection is held");
    assert!(matches!(err, sqlx::Error::PoolTimedOut), "{err:?}");
    // Many tasks at once: each statement runs once, in turn, once the holder lets go.
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move {
                sqlx::query("INSERT INTO t (n) VALUES ($1)").bind(i64::from(i)).execute(db.pool()).await
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    drop(held);
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(count(&db).await, 20);
    db.close().await;
    let err = db.ping().await.expect_err("closed");
    assert!(matches!(err, DbError::Query(sqlx::Error::PoolClosed)), "{err:?}");
}
