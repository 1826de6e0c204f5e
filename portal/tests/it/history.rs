//! The history page: totals, certificate progress at its boundaries, fiscal-year edges,
//! filters, the coverage grid and the chart; and one run in a real headless Chromium.

use portal::store::attendance::Status;
use storage::testing::TestEnv;
use time::macros::date;

use crate::served::Served;
use crate::{TestApp, seed};

storage::each_backend!(
    totals_and_the_jma_certificate_at_59_5_and_60,
    fiscal_year_edges_move_the_window,
    filters_narrow_records_totals_and_chart,
    history_page_in_headless_chromium,
);

/// A doctor with a confirmed link to 123456 and their cookie.
async fn linked_doctor(app: &TestApp) -> String {
    app.linked_doctor("doc-h", "123456", "山田　太郎").await
}

/// The part of the page from `marker` to the end of its element's list item.
fn section<'h>(html: &'h str, marker: &str) -> &'h str {
    let start = html.find(marker).unwrap_or_else(|| panic!("{marker} not in {html}"));
    let rest = &html[start..];
    &rest[..rest.find("</li>").unwrap_or(rest.len())]
}

fn total_row(system: &str, name: &str, units: &str, codes: usize) -> String {
    format!(
        "<tr data-system=\"{system}\"><th scope=\"row\">{name}</th><td class=\"num\">{units}</td><td class=\"num\">{codes}</td></tr>"
    )
}

fn records(html: &str) -> usize {
    html.matches("<tr class=\"record ").count()
}

async fn totals_and_the_jma_certificate_at_59_5_and_60(env: TestEnv) {
    let mut app = TestApp::on(env, date!(2026 - 12 - 01)).await;
    let doctor = linked_doctor(&app).await;
    let db = app.db();
    let codes: Vec<String> = (2..=40).map(|c| c.to_string()).collect();
    let wide: Vec<(&str, &str, i64)> = codes.iter().map(|c| ("jma_cme", c.as_str(), 50)).collect();
    // FY2024: 39 codes at 0.5 → 19.5 units + 39 codes = 58.5.
    seed::attend(db, "123456", "A", date!(2024 - 06 - 01), Status::Confirmed, &wide).await;
    // FY2026: code 2 again (+0.5, no new code) and code 3 (+0.5): 59.5.
    seed::attend(db, "123456", "B", date!(2026 - 05 - 01), Status::Confirmed, &[("jma_cme", "2", 50)]).await;
    seed::attend(db, "123456", "C", date!(2026 - 06 - 01), Status::Confirmed, &[("jma_cme", "3", 50)]).await;
    // Provisional and rejected records never count.
    seed::attend(db, "123456", "P", date!(2026 - 07 - 01), Status::Provisional, &[("jma_cme", "1", 500)])
        .await;
    seed::attend(db, "123456", "R", date!(2026 - 07 - 02), Status::Rejected, &[("jma_cme", "1", 500)]).await;

    let (status, _, html) = app.get("/history", &doctor).await;
    assert_eq!(status, 200);
    let jma = section(&html, "id=\"progress-jma_cme_certificate\"");
    assert!(jma.contains("あと0.5単位（2027年3月まで）"), "59.5 is not 60: {jma}");
    assert!(jma.contains("59.5 / 60") && jma.contains("2024-04-01 – 2027-03-31"), "{jma}");
    let kakari = section(&html, "id=\"progress-jma_kakaritsuke_completion\"");
    assert!(kakari.contains("前提となる認定"), "the prerequisite is missing: {kakari}");
    assert!(html.contains(&total_row("jma_cme", "日医生涯教育制度", "20.5", 39)), "{html}");
    assert!(html.contains(&total_row("jma_sports", "日本医師会認定健康スポーツ医制度", "0", 0)), "{html}");
    assert!(html.contains("84コード中39コード取得（2024年度–2026年度）"), "{html}");
    assert_eq!(records(&html), 5, "every status is listed");
    let (_, _, en) = app.get("/history?lang=en", &format!("{doctor}; lang=en")).await;
    assert!(en.contains("0.5 more to go before March 2027"), "{en}");
    assert!(en.contains(&total_row("jma_cme", "JMA lifelong education", "20.5", 39)), "{en}");

    // Code 1 at 0.5: one more half unit and one more code → 61.
    seed::attend(app.db(), "123456", "D", date!(2027 - 01 - 10), Status::Confirmed, &[("jma_cme", "1", 50)])
        .await;
    app.set_today(date!(2027 - 01 - 10));
    let (_, _, html) = app.get("/history", &doctor).await;
    let jma = section(&html, "id=\"progress-jma_cme_certificate\"");
    assert!(jma.contains("class=\"met\"") && jma.contains("✓ 達成") && jma.contains("61 / 60"), "{jma}");
    let kakari = section(&html, "id=\"progress-jma_kakaritsuke_completion\"");
    assert!(
        !kakari.contains("前提となる認定") && kakari.contains("あと10単位（2027年12月まで）"),
        "{kakari}"
    );
    assert!(html.contains(&total_row("jma_cme", "日医生涯教育制度", "21", 40)), "{html}");
}

