//! Storage for shikaku: the SQL database (SQLite or PostgreSQL, chosen by URL) with its embedded
//! migrations, and the ephemeral key-value store (in memory or Redis, chosen by URL).
//!
//! SQL is portable runtime SQL run through sqlx's `Any` driver: `$1, $2` placeholders (SQLite
//! accepts them too), integers are `BIGINT`, times are Unix seconds, ids are `TEXT`, bytes are
//! `BLOB`/`BYTEA`. Every store test runs on both backends.

pub mod db;
pub mod kv;
pub mod pool;
#[cfg(feature = "testing")]
pub mod testing;

pub use db::{Backend, Db, DbError};
pub use kv::{Kv, KvError, MemoryKv, RedisKv, Window};
pub use pool::{DbConn, DbPool};
