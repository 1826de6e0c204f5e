//! SQL of the `doctors` table (the registry: registration number, names, birth date).

use std::collections::HashMap;

use sqlx::{AnyConnection, AssertSqlSafe};
use storage::Db;
use time::Date;

use crate::credits::dates;
use crate::store::{CHUNK, Params, StoreError, list, value_rows};

/// A doctor as the registry knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doctor {
    /// 医籍登録番号: digits without leading zeros.
    pub registration_number: String,
    /// Kanji name, when known.
    pub name: Option<String>,
    /// Katakana name.
    pub kana_name: String,
    /// Birth date.
    pub birth_date: Date,
    /// `registry` or `self`.
    pub source: String,
}

type Row = (String, Option<String>, String, i64, String);

fn from_row((registration_number, name, kana_name, birth, source): Row) -> Result<Doctor, StoreError> {
    let birth_date = dates::from_int(birth)
        .ok_or_else(|| StoreError::Corrupt(format!("doctor {registration_number}: birth date {birth}")))?;
    Ok(Doctor { registration_number, name, kana_name, birth_date, source })
}

/// The doctor with this registration number.
pub async fn find_doctor(db: &Db, registration_number: &str) -> Result<Option<Doctor>, StoreError> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT registration_number, name, kana_name, birth_date, source FROM doctors \
         WHERE registration_number = $1",
    )
    .bind(registration_number)
    .fetch_optional(db.pool())
    .await?;
    row.map(from_row).transpose()
}

/// The doctors among `numbers` that exist, by number.
pub async fn find_doctors(
    conn: &mut AnyConnection,
    numbers: &[&str],
) -> Result<HashMap<String, Doctor>, StoreError> {
    let params = Params::of(conn);
    let mut out = HashMap::new();
    for chunk in numbers.chunks(CHUNK) {
        let sql = format!(
            "SELECT registration_number, name, kana_name, birth_date, source FROM doctors \
             WHERE registration_number IN ({})",
            list(params, chunk.len())
        );
        let mut q = sqlx::query_as::<_, Row>(AssertSqlSafe(sql));
        for n in chunk {
            q = q.bind(*n);
        }
        for row in q.fetch_all(&mut *conn).await? {
            let d = from_row(row)?;
            out.insert(d.registration_number.clone(), d);
        }
    }
    Ok(out)
}

/// Inserts new doctors (none of them may exist yet).
pub async fn create_doctors(
    conn: &mut AnyConnection,
    doctors: &[Doctor],
    now: i64,
) -> Result<(), StoreError> {
    let params = Params::of(conn);
    for chunk in doctors.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO doctors (registration_number, name, kana_name, birth_date, source, created_at, \
             updated_at) VALUES {}",
            value_rows(params, chunk.len(), 7)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for d in chunk {
            q = q
                .bind(&d.registration_number)
                .bind(&d.name)
                .bind(&d.kana_name)
                .bind(dates::to_int(d.birth_date))
                .bind(&d.source)
                .bind(now)
                .bind(now);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Replaces a doctor's names, birth date and source.
pub async fn update_doctor(conn: &mut AnyConnection, d: &Doctor, now: i64) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE doctors SET name = $1, kana_name = $2, birth_date = $3, source = $4, updated_at = $5 \
         WHERE registration_number = $6",
    )
    .bind(&d.name)
    .bind(&d.kana_name)
    .bind(dates::to_int(d.birth_date))
    .bind(&d.source)
    .bind(now)
    .bind(&d.registration_number)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