async fn fiscal_year_edges_move_the_window(env: TestEnv) {
    let mut app = TestApp::on(env, date!(2026 - 03 - 31)).await;
    let doctor = linked_doctor(&app).await;
    // 60 exactly, all on 31 March 2024 (FY2023): 30 codes at 1 unit.
    let codes: Vec<String> = (1..=30).map(|c| c.to_string()).collect();
    let credits: Vec<(&str, &str, i64)> = codes.iter().map(|c| ("jma_cme", c.as_str(), 100)).collect();
    seed::attend(app.db(), "123456", "E", date!(2024 - 03 - 31), Status::Confirmed, &credits).await;
    seed::attend(
        app.db(),
        "123456",
        "F",
        date!(2024 - 04 - 01),
        Status::Confirmed,
        &[("jma_cme", "76", 200)],
    )
    .await;

    // 31 March 2026: the window is FY2023–FY2025; 60 + 3 = 63.
    let (_, _, html) = app.get("/history", &doctor).await;
    let jma = section(&html, "id=\"progress-jma_cme_certificate\"");
    assert!(
        jma.contains("✓ 達成") && jma.contains("63 / 60") && jma.contains("2023-04-01 – 2026-03-31"),
        "{jma}"
    );
    // 1 April 2026: FY2024–FY2026; 31 March 2024 falls out, 1 April 2024 stays (2 + 1 code).
    app.set_today(date!(2026 - 04 - 01));
    let (_, _, html) = app.get("/history", &doctor).await;
    let jma = section(&html, "id=\"progress-jma_cme_certificate\"");
    assert!(jma.contains("あと57単位（2027年3月まで）") && jma.contains("3 / 60"), "{jma}");

    // The year filter follows the same edge.
    let (_, _, fy2023) = app.get("/history?year=2023", &doctor).await;
    assert!(
        fy2023.contains("<h3>2023年度</h3>") && fy2023.contains("講習会 E") && !fy2023.contains("講習会 F")
    );
    assert!(fy2023.contains(&total_row("jma_cme", "日医生涯教育制度", "30", 30)), "{fy2023}");
    assert!(fy2023.contains("84コード中30コード取得（2023年度）"), "{fy2023}");
    let (_, _, fy2024) = app.get("/history?year=2024", &doctor).await;
    assert!(
        fy2024.contains("<h3>2024年度</h3>") && fy2024.contains("講習会 F") && !fy2024.contains("講習会 E")
    );
    assert!(fy2024.contains(&total_row("jma_cme", "日医生涯教育制度", "2", 1)), "{fy2024}");
    assert!(fy2024.contains("<option value=\"2024\" selected>2024年度</option>"), "{fy2024}");
}

