//! Benchmark: one JMA certificate PDF with 200 rows (7 pages, embedded Noto Sans CJK JP subset,
//! QR code on every page), from its content. Goal: < 100 ms.
//!
//! `cargo bench -p portal --bench pdf`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use portal::credits::Units;
use portal::documents::content::{Certificate, Content, Doctor, Kind, Period, Row, Total};
use portal::documents::pdf::{DEFAULT_FONT_PATH, PdfFont, render};
use time::macros::date;

fn content() -> Content {
    let first = date!(2024 - 04 - 01);
    let rows: Vec<Row> = (0..200_i64)
        .map(|i| Row {
            date: first.saturating_add(time::Duration::days(i * 5)),
            event_id: format!("EV{i:03}"),
            title: format!(
                "日本医師会生涯教育講座 第{i}回 糖尿病・高血圧症・脂質異常症の最新の診療と地域連携"
            ),
            system: "jma_cme".into(),
            units: Units(50),
            codes: vec![(i % 84).to_string()],
        })
        .collect();
    Content {
        iss: "https://portal.example.jp".into(),
        jti: "q0bbbYzcOSJ4ECEbL9SDrA".into(),
        iat: 1_807_326_000,
        kind: Kind::JmaCertificate,
        period: Period { from: first, to: date!(2027 - 03 - 31) },
        doctor: Doctor {
            registration_number: "123456".into(),
            name: "山田　太郎".into(),
            kana_name: "ヤマダ　タロウ".into(),
        },
        rows,
        totals: vec![Total {
            system: "jma_cme".into(),
            system_name: "日医生涯教育制度".into(),
            units: Units(10_000),
            distinct_codes: 84,
        }],
        certificate: Some(Certificate {
            rule: "jma_cme_certificate".into(),
            achieved: Units(18_400),
            minimum: Units(6000),
        }),
        qualification: None,
        verify_url: "https://portal.example.jp/v/q0bbbYzcOSJ4ECEbL9SDrA".into(),
    }
}

fn benches(c: &mut Criterion) {
    let font = PdfFont::load(DEFAULT_FONT_PATH.as_ref()).expect("fonts-noto-cjk installed");
    let content = content();
    let mut group = c.benchmark_group("pdf");
    group.sample_size(20);
    group.bench_function("jma_certificate_200_rows", |b| {
        b.iter(|| render(black_box(&content), &font, &[]).unwrap())
    });
    // The fixed part (font subset, QR code, one page) against the per-row part.
    let one = Content { rows: content.rows[..1].to_vec(), ..content.clone() };
    group
        .bench_function("jma_certificate_1_row", |b| b.iter(|| render(black_box(&one), &font, &[]).unwrap()));
    group.finish();
}

criterion_group!(pdf, benches);
criterion_main!(pdf);
