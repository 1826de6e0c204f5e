//! SQL of the `clients` table.

use sqlx::Row;
use sqlx::any::AnyRow;
use storage::Db;

use super::{from_json, json};
use crate::clients::{AuthMethod, Client, GrantType, SubjectType};
use keys::SigningAlg;

const COLUMNS: &str = "client_id, name, secret_hash, auth_method, redirect_uris, post_logout_redirect_uris, \
     grant_types, scopes, skip_consent, subject_type, id_token_alg, backchannel_logout_uri, allowed_roles, \
     jwks, jwks_uri, tls_subject_dn, require_par, created_at, updated_at, min_acr";

fn enum_from<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, sqlx::Error> {
    from_json(&format!("\"{text}\""))
}

fn enum_to<T: serde::Serialize>(value: &T) -> String {
    json(value).trim_matches('"').to_owned()
}

fn row_to_client(row: &AnyRow) -> Result<Client, sqlx::Error> {
    let alg: String = row.try_get("id_token_alg")?;
    Ok(Client {
        client_id: row.try_get("client_id")?,
        name: row.try_get("name")?,
        secret_hash: row.try_get("secret_hash")?,
        auth_method: enum_from::<AuthMethod>(&row.try_get::<String, _>("auth_method")?)?,
        redirect_uris: from_json(&row.try_get::<String, _>("redirect_uris")?)?,
        post_logout_redirect_uris: from_json(&row.try_get::<String, _>("post_logout_redirect_uris")?)?,
        grant_types: from_json::<Vec<GrantType>>(&row.try_get::<String, _>("grant_types")?)?,
        scopes: from_json(&row.try_get::<String, _>("scopes")?)?,
        skip_consent: row.try_get::<i64, _>("skip_consent")? != 0,
        subject_type: enum_from::<SubjectType>(&row.try_get::<String, _>("subject_type")?)?,
        id_token_alg: SigningAlg::from_name(&alg)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown alg {alg}").into()))?,
        backchannel_logout_uri: row.try_get("backchannel_logout_uri")?,
        allowed_roles: from_json(&row.try_get::<String, _>("allowed_roles")?)?,
        jwks: row.try_get::<Option<String>, _>("jwks")?.map(|j| from_json(&j)).transpose()?,
        jwks_uri: row.try_get("jwks_uri")?,
        tls_subject_dn: row.try_get("tls_subject_dn")?,
        require_par: row.try_get::<i64, _>("require_par")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        min_acr: row.try_get("min_acr")?,
    })
}

/// One client by id.
pub async fn find_client(db: &Db, client_id: &str) -> Result<Option<Client>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM clients WHERE client_id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(client_id).fetch_optional(db.pool()).await?;
    row.as_ref().map(row_to_client).transpose()
}

/// Every client, by id.
pub async fn find_clients(db: &Db) -> Result<Vec<Client>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM clients ORDER BY client_id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(db.pool()).await?;
    rows.iter().map(row_to_client).collect()
}

/// Inserts a client (a duplicate id is a unique violation).
pub async fn create_client(db: &Db, c: &Client) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO clients ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
    );
    bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), c).execute(db.pool()).await?;
    Ok(())
}

/// Replaces every column of an existing client; false when it does not exist.
pub async fn update_client(db: &Db, c: &Client) -> Result<bool, sqlx::Error> {
    let sets: Vec<String> =
        COLUMNS.split(", ").enumerate().skip(1).map(|(i, col)| format!("{col} = ${}", i + 1)).collect();
    let sql = format!("UPDATE clients SET {} WHERE client_id = $1", sets.join(", "));
    let done = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), c).execute(db.pool()).await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes a client; false when it did not exist.
pub async fn delete_client(db: &Db, client_id: &str) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("DELETE FROM clients WHERE client_id = $1").bind(client_id).execute(db.pool()).await?;
    Ok(done.rows_affected() == 1)
}

fn bind_all<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    c: &Client,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    q.bind(c.client_id.clone())
        .bind(c.name.clone())
        .bind(c.secret_hash.clone())
        .bind(enum_to(&c.auth_method))
        .bind(json(&c.redirect_uris))
        .bind(json(&c.post_logout_redirect_uris))
        .bind(json(&c.grant_types))
        .bind(json(&c.scopes))
        .bind(i64::from(c.skip_consent))
        .bind(enum_to(&c.subject_type))
        .bind(c.id_token_alg.name())
        .bind(c.backchannel_logout_uri.clone())
        .bind(json(&c.allowed_roles))
        .bind(c.jwks.as_ref().map(json))
        .bind(c.jwks_uri.clone())
        .bind(c.tls_subject_dn.clone())
        .bind(i64::from(c.require_par))
        .bind(c.created_at)
        .bind(c.updated_at)
        .bind(c.min_acr.clone())
}
