//! The ephemeral key-value store: login challenges, codes, sessions, rate-limit windows.
//!
//! Every operation touches one key, so the Redis implementation holds on Redis Cluster.
//! Every entry has a time to live; nothing here is durable.

mod memory;
mod redis;

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

pub use self::memory::{MemoryKv, SHARDS as MEMORY_SHARDS};
pub use self::redis::RedisKv;

/// Errors from the key-value store. The in-memory store never fails.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// The store could not be reached or did not answer in time.
    #[error("key-value store unavailable: {0}")]
    Unavailable(String),
    /// The store answered something this code does not understand.
    #[error("key-value store protocol error: {0}")]
    Protocol(String),
}

/// The state of a rate-limit window after one [`Kv::incr_window`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Hits counted in the current window, this one included.
    pub count: u64,
    /// Time until the window closes and the count starts again.
    pub resets_in: Duration,
}

/// A key-value store with per-entry time to live and single-key atomic operations.
#[async_trait::async_trait]
pub trait Kv: Send + Sync + Debug {
    /// Stores `value` under `key` only if the key is absent; true when stored.
    async fn put_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, KvError>;
    /// Reads and deletes `key` atomically: of many concurrent takers exactly one gets the value.
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    /// Reads `key`.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    /// Stores `value` under `key`, replacing any value and its time to live.
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), KvError>;
    /// Deletes `key`; true when it existed.
    async fn delete(&self, key: &str) -> Result<bool, KvError>;
    /// Counts one hit in the fixed window `key`, which opens at its first hit and lasts `window`.
    async fn incr_window(&self, key: &str, window: Duration) -> Result<Window, KvError>;
    /// Checks that the store answers.
    async fn ping(&self) -> Result<(), KvError>;
    /// Which implementation this is.
    fn backend(&self) -> KvBackend;
}

/// The implementations of [`Kv`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvBackend {
    /// In this process's memory: one process only (`serve` on one machine).
    Memory,
    /// Redis: shared by every node.
    Redis,
}

impl KvBackend {
    /// Short name (`memory`, `redis`), as `/readyz` reports it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Redis => "redis",
        }
    }
}

/// A value for the store as JSON bytes. Only for our own plain records (structs of strings,
/// numbers, options and lists), whose serialization cannot fail; an empty value is stored if
/// it ever did, which every reader refuses as not parseable.
pub fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// Opens the store named by `url`: `None` for in memory, `redis://…` or `rediss://…` for Redis.
///
/// `prefix` is put in front of every key, so that several deployments (or tests) can share one
/// Redis.
pub async fn connect(url: Option<&str>, prefix: &str) -> Result<Arc<dyn Kv>, KvError> {
    match url {
        None => Ok(Arc::new(MemoryKv::new())),
        Some(url) => Ok(Arc::new(RedisKv::connect(url, prefix).await?)),
    }
}
