//! The whole browser sign-in through the card bridge: headless Chromium with the unpacked
//! extension and the real `shikaku-bridge` host (registered by `shikaku-bridge install` in its
//! profile), a SoftHSM2 card, the idp on SQLite + memory. Each sample starts on the idp's
//! sign-in page of a fresh authorization request (cookies cleared, so the card is asked
//! again) and times: the card button clicked → the extension's PIN window open → the PIN
//! typed and Enter pressed → the callback page with the code → the client's token request
//! answered with an ID token. The browser and the idp run on the same 2 cores as the bench.
//!
//! `cargo bench -p bridge --bench signin [-- SAMPLES]` (default 30, RSA-2048 card, after 3
//! warm-up sign-ins) prints p50, p99 and the slowest sample. Needs what the browser tests
//! need (Debian `chromium`, `chromium-driver`, `softhsm2`).

#[path = "../../idp/tests/it/live.rs"]
#[expect(dead_code, reason = "the idp's test helpers, of which the bench uses a part")]
mod live;
#[path = "../../portal/tests/it/webdriver.rs"]
mod webdriver;

#[path = "../tests/browser/cdp.rs"]
#[expect(dead_code, reason = "the DevTools helpers of the browser tests, of which the bench uses a part")]
mod cdp;
#[path = "../tests/shared.rs"]
#[expect(dead_code, reason = "the sign-in parts the tests share, of which the bench uses a part")]
mod shared;
#[path = "../tests/browser/signin.rs"]
#[expect(dead_code, reason = "the browser tests' helpers, of which the bench uses a part")]
mod signin;
#[path = "../tests/system_host_lock.rs"]
mod system_host_lock;

use std::time::{Duration, Instant};

use storage::testing::TestEnv;

const WARM_UP: usize = 3;

fn main() {
    let samples: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(|a| a.parse().expect("SAMPLES must be a number"))
        .unwrap_or(30);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(bench(samples));
}

async fn bench(samples: usize) {
    // The sign-in limits off: the bench signs the same card in far more often than they allow.
    let off = idp::rate_limit::Limit::per(0, 60);
    let limits =
        idp::rate_limit::RateLimits { sign_in_per_ip: off, sign_in_per_account: off, ..Default::default() };
    let live = signin::live_with(TestEnv::sqlite_memory().await, limits).await;
    let card = signin::Card::new("doctor-auth", "doctor-sign");
    let (wd, _held) = signin::browser(&card, live.app.site.origin(), true).await;
    let mut times: Vec<Duration> = Vec::with_capacity(samples + WARM_UP);
    for _ in 0..samples + WARM_UP {
        // Signed out: no idp session cookie, so the sign-in page asks for the card again.
        wd.goto(&live.url("/healthz")).await;
        wd.command("DELETE", "/cookie", serde_json::Value::Null).await;
        let (url, verifier) = signin::authorize_url(&live);
        let page = wd.goto(&url).await;
        assert!(page.path().starts_with("/login?request="), "{page}");
        let button = wd.find("#card-login button[type=submit]").await;

        let start = Instant::now();
        wd.click(&button).await;
        let mut prompt = cdp::wait_for_page(wd.debugger_address(), &signin::prompt_url()).await;
        signin::enter_pin(&mut prompt, signin::PIN).await;
        let page = wd.wait_for("#callback").await;
        let query = format!("/?{}", wd.text_of(&page).await);
        let code = live::query_param(&query, "code").unwrap_or_else(|| panic!("no code: {query}"));
        signin::exchange_code(&live, &code, &verifier).await;
        times.push(start.elapsed());
    }
    times.drain(..WARM_UP);
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    println!(
        "doctor-auth (RSA-2048): Chromium card sign-in, click → PIN → ID token, {samples} samples: \
         p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        ms(at(0.50)),
        ms(at(0.99)),
        ms(*times.last().expect("samples")),
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
