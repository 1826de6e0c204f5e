//! Test data: doctors, events and attendances written through the store.

use portal::credits::Units;
use portal::store::attendance::{NewAttendance, Status, create_attendances};
use portal::store::doctors::{Doctor, create_doctors, find_doctor};
use portal::store::events::{Credit, Event, create_event};
use storage::Db;
use time::Date;
use time::macros::date;

const NOW: i64 = 1_790_000_000;

/// A doctor in the registry.
pub async fn doctor(db: &Db, number: &str, name: &str) {
    if find_doctor(db, number).await.unwrap().is_some() {
        return;
    }
    let mut conn = db.pool().acquire().await.unwrap();
    let d = Doctor {
        registration_number: number.into(),
        name: Some(name.into()),
        kana_name: "ヤマダ　タロウ".into(),
        birth_date: date!(1980 - 05 - 01),
        source: "registry".into(),
    };
    create_doctors(&mut conn, &[d], NOW).await.unwrap();
}

/// An event on `on` granting `credits` (system, code, hundredths of units).
pub async fn event(db: &Db, id: &str, on: Date, credits: &[(&str, &str, i64)]) -> Event {
    let mut conn = db.pool().acquire().await.unwrap();
    let e = Event {
        id: id.into(),
        title: format!("講習会 {id}"),
        organizer: "東京都医師会".into(),
        starts_on: on,
        ends_on: on,
        venue: Some("東京".into()),
        online: false,
        credits: credits
            .iter()
            .map(|(s, c, u)| Credit { system_id: (*s).into(), code: (*c).into(), units: Units(*u) })
            .collect(),
    };
    create_event(&mut conn, &e, NOW).await.unwrap();
    e
}

/// Attendance of `number` at a new event `id` on `on` with `credits`, in `status`.
pub async fn attend(
    db: &Db,
    number: &str,
    id: &str,
    on: Date,
    status: Status,
    credits: &[(&str, &str, i64)],
) {
    let e = event(db, id, on, credits).await;
    let mut conn = db.pool().acquire().await.unwrap();
    let a = NewAttendance {
        idempotency_key: format!("{number}/{id}"),
        registration_number: number.into(),
        event_id: id.into(),
        attended_on: on,
        status,
        source: "test".into(),
        credits: e.credits,
    };
    assert_eq!(create_attendances(&mut conn, &[a], NOW).await.unwrap(), 1);
}
