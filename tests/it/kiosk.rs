//! The venue kiosk end to end, with real parts only: `shikaku demo` serves the idp and the
//! portal; headless Chromium loads the card bridge extension with the real `shikaku-bridge`
//! host registered in its profile (the portal's origin allowed to read certificates); the card
//! reader is SoftHSM2, into which the test puts a demo card (the demo's test PKI) and takes it
//! out again, as a doctor holds a card to the reader. The organizer signs in with the demo's
//! virtual card, registers today's event with the form, opens the kiosk and presses start; the
//! page does the rest. The server is stopped mid-event and started again: the taps made
//! meanwhile wait in the browser and are recorded once each when the kiosk is back.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use hpki::testpki::TestPki;

#[path = "../../bridge/tests/pinpad_module.rs"]
#[expect(dead_code, reason = "the bridge tests' build helper; the PIN-pad module itself is not used here")]
mod pinpad_module;
#[path = "../../bridge/tests/system_host_lock.rs"]
mod system_host_lock;

use crate::Workdir;
use crate::webdriver::WebDriver;

/// The demo's test-PKI seed (`src/demo.rs`).
const DEMO_SEED: u64 = 2026;
pub(crate) const PIN: &str = "1234";

/// The `shikaku-bridge` host, built once per test process into this test's target folder.
fn host() -> &'static Path {
    static HOST: OnceLock<PathBuf> = OnceLock::new();
    HOST.get_or_init(|| {
        let path =
            pinpad_module::cargo_build(&["-p", "bridge", "--bin", "shikaku-bridge"]).join("shikaku-bridge");
        assert!(path.is_file(), "no {}", path.display());
        path
    })
}

/// The card reader: a SoftHSM2 token folder that holds the card being held to it, or none.
pub(crate) struct Reader {
    dir: tempfile::TempDir,
    conf: PathBuf,
    pki: TestPki,
}

impl Reader {
    pub(crate) async fn new() -> Reader {
        let pki = tokio::task::spawn_blocking(|| TestPki::generate(DEMO_SEED)).await.unwrap().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::create_dir_all(dir.path().join("tokens")).unwrap();
        let text = format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir.path().join("tokens").display()
        );
        std::fs::write(&conf, text).unwrap();
        Reader { dir, conf, pki }
    }

    /// A doctor holds the card `name` (the authentication application of a demo card) to it.
    pub(crate) fn hold(&self, name: &str) {
        let card = self.pki.card(name).unwrap();
        let job = bridge::softhsm::Job {
            label: "HPKI CARD".into(),
            so_pin: bridge::softhsm::SO_PIN.into(),
            pin: PIN.into(),
            objects: bridge::softhsm::templates(&[(card.issued.der.as_slice(), &card.issued.key)]).unwrap(),
        };
        bridge::softhsm::run_helper(host(), &self.conf, &job).unwrap();
    }

    /// The card is taken away.
    pub(crate) fn take_away(&self) {
        for entry in std::fs::read_dir(self.dir.path().join("tokens")).unwrap() {
            std::fs::remove_dir_all(entry.unwrap().path()).unwrap();
        }
    }
}

