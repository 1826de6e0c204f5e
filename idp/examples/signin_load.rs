//! Load generator (a benchmark, not a test) for the full card sign-in round trip, as a browser and
//! a relying party do it: `GET /authorize` → `GET /login` → `GET /login/card/challenge` → the
//! card signs (a P-256 test card, Web eID token) → `POST /login/card` → `GET /authorize/resume`
//! → the redirect with the code → `POST /token` (code + PKCE S256). Every round trip uses a fresh
//! browser (no idp session), so each one is a real card sign-in.
//!
//! The cards are P-256 end entities issued for this run under the MEDIS-like authentication CA
//! of the test PKI of `--seed`: the server must trust that PKI (`shikaku hpki testpki DIR --seed
//! N`, `shikaku admin ca add DIR/ca-*.pem`, `shikaku admin crl add DIR/crl-*.crl`) and know the
//! client (authorization_code, `--skip-consent`, redirect URI `--redirect`). `bench/signin-load`
//! does all of that.
//!
//! Usage: `signin_load --base URL --client-id ID --client-secret SECRET [--redirect URI]
//! [--seed N] [--cards N] [--concurrency N] [--seconds N]`. Prints one JSON line.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hpki::testpki::{CertSpec, KeyKind, TestKey, TestPki, VirtualCard, issue, name};
use hpki::token::Algorithm;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use sha2::Digest;

#[derive(Debug, Clone)]
struct Args {
    base: String,
    client_id: String,
    client_secret: String,
    redirect: String,
    seed: u64,
    cards: usize,
    concurrency: usize,
    seconds: u64,
}

fn args() -> Result<Args, String> {
    let mut map = HashMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let k = k.strip_prefix("--").ok_or_else(|| format!("unexpected argument {k}"))?.to_owned();
        let v = it.next().ok_or_else(|| format!("--{k} needs a value"))?;
        map.insert(k, v);
    }
    let get = |k: &str| map.get(k).cloned();
    let num = |k: &str, d: u64| -> Result<u64, String> {
        get(k).map_or(Ok(d), |v| v.parse().map_err(|_| format!("--{k} must be a number")))
    };
    Ok(Args {
        base: get("base").ok_or("--base is required")?,
        client_id: get("client-id").ok_or("--client-id is required")?,
        client_secret: get("client-secret").ok_or("--client-secret is required")?,
        redirect: get("redirect").unwrap_or_else(|| "https://rp.example.jp/cb".into()),
        seed: num("seed", 7)?,
        cards: num("cards", 64)? as usize,
        concurrency: num("concurrency", 32)? as usize,
        seconds: num("seconds", 10)?,
    })
}

/// `count` P-256 authentication cards under the MEDIS-like CA of the test PKI.
fn cards(seed: u64, count: usize) -> Result<Vec<VirtualCard>, String> {
    let pki = TestPki::generate(seed)?;
    (0..count)
        .map(|i| {
            let key = TestKey::generate(KeyKind::P256, seed, &format!("load-{i}"))?;
            let cn = format!("Load Doctor {i}");
            let subscriber = format!("LOAD{i:06}");
            let subject = name(&[("C", "JP"), ("CN", &cn), ("serialNumber", &subscriber)]);
            let mut spec = CertSpec::end_entity(subject, 0x20_0000 + i as u64, "Medical Doctor", false);
            spec.kanji = Some((None, format!("負荷　{i}")));
            let issued = issue(&spec, &key, Some(&pki.medis_auth))?;
            Ok(VirtualCard { certificate: issued.der, key: issued.key })
        })
        .collect()
}

/// The cookies of one browser, sent back by hand (the HTTP client is shared for its connections).
#[derive(Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    fn take(&mut self, res: &reqwest::Response) {
        for v in res.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()) {
            let pair = v.split(';').next().unwrap_or("");
            if let Some((k, val)) = pair.split_once('=') {
                self.0.retain(|(n, _)| n != k);
                self.0.push((k.trim().to_owned(), val.trim().to_owned()));
            }
        }
    }

    fn header(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }
}

fn location(res: &reqwest::Response) -> Result<String, String> {
    res.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| format!("no Location on {}", res.status()))
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Steps of a round trip, for the time breakdown.
const STEPS: [&str; 7] =
    ["authorize", "login_page", "challenge", "card_sign", "login_card", "resume", "token"];

struct Run<'a> {
    http: &'a reqwest::Client,
    args: &'a Args,
    origin: &'a str,
}

