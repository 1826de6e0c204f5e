//! Kiosk taps (portal::store::taps) on both storage backends: check-in, repeat, check-out, the
//! same tap sent again, taps arriving out of order (an offline queue), a tap id reused for
//! another card, and an unlinked card resolved when its registration number appears.

use portal::store::systems::update_time_rule;
use portal::store::taps::{
    METHOD_CARD_READ, NewTap, Recorded, TapKind, recompute_tap_attendances, record_tap, resolve_card,
};
use storage::Db;
use storage::testing::TestEnv;
use time::macros::date;

use crate::seed;

storage::each_backend!(
    taps_check_in_repeat_and_check_out_once_each,
    taps_arriving_late_and_out_of_order_give_the_same_record,
    an_unlinked_card_is_resolved_when_its_number_appears,
    a_registry_import_links_the_taps_of_a_card_it_names,
    credits_by_time_attended_follow_the_system_rule,
);

/// 2026-12-04 10:00 in Japan.
const T0: i64 = 1_796_346_000;

fn tap(id: &str, card: &str, number: Option<&str>, at: i64) -> NewTap {
    NewTap {
        id: id.into(),
        event_id: "K1".into(),
        card_issuer: "C=JP, O=JMA, CN=HPKI Test CA".into(),
        card_subscriber: card.into(),
        holder_name: Some("日本　太郎".into()),
        registration_number: number.map(str::to_owned),
        tapped_at: at,
        recorded_by: "organizer-sub".into(),
        method: METHOD_CARD_READ,
    }
}

/// The attendances of event K1: (registration number, check-in, check-out, status, source).
async fn records(db: &Db) -> Vec<(String, Option<i64>, Option<i64>, String, String)> {
    sqlx::query_as(
        "SELECT registration_number, checked_in_at, checked_out_at, status, source FROM attendances \
         WHERE event_id = 'K1' ORDER BY registration_number",
    )
    .fetch_all(db.pool())
    .await
    .unwrap()
}

async fn taps_check_in_repeat_and_check_out_once_each(env: TestEnv) {
    let app = crate::TestApp::new(env).await;
    let db = app.db();
    seed::doctor(db, "512345", "日本　太郎").await;
    let event = seed::event(db, "K1", date!(2026 - 12 - 04), &[("jma_cme", "76", 100)]).await;
    let now = T0 + 10;

    let r = record_tap(db, &tap("tap-0001", "J1", Some("512345"), T0), &event, now).await.unwrap();
    assert_eq!(
        r,
        Recorded {
            kind: TapKind::CheckIn,
            tapped_at: T0,
            checked_in_at: T0,
            checked_out_at: None,
            linked: true
        }
    );
    // Sent again (a retry): the same answer, nothing new.
    let again = record_tap(db, &tap("tap-0001", "J1", Some("512345"), T0 + 5), &event, now).await.unwrap();
    assert_eq!(again, r);
    let r = record_tap(db, &tap("tap-0002", "J1", Some("512345"), T0 + 30), &event, now).await.unwrap();
    assert_eq!(r.kind, TapKind::Repeat);
    assert_eq!(r.checked_out_at, None);
    assert_eq!(
        records(db).await,
        [("512345".into(), Some(T0), None, "provisional".into(), "card_read".into())]
    );

    let r = record_tap(db, &tap("tap-0003", "J1", Some("512345"), T0 + 3600), &event, now).await.unwrap();
    assert_eq!((r.kind, r.checked_out_at), (TapKind::CheckOut, Some(T0 + 3600)));
    assert_eq!(
        records(db).await,
        [("512345".into(), Some(T0), Some(T0 + 3600), "provisional".into(), "card_read".into())]
    );
    // The record carries the event's credits, once.
    let credits: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT system_id, code, units FROM attendance_credits")
            .fetch_all(db.pool())
            .await
            .unwrap();
    assert_eq!(credits, [("jma_cme".into(), "76".into(), 100)]);

    // A tap id recorded for another card is refused.
    let err = record_tap(db, &tap("tap-0003", "J2", None, T0 + 3700), &event, now).await.unwrap_err();
    assert!(err.to_string().contains("another card or event"), "{err}");
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM attendance_taps").fetch_one(db.pool()).await.unwrap();
    assert_eq!(count, 3);
}

