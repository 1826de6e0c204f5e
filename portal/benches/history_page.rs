//! Benchmark (not a test): the history page of a doctor with 5 000 attendance records on SQLite,
//! rendered through the router in-process (`oneshot`), as a browser asks for it. Prints the
//! latency percentiles of N requests (default 500) after a warm-up. Goal: p99 < 50 ms.
//!
//! `cargo bench -p portal --bench history_page [-- REQUESTS]` or `bench/history-page`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, header};
use http_body_util::BodyExt;
use keys::Clock;
use portal::credits::Units;
use portal::signin::{PortalSession, save_session, session_cookie};
use portal::store::attendance::{NewAttendance, Status, create_attendances};
use portal::store::doctors::{Doctor, create_doctors};
use portal::store::events::{Credit, Event, create_event};
use portal::store::links::create_confirmed_link;
use storage::testing::TestDb;
use time::{Date, Duration as Days, Month};
use tower::ServiceExt;
use web::Site;
use web::ops::Probes;

const RECORDS: usize = 5_000;
const EVENTS: usize = 500;
const NUMBER: &str = "123456";

fn main() {
    let requests: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(500);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(run(requests));
}

async fn seed(db: &storage::Db) {
    let mut conn = db.pool().acquire().await.expect("connection");
    let doctor = Doctor {
        registration_number: NUMBER.into(),
        name: Some("山田　太郎".into()),
        kana_name: "ヤマダ　タロウ".into(),
        birth_date: Date::from_calendar_date(1980, Month::May, 1).expect("date"),
        source: "registry".into(),
    };
    create_doctors(&mut conn, &[doctor], 0).await.expect("doctor");
    // 500 events over ten fiscal years (FY2017–FY2026), each granting two JMA codes and, one in
    // five, occupational-physician units too.
    let first = Date::from_calendar_date(2017, Month::April, 1).expect("date");
    let mut events = Vec::new();
    for i in 0..EVENTS {
        let on = first + Days::days(i64::try_from(i * 7).unwrap_or(0));
        let mut credits = vec![
            Credit { system_id: "jma_cme".into(), code: (i % 84).to_string(), units: Units(100) },
            Credit { system_id: "jma_cme".into(), code: ((i + 7) % 84).to_string(), units: Units(50) },
        ];
        if i % 5 == 0 {
            credits.push(Credit {
                system_id: "jma_sangyoui".into(),
                code: "life.renewal".into(),
                units: Units(100),
            });
        }
        let e = Event {
            id: format!("EV{i:04}"),
            title: format!("生涯教育講座 第{i}回"),
            organizer: "東京都医師会".into(),
            starts_on: on,
            ends_on: on,
            venue: Some("東京".into()),
            online: false,
            credits,
        };
        create_event(&mut conn, &e, 0).await.expect("event");
        events.push(e);
    }
    // 5 000 records: each event attended on ten days (sessions of a series), mostly confirmed.
    let records: Vec<NewAttendance> = (0..RECORDS)
        .map(|i| {
            let e = &events[i % EVENTS];
            NewAttendance {
                idempotency_key: format!("bench/{i}"),
                registration_number: NUMBER.into(),
                event_id: e.id.clone(),
                attended_on: e.starts_on + Days::days(i64::try_from(i / EVENTS).unwrap_or(0)),
                status: if i % 10 == 9 { Status::Provisional } else { Status::Confirmed },
                source: "bench".into(),
                credits: e.credits.clone(),
            }
        })
        .collect();
    assert_eq!(create_attendances(&mut conn, &records, 0).await.expect("records"), RECORDS as u64);
    drop(conn);
    create_confirmed_link(db, "bench-doctor", NUMBER, None, 0).await.expect("link");
}

/// CPU time (user + system) of this process so far, from `/proc/self/stat` (Linux; 0 elsewhere).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which ends with ')'): utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    let ticks = f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx]
}

async fn run(requests: usize) {
    let env =
        storage::testing::TestEnv { db: TestDb::sqlite().await, kv: Arc::new(storage::MemoryKv::new()) };
    seed(&env.db.db).await;
    let probes = Probes { db: env.db.db.clone(), kv: env.kv.clone(), metrics: web::metrics::recorder() };
    let config = portal::PortalConfig {
        public_url: "http://127.0.0.1:8081".into(),
        idp_url: "http://127.0.0.1:8080".into(),
        client_id: "portal".into(),
        client_secret: None,
        trusted_proxies: Vec::new(),
    };
    let today = Date::from_calendar_date(2026, Month::December, 1).expect("date");
    let templates = Arc::new(web::Templates::load().expect("templates"));
    let (master, _) = keys::MasterKey::generate();
    let signer = portal::documents::Signer::open(env.db.db.clone(), master, &config.public_url, 0)
        .await
        .expect("document signer");
    let documents = portal::documents::routes::DocumentService::new(
        signer,
        portal::documents::pdf::DEFAULT_FONT_PATH.into(),
    );
    let router = portal::build(config, probes, templates, documents, Clock::on_day(today));
    let session = PortalSession {
        sid: "bench-session".into(),
        sub: "bench-doctor".into(),
        name: Some("山田　太郎".into()),
        hc_roles: vec!["Medical Doctor".into()],
        roles: vec![],
        medical_registration_number: None,
        card: None,
        id_token: String::new(),
    };
    save_session(env.kv.as_ref(), &session).await.expect("session");
    let cookie = session_cookie(&Site::new("portal", "http://127.0.0.1:8081"), &session.sid);

    for (label, uri) in
        [("all records (500 listed)", "/history"), ("filtered to FY2024", "/history?year=2024")]
    {
        let mut times = Vec::with_capacity(requests);
        let mut bytes = 0;
        let mut cpu_start = cpu_time();
        for i in 0..requests + 20 {
            if i == 20 {
                cpu_start = cpu_time();
            }
            let req = Request::get(uri).header(header::COOKIE, &cookie).body(Body::empty()).expect("request");
            let start = Instant::now();
            let res = router.clone().oneshot(req).await.expect("response");
            assert_eq!(res.status(), 200);
            let body = res.into_body().collect().await.expect("body").to_bytes();
            let took = start.elapsed();
            bytes = body.len();
            if i >= 20 {
                times.push(took);
            }
        }
        let cpu = cpu_time().saturating_sub(cpu_start);
        times.sort_unstable();
        println!(
            "history page, {RECORDS} records, {label}: {requests} requests, p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms, CPU {:.1} ms/request, {} KiB",
            percentile(&times, 0.50).as_secs_f64() * 1e3,
            percentile(&times, 0.90).as_secs_f64() * 1e3,
            percentile(&times, 0.99).as_secs_f64() * 1e3,
            times.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
            cpu.as_secs_f64() * 1e3 / requests as f64,
            bytes / 1024,
        );
    }
}
