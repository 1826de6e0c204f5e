//! Redis [`Kv`](super::Kv): one command (or one single-key script) per operation.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script};

use super::{Kv, KvError, Window};

/// Counts a hit and starts the window's expiry on the first one; returns {count, ms left}.
const INCR_WINDOW: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
";

/// A Redis-backed store. Reconnects by itself after Redis comes back.
#[derive(Clone)]
pub struct RedisKv {
    conn: ConnectionManager,
    prefix: String,
    incr_window: Script,
}

impl std::fmt::Debug for RedisKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisKv").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl RedisKv {
    /// Connects to `url` (failing if Redis does not answer now); `prefix` goes before every key.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, KvError> {
        let client = redis::Client::open(url).map_err(|e| KvError::Unavailable(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_with_config(client, config).await.map_err(unavailable)?;
        let kv = Self { conn, prefix: prefix.to_owned(), incr_window: Script::new(INCR_WINDOW) };
        kv.ping().await?;
        Ok(kv)
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

fn unavailable(e: RedisError) -> KvError {
    if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal() {
        KvError::Unavailable(e.to_string())
    } else {
        KvError::Protocol(e.to_string())
    }
}

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[async_trait::async_trait]
impl Kv for RedisKv {
    async fn put_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, KvError> {
        let reply: Option<String> = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(reply.is_some())
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        redis::cmd("GETDEL").arg(self.key(key)).query_async(&mut self.conn.clone()).await.map_err(unavailable)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        redis::cmd("GET").arg(self.key(key)).query_async(&mut self.conn.clone()).await.map_err(unavailable)
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), KvError> {
        redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(millis(ttl))
            .query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    async fn delete(&self, key: &str) -> Result<bool, KvError> {
        let n: u64 = redis::cmd("DEL")
            .arg(self.key(key))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(n > 0)
    }

    async fn incr_window(&self, key: &str, window: Duration) -> Result<Window, KvError> {
        let (count, ms): (u64, i64) = self
            .incr_window
            .key(self.key(key))
            .arg(millis(window))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        let resets_in = Duration::from_millis(u64::try_from(ms).unwrap_or(0));
        Ok(Window { count, resets_in })
    }

    async fn ping(&self) -> Result<(), KvError> {
        let pong: String =
            redis::cmd("PING").query_async(&mut self.conn.clone()).await.map_err(unavailable)?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(KvError::Protocol(format!("unexpected PING reply {pong:?}")))
        }
    }

    fn backend(&self) -> super::KvBackend {
        super::KvBackend::Redis
    }
}
