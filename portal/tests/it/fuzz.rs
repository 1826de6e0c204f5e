//! Fuzzing the CSV imports on the stable toolchain (`hpki::testpki::mutate`): mutated registry
//! and attendance files, imported for real into a fresh SQLite database, never panic; each
//! gives either a whole-file refusal or a report whose counts add up to its rows.

use portal::import::{Options, attendance, registry};
use storage::testing::TestEnv;

const REGISTRY: &str = "\
registration_number,kana_name,birth_date,name
123456,ヤマダ　タロウ,1980-05-01,山田　太郎
234567,スズキ　ハナコ,1975-12-03,
";

const ATTENDANCE: &str = "\
registration_number,event_id,event_title,organizer,date,credits,status
123456,EV1,糖尿病の最新治療,東京都医師会,2026-06-01,jma_cme:76=1;jma_cme:74=0.5,confirmed
234567,EV1,,,2026-06-01,,provisional
123456,EV2,\"講演会, 第2回\",東京都医師会,2026-07-01,jma_cme:1=1,
";

#[test]
fn mutated_csv_files_import_or_are_refused_without_panicking() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let env = rt.block_on(TestEnv::sqlite_memory());
    let db = &env.db.db;
    let opts = Options::new(1_780_000_000);
    rt.block_on(registry::import(db, REGISTRY.as_bytes(), &opts, &mut |_| {})).unwrap();
    let check = |kind: &str, report: Result<portal::import::report::Report, portal::import::ImportError>| {
        if let Ok(r) = report {
            let rejected =
                r.errors.iter().map(|e| e.line).collect::<std::collections::BTreeSet<_>>().len() as u64;
            assert!(r.inserted + r.updated + r.unchanged + rejected <= r.rows, "{kind}: {r:?}");
        }
    };
    let seeds = vec![REGISTRY.as_bytes().to_vec()];
    hpki::testpki::mutate::run("registry CSV", &seeds, 2000, |input| {
        check("registry", rt.block_on(registry::import(db, input, &opts, &mut |_| {})));
    });
    let seeds = vec![ATTENDANCE.as_bytes().to_vec()];
    hpki::testpki::mutate::run("attendance CSV", &seeds, 2000, |input| {
        check("attendance", rt.block_on(attendance::import(db, input, &opts, &mut |_| {})));
    });
}
