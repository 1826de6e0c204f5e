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

/// A process-local store; entries expire lazily and are swept as the map grows.
#[derive(Debug, Default)]
pub struct MemoryKv {
    map: Mutex<Map>,
}

impl MemoryKv {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Map, Instant) -> T) -> T {
        // A panic while holding the lock cannot leave the map half-updated (every operation is
        // a single insert or remove), so a poisoned lock is still safe to use.
        let mut map = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut map, Instant::now())
    }
}

#[async_trait::async_trait]
impl Kv for MemoryKv {
    async fn put_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, KvError> {
        Ok(self.with(|map, now| {
            if map.live(key, now).is_some() {
                return false;
            }
            map.insert(key, value.to_vec(), now + ttl, now);
            true
        }))
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.with(|map, now| {
            map.live(key, now)?;
            map.entries.remove(key).map(|e| e.value)
        }))
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.with(|map, now| map.live(key, now).map(|e| e.value.clone())))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), KvError> {
        self.with(|map, now| map.insert(key, value.to_vec(), now + ttl, now));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool, KvError> {
        Ok(self.with(|map, now| map.live(key, now).is_some() && map.entries.remove(key).is_some()))
    }

    async fn incr_window(&self, key: &str, window: Duration) -> Result<Window, KvError> {
        Ok(self.with(|map, now| {
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

    fn backend(&self) -> &'static str {
        "memory"
    }
}

fn counter(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(0)
}