async fn taps_arriving_late_and_out_of_order_give_the_same_record(env: TestEnv) {
    let app = crate::TestApp::new(env).await;
    let db = app.db();
    seed::doctor(db, "512345", "日本　太郎").await;
    let event = seed::event(db, "K1", date!(2026 - 12 - 04), &[("jma_cme", "76", 100)]).await;
    // The check-out arrives first (the check-in waited in a kiosk's queue).
    let out =
        record_tap(db, &tap("late-out-1", "J1", Some("512345"), T0 + 5400), &event, T0 + 6000).await.unwrap();
    assert_eq!(out.kind, TapKind::CheckIn, "alone, it is the first tap");
    let r = record_tap(db, &tap("late-in-01", "J1", Some("512345"), T0), &event, T0 + 6001).await.unwrap();
    assert_eq!((r.kind, r.checked_in_at, r.checked_out_at), (TapKind::CheckIn, T0, Some(T0 + 5400)));
    assert_eq!(
        records(db).await,
        [("512345".into(), Some(T0), Some(T0 + 5400), "provisional".into(), "card_read".into())]
    );
    // Sent again, in any order: unchanged.
    for (id, at) in [("late-in-01", T0), ("late-out-1", T0 + 5400)] {
        record_tap(db, &tap(id, "J1", Some("512345"), at), &event, T0 + 7000).await.unwrap();
    }
    assert_eq!(
        records(db).await,
        [("512345".into(), Some(T0), Some(T0 + 5400), "provisional".into(), "card_read".into())]
    );
}

async fn an_unlinked_card_is_resolved_when_its_number_appears(env: TestEnv) {
    let app = crate::TestApp::new(env).await;
    let db = app.db();
    seed::doctor(db, "623456", "日本　四郎").await;
    let event = seed::event(db, "K1", date!(2026 - 12 - 04), &[("jma_cme", "76", 100)]).await;
    let r = record_tap(db, &tap("unlinked-1", "J4", None, T0), &event, T0).await.unwrap();
    assert_eq!((r.kind, r.linked), (TapKind::CheckIn, false));
    record_tap(db, &tap("unlinked-2", "J4", None, T0 + 4000), &event, T0 + 4000).await.unwrap();
    assert!(records(db).await.is_empty(), "no record without a registration number");

    assert_eq!(resolve_card(db, "C=JP, O=JMA, CN=HPKI Test CA", "J4", "623456", T0 + 5000).await.unwrap(), 2);
    assert_eq!(
        records(db).await,
        [("623456".into(), Some(T0), Some(T0 + 4000), "provisional".into(), "card_read".into())]
    );
    // Resolved once: again changes nothing.
    assert_eq!(resolve_card(db, "C=JP, O=JMA, CN=HPKI Test CA", "J4", "623456", T0 + 6000).await.unwrap(), 0);
    // The next tap of the card comes linked.
    let r =
        record_tap(db, &tap("linked-03", "J4", Some("623456"), T0 + 4100), &event, T0 + 6000).await.unwrap();
    assert!(r.linked);
    assert_eq!(r.kind, TapKind::Repeat);
}