/// Chromium with the extension and the host, which may read certificates for `origin`.
pub(crate) async fn kiosk_browser(
    reader: &Reader,
    origin: &str,
) -> (WebDriver, tempfile::TempDir, std::fs::File) {
    let system_host = tokio::task::spawn_blocking(|| system_host_lock::hold(false)).await.unwrap();
    let config_dir = tempfile::tempdir().unwrap();
    let config = config_dir.path().join("config.toml");
    let ext = Path::new(env!("CARGO_MANIFEST_DIR")).join("bridge/extension");
    let args = [
        format!("--load-extension={}", ext.display()),
        format!("--disable-extensions-except={}", ext.display()),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env = [
        ("SOFTHSM2_CONF", reader.conf.to_str().unwrap()),
        ("SHIKAKU_BRIDGE_CONFIG", config.to_str().unwrap()),
    ];
    let wd = WebDriver::launch(&args, &env, |user_data| {
        let out = Command::new(host())
            .args(["install", "--browser", "chromium", "--user-data-dir"])
            .arg(user_data)
            .arg("--config")
            .arg(&config)
            .args(["--module", bridge::softhsm::MODULE, "--allow-origin", origin])
            .output()
            .unwrap();
        assert!(out.status.success(), "install: {}", String::from_utf8_lossy(&out.stderr));
    })
    .await;
    (wd, config_dir, system_host)
}

/// Signs the organizer (the demo's hospital director) in to the portal with the virtual card.
async fn organizer_signs_in(wd: &WebDriver, portal: &str) {
    let page = wd.goto(&format!("{portal}/login")).await;
    assert!(page.url.contains("/login?request="), "{page}");
    let card = "form[action='/login/virtual-card']:has(input[name=card][value=director-auth]) button";
    let page = wd.submit(card).await;
    page.assert_not_error();
    assert_eq!(page.url, format!("{portal}/"), "{page}");
}

/// Waits until the kiosk has shown its `n`-th result; returns (data-last, the panel's text).
async fn result(wd: &WebDriver, n: u32) -> (String, String) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let shown = wd.execute("return document.getElementById('kiosk').dataset.shown || '0';", vec![]).await;
        if shown.as_str().and_then(|s| s.parse::<u32>().ok()).is_some_and(|s| s >= n) {
            let last = wd.execute("return document.getElementById('kiosk').dataset.last;", vec![]).await;
            let text = wd.execute("return document.getElementById('kiosk-panel').innerText;", vec![]).await;
            return (last.as_str().unwrap_or("").to_owned(), text.as_str().unwrap_or("").to_owned());
        }
        assert!(tokio::time::Instant::now() < deadline, "no result {n}: {}", wd.page().await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the kiosk's queue holds `n` taps.
async fn waiting(wd: &WebDriver, n: u32) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let w = wd.execute("return document.getElementById('kiosk').dataset.waiting || '0';", vec![]).await;
        if w.as_str() == Some(n.to_string().as_str()) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "queue is not {n}: {w} {}", wd.page().await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Holds `card` to the reader until the kiosk shows result `n`, then takes it away.
async fn tap(wd: &WebDriver, reader: &Reader, card: &str, n: u32) -> (String, String) {
    reader.hold(card);
    let shown = result(wd, n).await;
    reader.take_away();
    // The kiosk has seen the reader empty before the next card comes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let card = wd.execute("return document.getElementById('kiosk').dataset.card || '';", vec![]).await;
        if card.as_str().is_some_and(|c| c != "present") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the kiosk still sees a card");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shown
}

async fn open_kiosk(wd: &WebDriver, portal: &str) {
    let page = wd.goto(&format!("{portal}/organizer/events/KIOSK-1?lang=ja")).await;
    page.assert_not_error();
    let page = wd.click_to_next_page("#kiosk-link").await;
    page.assert_not_error();
    page.assert_text("受付を開始する");
    let start = wd.find("#kiosk-start button[type=submit]").await;
    wd.click(&start).await;
    wd.wait_for("#kiosk[data-started='1']").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organizer_runs_the_kiosk_through_a_server_outage() {
    let (idp_port, portal_port) = (storage::testing::free_port(), storage::testing::free_port());
    let w = Workdir::new();
    let server = w.start_on(&["demo"], idp_port, portal_port).await;
    let portal = server.portal("");
    let reader = Reader::new().await;
    let (wd, _config, _lock) = kiosk_browser(&reader, &portal).await;
    organizer_signs_in(&wd, &portal).await;

    // Today's event, registered with the form.
    let today = time::OffsetDateTime::now_utc().to_offset(keys::clock::JST).date().to_string();
    wd.goto(&format!("{portal}/organizer/events/new?lang=ja")).await.assert_not_error();
    wd.fill("#id", "KIOSK-1").await;
    wd.fill("#title", "会場受付の講習会").await;
    wd.fill("#organizer", "資格医師会").await;
    let set_dates = format!(
        "document.getElementById('starts_on').value = '{today}'; document.getElementById('ends_on').value = '{today}';"
    );
    wd.execute(&set_dates, vec![]).await;
    wd.fill("#venue", "資格会館 大ホール").await;
    wd.fill("#credits", "jma_cme:76=1").await;
    let page = wd.submit("form[action='/organizer/events/new'] button[type=submit]").await;
    page.assert_not_error();
    page.assert_text("会場受付の講習会");

    open_kiosk(&wd, &portal).await;
    let (last, text) = tap(&wd, &reader, "doctor-auth", 1).await;
    assert_eq!(last, "check_in", "{text}");
    assert!(text.contains("日本　太郎") && text.contains("受付しました"), "{text}");

    // Held again at once: a repeat, nothing changes.
    let (last, text) = tap(&wd, &reader, "doctor-auth", 2).await;
    assert_eq!(last, "repeat", "{text}");
    assert!(text.contains("受付済みです"), "{text}");

    // Three minutes later by the kiosk's clock: the check-out.
    wd.execute("const real = Date.now; Date.now = () => real() + 180000;", vec![]).await;
    let (last, text) = tap(&wd, &reader, "doctor-auth", 3).await;
    assert_eq!(last, "check_out", "{text}");
    assert!(text.contains("退場を記録しました"), "{text}");

    // A genuine card the registry does not link yet; a revoked card.
    let (last, text) = tap(&wd, &reader, "director-auth", 4).await;
    assert_eq!(last, "unlinked", "{text}");
    assert!(text.contains("資格　一郎") && text.contains("医籍登録番号の確認後"), "{text}");
    let (last, text) = tap(&wd, &reader, "revoked-doctor-auth", 5).await;
    assert_eq!(last, "cert_revoked", "{text}");
    assert!(text.contains("失効しています"), "{text}");

    // The server goes down mid-event. The kiosk page opens again from its service worker (a
    // reload, as after a restarted browser), keeps reading cards and counts what waits.
    wd.wait_for("#kiosk[data-offline-ready='1']").await;
    assert_eq!(server.terminate(), Some(0));
    let page = wd.goto(&format!("{portal}/organizer/events/KIOSK-1/kiosk?lang=ja")).await;
    page.assert_text("受付を開始する");
    let start = wd.find("#kiosk-start button[type=submit]").await;
    wd.click(&start).await;
    wd.wait_for("#kiosk[data-started='1']").await;
    let (last, text) = tap(&wd, &reader, "doctor-auth-p384", 1).await;
    assert_eq!(last, "queued", "{text}");
    assert!(text.contains("通信が回復したら送信します"), "{text}");
    waiting(&wd, 1).await;
    let (last, _) = tap(&wd, &reader, "doctor-auth-p256", 2).await;
    assert_eq!(last, "queued");
    // A revoked card read while offline cannot be refused yet: it waits too.
    let (last, _) = tap(&wd, &reader, "revoked-doctor-auth", 3).await;
    assert_eq!(last, "queued");
    waiting(&wd, 3).await;
    wd.find("#kiosk-queue").await;
    let queue = wd.execute("return document.getElementById('kiosk-queue').innerText;", vec![]).await;
    assert_eq!(queue.as_str(), Some("送信待ち: 3件"));

    // Back up (sessions were in memory: the organizer signs in again); the kiosk sends them.
    let server = w.start_on(&["demo"], idp_port, portal_port).await;
    organizer_signs_in(&wd, &portal).await;
    open_kiosk(&wd, &portal).await;
    waiting(&wd, 0).await;
    // The revoked card's late refusal is listed for the organizer.
    wd.wait_for("#kiosk[data-late-refused='1']").await;
    let late = wd.execute("return document.getElementById('kiosk-late').innerText;", vec![]).await;
    assert!(
        late.as_str().is_some_and(|t| t.contains("失効しています") && t.contains("cert_revoked")),
        "{late}"
    );

    // Exactly the taps made: three doctors' records, none doubled, with check-in and check-out.
    let page = wd.goto(&format!("{portal}/organizer/events/KIOSK-1?lang=ja")).await;
    page.assert_not_error();
    let rows = wd.execute("return document.querySelectorAll('#attendance tbody tr').length;", vec![]).await;
    assert_eq!(rows.as_i64(), Some(3), "{page}");
    for (number, name) in [("512345", "日本　太郎"), ("498765", "日本　次郎"), ("601234", "資格　夏子")]
    {
        page.assert_text(number);
        page.assert_text(name);
    }
    assert!(!page.text.contains("資格　一郎"), "the unlinked card makes no record yet: {page}");
    // Check-in and check-out times: the first doctor left three minutes (kiosk clock) later.
    let cells = wd
        .execute(
            "return Array.from(document.querySelectorAll('#attendance tbody tr')).map(tr => \
             [tr.cells[1].innerText, tr.querySelector('.check-in').innerText, tr.querySelector('.check-out').innerText]);",
            vec![],
        )
        .await;
    let cells: Vec<(String, String, String)> = serde_json::from_value(cells).unwrap();
    let first = cells.iter().find(|c| c.0 == "512345").unwrap();
    let hm = |t: &str| -> i64 { t[..2].parse::<i64>().unwrap() * 60 + t[3..].parse::<i64>().unwrap() };
    assert!(matches!((hm(&first.2) - hm(&first.1)).rem_euclid(1440), 2..=4), "{cells:?}");
    for c in cells.iter().filter(|c| c.0 != "512345") {
        assert!(c.1.len() == 5 && c.2 == "—", "checked in, not out: {cells:?}");
    }
    drop(wd);
    assert_eq!(server.terminate(), Some(0));
}

/// QR check-in as people do it: the organizer opens the event's QR page; a doctor opens the code's
/// address on another device, signs in there with the (virtual) card and confirms; the organizer
/// sees the record.
#[tokio::test]
async fn a_doctor_checks_in_with_the_qr_code_of_the_event() {
    let w = Workdir::new();
    let server = w.start(&["demo"]).await;
    let portal = server.portal("");
    let today = time::OffsetDateTime::now_utc().to_offset(keys::clock::JST).date();
    let csv = format!(
        "registration_number,event_id,event_title,organizer,date,credits,status\n\
         498765,QR-1,オンライン講習会,資格医師会,{today},jma_cme:76=1,rejected\n"
    );
    let file = w.file("event.csv", &csv);
    let out = w.run(&["admin", "import", "attendance", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", crate::stderr(&out));

    let organizer = WebDriver::start().await;
    organizer_signs_in(&organizer, &portal).await;
    organizer.goto(&format!("{portal}/organizer/events/QR-1?lang=ja")).await.assert_not_error();
    let page = organizer.click_to_next_page("#qr-page-link").await;
    page.assert_not_error();
    page.assert_text("QRコードは30秒ごとに変わります");
    organizer.find("#qr-code svg.qr").await;
    let link = organizer.execute("return document.getElementById('qr-link').href;", vec![]).await;
    let link = link.as_str().unwrap().to_owned();
    assert!(link.starts_with(&format!("{portal}/attend/QR-1?c=")), "{link}");

    let doctor = WebDriver::start().await;
    let page = doctor.goto(&link).await;
    assert!(page.url.contains("/login?request="), "signed out, the code leads to the sign-in: {page}");
    let card = "form[action='/login/virtual-card']:has(input[name=card][value=doctor-auth]) button";
    let page = doctor.submit(card).await;
    page.assert_not_error();
    assert!(page.url.starts_with(&format!("{portal}/attend/QR-1?s=")), "{page}");
    // (This browser asks for English.)
    page.assert_text("日本　太郎, record your attendance at this event.");
    let page = doctor.submit("#attend-form button[type=submit]").await;
    page.assert_not_error();
    page.assert_text("Your attendance is recorded.");

    let page = organizer.goto(&format!("{portal}/organizer/events/QR-1?lang=ja")).await;
    page.assert_text("512345");
    let check_in = organizer
        .execute("return Array.from(document.querySelectorAll('#attendance tbody tr')).find(tr => tr.cells[1].innerText === '512345').querySelector('.check-in').innerText;", vec![])
        .await;
    assert!(check_in.as_str().is_some_and(|t| t.len() == 5 && t.contains(':')), "{check_in}");
    drop((organizer, doctor));
    assert_eq!(server.terminate(), Some(0));
}
