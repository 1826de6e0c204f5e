//! In-memory [`Kv`](super::Kv) for a single process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Kv, KvError, Window};

#[derive(Debug)]
struct Entry {
    value: Vec<u8>,
    expires: Instant,
}

#[derive(Debug, Default)]
struct Map {
    entries: HashMap<String, Entry>,
    /// Size after the last sweep of expired entries; the next sweep runs at twice that.
    swept_at_len: usize,
}

impl Map {
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut Entry> {
        if self.entries.get(key).is_some_and(|e| e.expires <= now) {
            self.entries.remove(key);
        }
        self.entries.get_mut(key)
    }

    fn insert(&mut self, key: &str, value: Vec<u8>, expires: Instant, now: Instant) {
        self.entries.insert(key.to_owned(), Entry { value, expires });
        if self.entries.len() >= (self.swept_at_len * 2).max(1024) {
            self.entries.retain(|_, e| e.expires > now);
            self.swept_at_len = self.entries.len();
        }
    }
}

/// Number of independently locked parts of a [`MemoryKv`].
pub const SHARDS: usize = 32;

/// A process-local store; entries expire lazily and are swept as the map grows.
///
/// The keys are spread over [`SHARDS`](super::MEMORY_SHARDS) maps, each with its own lock: a sweep or a growth of the
/// table rehashes one part, not every entry at once (with many live access tokens that pause
/// showed in the token endpoint's slowest answers), and callers of different keys rarely wait
/// for one another.
#[derive(Debug)]
pub struct MemoryKv {
    shards: Box<[Mutex<Map>]>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for MemoryKv {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Map::default())).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }
}

impl MemoryKv {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, key: &str, f: impl FnOnce(&mut Map, Instant) -> T) -> T {
        use std::hash::BuildHasher;
        let shard = (self.hasher.hash_one(key) % SHARDS as u64) as usize;
        // A panic while holding the lock cannot leave the map half-updated (every operation is
        // a single insert or remove), so a poisoned lock is still safe to use.
        let mut map = self.shards[shard].lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut map, Instant::now())
    }
}

#[async_trait::async_trait]
impl Kv for MemoryKv {
    async fn put_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, KvError> {
        Ok(self.with(key, |map, now| {
            if map.live(key, now).is_some() {
                return false;
            }
            map.insert(key, value.to_vec(), now + ttl, now);
            true
        }))
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.with(key, |map, now| {
            map.live(key, now)?;
            map.entries.remove(key).map(|e| e.value)
        }))
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.with(key, |map, now| map.live(key, now).map(|e| e.value.clone())))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), KvError> {
        self.with(key, |map, now| map.insert(key, value.to_vec(), now + ttl, now));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool, KvError> {
        Ok(self.with(key, |map, now| map.live(key, now).is_some() && map.entries.remove(key).is_some()))
    }

    async fn incr_window(&self, key: &str, window: Duration) -> Result<Window, KvError> {
        Ok(self.with(key, |map, now| {
            if let Some(entry) = map.live(key, now) {
                let count = counter(&entry.value) + 1;
                entry.value = count.to_be_bytes().to_vec();
                return Window { count, resets_in: entry.expires - now };
            }
            map.insert(key, 1u64.to_be_bytes().to_vec(), now + window, now);
            Window { count: 1, resets_in: window }
        }))
    }

    async fn ping(&self) -> Result<(), KvError> {
        Ok(())
    }

    fn backend(&self) -> super::KvBackend {
        super::KvBackend::Memory
    }
}

fn counter(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn len(kv: &MemoryKv) -> usize {
        kv.shards.iter().map(|m| m.lock().map_or(0, |m| m.entries.len())).sum()
    }

    #[tokio::test]
    async fn expired_entries_are_swept_as_the_store_grows() {
        let kv = MemoryKv::new();
        for i in 0..20_000 {
            kv.set(&format!("short:{i}"), b"x", Duration::from_millis(1)).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        for i in 0..80_000 {
            kv.set(&format!("long:{i}"), b"x", Duration::from_secs(60)).await.unwrap();
        }
        // Every short entry has expired; the sweeps that growth set off dropped (nearly) all.
        let held = len(&kv);
        assert!(held < 80_000 + 2_000, "{held} entries held");
        assert_eq!(kv.get("long:79999").await.unwrap().as_deref(), Some(&b"x"[..]));
        assert_eq!(kv.get("short:0").await.unwrap(), None);
    }
}