async fn a_registry_import_links_the_taps_of_a_card_it_names(env: TestEnv) {
    use portal::import::{Options, registry};
    let app = crate::TestApp::new(env).await;
    let db = app.db();
    let event = seed::event(db, "K1", date!(2026 - 12 - 04), &[("jma_cme", "76", 100)]).await;
    record_tap(db, &tap("unlinked-1", "J7", None, T0), &event, T0).await.unwrap();
    record_tap(db, &tap("unlinked-2", "J8", None, T0 + 10), &event, T0 + 10).await.unwrap();
    let csv = "registration_number,kana_name,birth_date,name,issuer,subscriber_id\n\
               723456,ニホン　シチロウ,1970-01-01,日本　七郎,\"C=JP, O=JMA, CN=HPKI Test CA\",J7\n\
               823456,ニホン　ハチロウ,1970-01-01,日本　八郎,\"C=JP, O=JMA, CN=Other CA\",J8\n";
    // A dry run writes nothing, and links nothing.
    let mut dry = Options::new(T0 + 100);
    dry.dry_run = true;
    registry::import_with_card_holders(db, csv.as_bytes(), &dry, &mut |_| {}).await.unwrap();
    assert!(records(db).await.is_empty());
    let (report, holders) =
        registry::import_with_card_holders(db, csv.as_bytes(), &Options::new(T0 + 100), &mut |_| {})
            .await
            .unwrap();
    assert!(report.errors.is_empty() && holders.len() == 2, "{report:?}");
    // J7's tap is linked; J8 belongs to another CA's card and still waits.
    assert_eq!(
        records(db).await,
        [("723456".into(), Some(T0), None, "provisional".into(), "card_read".into())]
    );
    let waiting = portal::store::taps::find_unlinked_cards(db).await.unwrap();
    assert_eq!(waiting, [("C=JP, O=JMA, CN=HPKI Test CA".to_owned(), "J8".to_owned())]);
}

/// The units of each doctor's credit at event K1: (registration number, units in hundredths).
async fn units(db: &Db) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT a.registration_number, c.units FROM attendance_credits c JOIN attendances a ON a.id = c.attendance_id \
         WHERE a.event_id = 'K1' ORDER BY a.registration_number",
    )
    .fetch_all(db.pool())
    .await
    .unwrap()
}

async fn credits_by_time_attended_follow_the_system_rule(env: TestEnv) {
    let app = crate::TestApp::new(env).await;
    let db = app.db();
    for (n, name) in [("100001", "一"), ("100002", "二"), ("100003", "三")] {
        seed::doctor(db, n, name).await;
    }
    // The event grants 2 units; JMA lifelong education by time: 60 minutes a unit, 30 at least.
    let event = seed::event(db, "K1", date!(2026 - 12 - 04), &[("jma_cme", "76", 200)]).await;
    assert!(update_time_rule(db, "jma_cme", Some((60, 30))).await.unwrap());
    assert!(!update_time_rule(db, "no_such_system", Some((60, 30))).await.unwrap());
    let t = |id: &str, card: &str, n: &str, at: i64| tap(id, card, Some(n), at);
    // 95 minutes: 1.58 units, in steps of 0.5: 1.5.
    record_tap(db, &t("time-a-in", "A", "100001", T0), &event, T0).await.unwrap();
    record_tap(db, &t("time-a-out", "A", "100001", T0 + 95 * 60), &event, T0).await.unwrap();
    // 20 minutes: below the minimum.
    record_tap(db, &t("time-b-in", "B", "100002", T0), &event, T0).await.unwrap();
    record_tap(db, &t("time-b-out", "B", "100002", T0 + 20 * 60), &event, T0).await.unwrap();
    // No check-out yet: nothing yet.
    record_tap(db, &t("time-c-in", "C", "100003", T0), &event, T0).await.unwrap();
    assert_eq!(units(db).await, [("100001".into(), 150)]);
    // Five hours: at most the event's 2 units.
    record_tap(db, &t("time-c-out", "C", "100003", T0 + 300 * 60), &event, T0).await.unwrap();
    assert_eq!(units(db).await, [("100001".into(), 150), ("100003".into(), 200)]);

    // Back to per event: every tap-made record is computed again and gets the event's units.
    assert!(update_time_rule(db, "jma_cme", None).await.unwrap());
    assert_eq!(recompute_tap_attendances(db, T0 + 1).await.unwrap(), 3);
    assert_eq!(units(db).await, [("100001".into(), 200), ("100002".into(), 200), ("100003".into(), 200)]);
}