impl Run<'_> {
    async fn round_trip(&self, card: &VirtualCard, steps: &mut [Duration; 7]) -> Result<(), String> {
        let e = |s: reqwest::Error| s.to_string();
        let base = &self.args.base;
        let mut jar = Jar::default();
        let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("response_type", "code"),
                ("client_id", &self.args.client_id),
                ("redirect_uri", &self.args.redirect),
                ("scope", "openid profile"),
                ("state", "load"),
                ("nonce", "n-load"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ])
            .finish();
        let t = Instant::now();
        let res = self.http.get(format!("{base}/authorize?{query}")).send().await.map_err(e)?;
        jar.take(&res);
        let login = location(&res)?;
        if !login.starts_with("/login") {
            return Err(format!("authorize led to {login}"));
        }
        steps[0] += t.elapsed();

        let t = Instant::now();
        let res =
            self.http.get(format!("{base}{login}")).header(COOKIE, jar.header()).send().await.map_err(e)?;
        jar.take(&res);
        let html = res.text().await.map_err(e)?;
        let start =
            html.find("name=\"csrf-token\" content=\"").ok_or("no CSRF token on the sign-in page")? + 27;
        let csrf = html.get(start..start + 43).ok_or("short CSRF token")?.to_owned();
        steps[1] += t.elapsed();

        let t = Instant::now();
        let res = self
            .http
            .get(format!("{base}/login/card/challenge"))
            .header(COOKIE, jar.header())
            .send()
            .await
            .map_err(e)?;
        jar.take(&res);
        let body: serde_json::Value = res.json().await.map_err(e)?;
        let nonce = body["nonce"].as_str().ok_or("no nonce")?.to_owned();
        steps[2] += t.elapsed();

        let t = Instant::now();
        let token = card.token_value(self.origin, &nonce, Algorithm::ES256)?;
        steps[3] += t.elapsed();

        let t = Instant::now();
        let res = self
            .http
            .post(format!("{base}/login/card"))
            .header(COOKIE, jar.header())
            .header("x-csrf-token", csrf)
            .header("origin", self.origin)
            .json(&serde_json::json!({ "auth_token": token, "request": query_param(&login, "request") }))
            .send()
            .await
            .map_err(e)?;
        jar.take(&res);
        let status = res.status();
        let body: serde_json::Value = res.json().await.map_err(e)?;
        if status != 200 {
            return Err(format!("POST /login/card: {status} {body}"));
        }
        let next = body["next"].as_str().ok_or("no next")?.to_owned();
        steps[4] += t.elapsed();

        let t = Instant::now();
        let res =
            self.http.get(format!("{base}{next}")).header(COOKIE, jar.header()).send().await.map_err(e)?;
        let back = location(&res)?;
        let code = query_param(&back, "code").ok_or_else(|| format!("no code in {back}"))?;
        steps[5] += t.elapsed();

        let t = Instant::now();
        let res = self
            .http
            .post(format!("{base}/token"))
            .basic_auth(&self.args.client_id, Some(&self.args.client_secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &self.args.redirect),
                ("code_verifier", &verifier),
            ])
            .send()
            .await
            .map_err(e)?;
        let status = res.status();
        let body: serde_json::Value = res.json().await.map_err(e)?;
        if status != 200 || body["id_token"].as_str().is_none() {
            return Err(format!("POST /token: {status} {body}"));
        }
        steps[6] += t.elapsed();
        Ok(())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    let args = Arc::new(args()?);
    let origin = {
        let rest = args.base.split_once("://").map_or("", |(_, r)| r);
        let host = rest.split('/').next().unwrap_or("");
        format!("{}://{host}", args.base.split("://").next().unwrap_or("http"))
    };
    let cards = Arc::new(cards(args.seed, args.cards)?);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(args.concurrency * 2)
        .build()
        .map_err(|e| e.to_string())?;
    // One warm-up round trip per card (creates the accounts; not counted).
    {
        let run = Run { http: &http, args: &args, origin: &origin };
        let mut steps = [Duration::ZERO; 7];
        for card in cards.iter() {
            run.round_trip(card, &mut steps).await?;
        }
    }
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for w in 0..args.concurrency {
        let (http, args, origin, cards, errors) =
            (http.clone(), args.clone(), origin.clone(), cards.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let run = Run { http: &http, args: &args, origin: &origin };
            let mut latencies = Vec::new();
            let mut steps = [Duration::ZERO; 7];
            let mut first_error = None;
            let mut i = w;
            while Instant::now() < deadline {
                let card = &cards[i % cards.len()];
                i += args.concurrency;
                let t = Instant::now();
                match run.round_trip(card, &mut steps).await {
                    Ok(()) => latencies.push(t.elapsed()),
                    Err(e) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        first_error.get_or_insert(e);
                    }
                }
            }
            (latencies, steps, first_error)
        }));
    }
    let mut latencies = Vec::new();
    let mut steps = [Duration::ZERO; 7];
    let mut first_error = None;
    for t in tasks {
        let (l, s, e) = t.await.map_err(|e| e.to_string())?;
        latencies.extend(l);
        for (a, b) in steps.iter_mut().zip(s) {
            *a += b;
        }
        if first_error.is_none() {
            first_error = e;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let n = latencies.len().max(1) as f64;
    let breakdown: serde_json::Map<String, serde_json::Value> = STEPS
        .iter()
        .zip(steps)
        .map(|(name, d)| {
            ((*name).to_owned(), serde_json::json!((d.as_secs_f64() * 1000.0 / n * 1000.0).round() / 1000.0))
        })
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "round_trips": latencies.len(),
            "seconds": (elapsed * 100.0).round() / 100.0,
            "per_second": (latencies.len() as f64 / elapsed).round(),
            "p50_ms": (percentile(&latencies, 0.50) * 100.0).round() / 100.0,
            "p99_ms": (percentile(&latencies, 0.99) * 100.0).round() / 100.0,
            "errors": errors.load(Ordering::Relaxed),
            "first_error": first_error,
            "mean_ms_per_step": breakdown,
        })
    );
    Ok(())
}
