//! The two migration folders stay in lockstep and produce the same schema.

use std::collections::BTreeMap;

use storage::testing::{self, TestDb};
use storage::{Backend, Db};

#[test]
fn both_backends_have_the_same_migration_versions() {
    let list = |b: Backend| -> Vec<(i64, String)> {
        b.migrator().iter().map(|m| (m.version, m.description.to_string())).collect()
    };
    let sqlite = list(Backend::Sqlite);
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, list(Backend::Postgres));
}

/// table → column → (family, nullable)
type Schema = BTreeMap<String, BTreeMap<String, (String, bool)>>;

fn family(declared: &str) -> String {
    match declared.to_ascii_lowercase().as_str() {
        "bigint" => "integer",
        "text" => "text",
        "blob" | "bytea" => "bytes",
        "double precision" | "real" => "real",
        other => return format!("unportable:{other}"),
    }
    .to_owned()
}

async fn schema(db: &Db) -> Schema {
    let sql = match db.backend() {
        Backend::Sqlite => {
            "SELECT m.name, p.name, p.type, 1 - p.\"notnull\" FROM sqlite_master m \
             JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'"
        }
        Backend::Postgres => {
            "SELECT table_name::text, column_name::text, data_type::text, \
             CASE WHEN is_nullable = 'YES' THEN 1::bigint ELSE 0::bigint END \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'"
        }
    };
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(sql).fetch_all(db.pool()).await.unwrap();
    let mut out = Schema::new();
    for (table, column, ty, nullable) in rows {
        out.entry(table).or_default().insert(column, (family(&ty), nullable == 1));
    }
    out
}

#[tokio::test]
async fn both_backends_produce_the_same_tables_and_columns() {
    let sqlite = schema(&TestDb::sqlite().await.db).await;
    assert!(sqlite.contains_key("signing_keys"), "{sqlite:?}");
    for (table, columns) in &sqlite {
        for (column, (fam, _)) in columns {
            assert!(!fam.starts_with("unportable"), "{table}.{column} is {fam}");
        }
    }
    let Some(pg) = testing::postgres_url() else {
        eprintln!("note: SHIKAKU_TEST_POSTGRES_URL not set; SQLite schema checked alone");
        return;
    };
    let postgres = schema(&TestDb::postgres(&pg).await.db).await;
    assert_eq!(sqlite, postgres);
}
