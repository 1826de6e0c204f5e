//! One contract suite for every `Kv` implementation: in memory always, Redis when configured.

use std::sync::Arc;
use std::time::Duration;

use storage::kv::{self, Kv, KvError, MemoryKv};
use storage::testing::{self, OwnRedis};
use tokio::sync::Barrier;

macro_rules! contract {
    ($($name:ident),+ $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(std::sync::Arc::new(storage::MemoryKv::new())).await;
                }
            )+
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(kv) = super::redis().await {
                        super::$name(kv).await;
                    }
                }
            )+
        }
    };
}

contract!(
    put_if_absent_stores_once,
    take_returns_the_value_once,
    set_get_delete,
    entries_expire,
    incr_window_counts_and_resets,
    concurrent_take_has_one_winner,
    concurrent_put_if_absent_has_one_winner,
    concurrent_incr_counts_every_hit,
);

async fn redis() -> Option<Arc<dyn Kv>> {
    let url = testing::redis_url()?;
    Some(kv::connect(Some(&url), &testing::unique_prefix()).await.expect("redis"))
}

const LONG: Duration = Duration::from_secs(60);

async fn put_if_absent_stores_once(kv: Arc<dyn Kv>) {
    assert!(kv.put_if_absent("a", b"first", LONG).await.unwrap());
    assert!(!kv.put_if_absent("a", b"second", LONG).await.unwrap());
    assert_eq!(kv.get("a").await.unwrap().as_deref(), Some(&b"first"[..]));
}

async fn take_returns_the_value_once(kv: Arc<dyn Kv>) {
    kv.set("t", b"v", LONG).await.unwrap();
    assert_eq!(kv.take("t").await.unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(kv.take("t").await.unwrap(), None);
    assert_eq!(kv.get("t").await.unwrap(), None);
    assert_eq!(kv.take("never-set").await.unwrap(), None);
}

async fn set_get_delete(kv: Arc<dyn Kv>) {
    assert_eq!(kv.get("k").await.unwrap(), None);
    kv.set("k", b"1", LONG).await.unwrap();
    kv.set("k", &[0, 255, 7], LONG).await.unwrap();
    assert_eq!(kv.get("k").await.unwrap(), Some(vec![0, 255, 7]));
    assert!(kv.delete("k").await.unwrap());
    assert!(!kv.delete("k").await.unwrap());
    assert_eq!(kv.get("k").await.unwrap(), None);
}

async fn entries_expire(kv: Arc<dyn Kv>) {
    let short = Duration::from_millis(150);
    kv.set("s", b"v", short).await.unwrap();
    assert!(kv.put_if_absent("p", b"v", short).await.unwrap());
    kv.set("long", b"v", LONG).await.unwrap();
    assert!(kv.get("s").await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(kv.get("s").await.unwrap(), None);
    assert_eq!(kv.take("s").await.unwrap(), None);
    assert!(!kv.delete("s").await.unwrap());
    assert!(kv.put_if_absent("p", b"again", short).await.unwrap(), "expired key is absent");
    assert!(kv.get("long").await.unwrap().is_some());
}

async fn incr_window_counts_and_resets(kv: Arc<dyn Kv>) {
    let window = Duration::from_millis(300);
    let first = kv.incr_window("w", window).await.unwrap();
    assert_eq!(first.count, 1);
    assert!(first.resets_in <= window && first.resets_in > Duration::ZERO, "{first:?}");
    assert_eq!(kv.incr_window("w", window).await.unwrap().count, 2);
    let third = kv.incr_window("w", window).await.unwrap();
    assert_eq!(third.count, 3);
    assert!(third.resets_in <= first.resets_in, "the window does not slide: {third:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(kv.incr_window("w", window).await.unwrap().count, 1, "a new window starts");
}

async fn concurrent_take_has_one_winner(kv: Arc<dyn Kv>) {
    const TAKERS: usize = 64;
    for round in 0..1000 {
        let key = format!("race:{round}");
        kv.set(&key, b"prize", LONG).await.unwrap();
        let barrier = Arc::new(Barrier::new(TAKERS));
        let takers: Vec<_> = (0..TAKERS)
            .map(|_| {
                let (kv, key, barrier) = (kv.clone(), key.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    kv.take(&key).await.unwrap()
                })
            })
            .collect();
        let mut winners = 0;
        for t in takers {
            if let Some(v) = t.await.unwrap() {
                assert_eq!(v, b"prize");
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "round {round}");
    }
}

async fn concurrent_put_if_absent_has_one_winner(kv: Arc<dyn Kv>) {
    for round in 0..200 {
        let key = format!("nx:{round}");
        let barrier = Arc::new(Barrier::new(32));
        let tasks: Vec<_> = (0..32u8)
            .map(|i| {
                let (kv, key, barrier) = (kv.clone(), key.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    kv.put_if_absent(&key, &[i], LONG).await.unwrap().then_some(i)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for t in tasks {
            winners.extend(t.await.unwrap());
        }
        assert_eq!(winners.len(), 1, "round {round}");
        assert_eq!(kv.get(&key).await.unwrap(), Some(vec![winners[0]]));
    }
}

async fn concurrent_incr_counts_every_hit(kv: Arc<dyn Kv>) {
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let kv = kv.clone();
            tokio::spawn(async move { kv.incr_window("hits", LONG).await.unwrap().count })
        })
        .collect();
    let mut counts = Vec::new();
    for t in tasks {
        counts.push(t.await.unwrap());
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=100).collect::<Vec<u64>>());
}

async fn wait_until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..100 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_is_an_error_and_recovers() {
    let Some(server) = OwnRedis::start().await else { return };
    let port = server.port();
    let kv = kv::connect(Some(&server.url()), "outage:").await.expect("redis");
    kv.set("k", b"v", LONG).await.unwrap();

    server.stop();
    let err = kv.get("k").await.expect_err("redis is down");
    assert!(matches!(err, KvError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().starts_with("key-value store unavailable: "), "{err}");
    assert!(kv.ping().await.is_err());
    assert!(kv.put_if_absent("x", b"v", LONG).await.is_err());

    let _server = OwnRedis::start_on(port).await;
    wait_until("redis answers again", || async { kv.ping().await.is_ok() }).await;
    assert!(kv.put_if_absent("x", b"v", LONG).await.unwrap(), "a fresh server has no keys");
}

#[tokio::test]
async fn unreachable_redis_is_a_clear_error() {
    let url = format!("redis://127.0.0.1:{}", testing::free_port());
    let err = kv::connect(Some(&url), "").await.expect_err("nothing listens there");
    assert!(matches!(err, KvError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn memory_is_the_default() {
    let kv = kv::connect(None, "").await.unwrap();
    assert_eq!(kv.backend(), kv::KvBackend::Memory);
    let _: &MemoryKv = &MemoryKv::new();
}