async fn filters_narrow_records_totals_and_chart(env: TestEnv) {
    let app = TestApp::on(env, date!(2026 - 12 - 01)).await;
    let doctor = linked_doctor(&app).await;
    let db = app.db();
    seed::attend(
        db,
        "123456",
        "S1",
        date!(2026 - 05 - 01),
        Status::Confirmed,
        &[("jma_cme", "76", 100), ("jma_kakaritsuke", "applied", 100)],
    )
    .await;
    seed::attend(db, "123456", "S2", date!(2026 - 06 - 01), Status::Provisional, &[("jma_cme", "74", 150)])
        .await;
    seed::attend(db, "123456", "S3", date!(2026 - 07 - 01), Status::Rejected, &[("jma_cme", "75", 50)]).await;
    seed::attend(
        db,
        "123456",
        "S4",
        date!(2026 - 08 - 01),
        Status::Confirmed,
        &[("jma_sports", "refresher", 200)],
    )
    .await;
    seed::attend(db, "123456", "S5", date!(2025 - 08 - 01), Status::Confirmed, &[("jma_cme", "80", 50)])
        .await;

    let (_, _, all) = app.get("/history", &doctor).await;
    assert_eq!(records(&all), 5);
    assert!(all.contains(&total_row("jma_cme", "日医生涯教育制度", "1.5", 2)), "{all}");
    assert!(all.contains(&total_row("jma_kakaritsuke", "日医かかりつけ医機能研修制度", "1", 1)));
    assert!(all.contains(&total_row("jma_sports", "日本医師会認定健康スポーツ医制度", "2", 1)));
    assert!(all.contains("仮登録（確認待ち）") && all.contains("却下"));
    // Named codes by their name (not `applied`), curriculum numbers with theirs.
    assert!(all.contains("<li>日医かかりつけ医機能研修制度 応用研修: 1</li>"), "{all}");
    assert!(all.contains("<li>日医生涯教育制度 76 糖尿病: 1</li>") && !all.contains("applied"), "{all}");
    // Coverage (FY2024–FY2026): codes 76 and 80, with text labels, not colour only.
    assert!(all.contains("84コード中2コード取得（2024年度–2026年度）"), "{all}");
    assert_eq!(all.matches("<li class=\"filled\"").count(), 2);
    assert_eq!(all.matches("<li class=\"empty\"").count(), 82);
    assert!(all.contains("取得済み 1 単位") && all.contains("未取得"), "{all}");
    // Every cell shows its code's official name in the page's language, code 0 first.
    assert_eq!(all.matches("<span class=\"name\">").count(), 84, "{all}");
    assert!(all.contains("<span class=\"name\">糖尿病</span>"), "{all}");
    let cell = |name: &str| all.find(&format!("<span class=\"name\">{name}</span>"));
    assert!(cell("最新のトピックス・その他").is_some());
    assert!(cell("最新のトピックス・その他") < cell("医師のプロフェッショナリズム"), "{all}");
    // Chart: JMA lifelong education per fiscal year, with <title> and text labels.
    assert!(all.contains("<title id=\"chart-svg-title\">年度別の取得単位</title>"));
    assert!(
        all.contains("<title>2025年度: 0.5 単位</title>") && all.contains("<title>2026年度: 1 単位</title>"),
        "{all}"
    );
    assert!(all.contains(">2026年度</text>"));

    let (_, _, sports) = app.get("/history?system=jma_sports", &doctor).await;
    assert_eq!(records(&sports), 1);
    assert!(sports.contains("講習会 S4") && !sports.contains("data-system=\"jma_cme\""), "{sports}");
    assert!(sports.contains("日本医師会認定健康スポーツ医制度の年度別取得単位（確定分）"));
    assert!(sports.contains("<title>2026年度: 2 単位</title>"));

    let (_, _, code) = app.get("/history?code=076", &doctor).await;
    assert_eq!(records(&code), 1);
    assert!(code.contains("講習会 S1") && code.contains("value=\"76\""), "{code}");
    assert!(code.contains(&total_row("jma_cme", "日医生涯教育制度", "1", 1)), "{code}");
    assert!(code.contains(&total_row("jma_kakaritsuke", "日医かかりつけ医機能研修制度", "0", 0)));

    let (_, _, provisional) = app.get("/history?status=provisional", &doctor).await;
    assert_eq!(records(&provisional), 1);
    assert!(provisional.contains("講習会 S2"));
    assert!(
        provisional.contains(&total_row("jma_cme", "日医生涯教育制度", "0", 0)),
        "only confirmed credits count"
    );

    let (_, _, fy2025) = app.get("/history?year=2025&system=jma_cme&code=&status=", &doctor).await;
    assert_eq!(records(&fy2025), 1);
    assert!(fy2025.contains("講習会 S5") && fy2025.contains("href=\"/history\""), "a way to clear: {fy2025}");

    let (_, _, none) = app.get("/history?year=2099", &doctor).await;
    assert!(none.contains("条件に合う受講記録はありません。") && records(&none) == 0);

    let (status, _, ignored) = app.get("/history?system=nope&status=maybe&year=x", &doctor).await;
    assert_eq!(status, 200);
    assert_eq!(records(&ignored), 5, "values that are not understood are ignored");

    let (_, _, en) = app.get("/history?lang=en&year=2026", &format!("{doctor}; lang=en")).await;
    assert!(en.contains("<h3>FY2026</h3>") && en.contains("Provisional (awaiting confirmation)"), "{en}");
    assert!(en.contains("<span class=\"name\">Diabetes</span>"), "the grid in English: {en}");
    assert!(
        en.contains("2 of 84 codes covered (FY2026)") || en.contains("1 of 84 codes covered (FY2026)"),
        "{en}"
    );
}

async fn history_page_in_headless_chromium(env: TestEnv) {
    let backend = env.db.db.backend().name();
    let app = TestApp::on(env, date!(2026 - 12 - 01)).await;
    let doctor = linked_doctor(&app).await;
    let db = app.db();
    seed::attend(
        db,
        "123456",
        "B1",
        date!(2024 - 06 - 01),
        Status::Confirmed,
        &[("jma_cme", "74", 300), ("jma_cme", "76", 200)],
    )
    .await;
    seed::attend(db, "123456", "B2", date!(2025 - 09 - 01), Status::Confirmed, &[("jma_cme", "80", 250)])
        .await;
    seed::attend(
        db,
        "123456",
        "B3",
        date!(2026 - 05 - 01),
        Status::Confirmed,
        &[("jma_sports", "refresher", 200)],
    )
    .await;
    seed::attend(db, "123456", "B4", date!(2026 - 07 - 01), Status::Provisional, &[("jma_cme", "1", 100)])
        .await;

    let sid = doctor.split_once('=').unwrap().1.to_owned();
    let served = Served::signed_in(app.router(), &sid).await;
    let dom = served.capture("/history?lang=ja", "history", backend).await;
    assert!(dom.contains("<h1>受講履歴</h1>"), "{dom}");
    assert!(dom.contains(&total_row("jma_cme", "日医生涯教育制度", "7.5", 3)), "{dom}");
    assert!(dom.contains(&total_row("jma_sports", "日本医師会認定健康スポーツ医制度", "2", 1)), "{dom}");
    assert!(dom.contains("あと49.5単位（2027年3月まで）"), "7.5 + 3 codes = 10.5 of 60: {dom}");
    assert!(dom.contains("<svg class=\"chart\""), "{dom}");
}
