//! The portal's device API end to end through the binary: a reader terminal registered with
//! `admin client add` gets a token from the idp (client credentials, `resource` = the portal),
//! posts a batch of card taps (certificates of the demo's cards) and reads the event's
//! attendance; sending the batch again changes nothing; tokens without the scope, for another
//! audience or none at all are refused with problem+json; the OpenAPI document describes the
//! operations served.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hpki::testpki::TestPki;
use serde_json::{Value, json};

use crate::{Server, Workdir, stderr, stdout};

/// The demo's test-PKI seed (`src/demo.rs`).
const DEMO_SEED: u64 = 2026;

async fn token(server: &Server, id: &str, secret: &str, scope: &str, resource: Option<&str>) -> (u16, Value) {
    let mut form = vec![("grant_type", "client_credentials"), ("scope", scope)];
    if let Some(r) = resource {
        form.push(("resource", r));
    }
    let res = reqwest::Client::new()
        .post(server.idp("/token"))
        .basic_auth(id, Some(secret))
        .form(&form)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn call(req: reqwest::RequestBuilder) -> (u16, String, Value) {
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let kind = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, kind, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_reader_terminal_posts_taps_with_a_token_of_the_idp() {
    let w = Workdir::new();
    let server = w.start(&["demo"]).await;
    let portal = server.portal("");
    let out = w.run(&[
        "admin",
        "client",
        "add",
        "--client-id",
        "reader-1",
        "--name",
        "会場カードリーダー 1",
        "--grant-type",
        "client_credentials",
        "--scope",
        "attendance:write",
        "--scope",
        "attendance:read",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let added: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let secret = added["client_secret"].as_str().unwrap().to_owned();
    // Today's event.
    let today = time::OffsetDateTime::now_utc().to_offset(keys::clock::JST).date();
    let csv = format!(
        "registration_number,event_id,event_title,organizer,date,credits,status\n512345,DEV-1,端末受付の講習会,資格医師会,{today},jma_cme:76=1,rejected\n"
    );
    let file = w.file("event.csv", &csv);
    let out = w.run(&["admin", "import", "attendance", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Tokens: a resource the idp does not serve is invalid_target; the portal's is fine.
    let (status, body) =
        token(&server, "reader-1", &secret, "attendance:write", Some("https://evil.example")).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_target")), "{body}");
    let (status, body) =
        token(&server, "reader-1", &secret, "attendance:write attendance:read", Some(&portal)).await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().unwrap().to_owned();
    let (_, body) = token(&server, "reader-1", &secret, "attendance:read", Some(&portal)).await;
    let read_only = body["access_token"].as_str().unwrap().to_owned();
    let (_, body) = token(&server, "reader-1", &secret, "attendance:write", None).await;
    let other_audience = body["access_token"].as_str().unwrap().to_owned();

    let pki = tokio::task::spawn_blocking(|| TestPki::generate(DEMO_SEED)).await.unwrap().unwrap();
    let cert = |name: &str| STANDARD.encode(&pki.card(name).unwrap().issued.der);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let batch = json!({ "records": [
        { "id": "dev-tap-0001", "certificate": cert("doctor-auth"), "tapped_at": now - 3600 },
        { "id": "dev-tap-0002", "certificate": cert("doctor-auth-p384"), "tapped_at": now - 3500 },
        { "id": "dev-tap-0003", "certificate": cert("doctor-auth"), "tapped_at": now - 60 },
        { "id": "dev-tap-0004", "certificate": cert("revoked-doctor-auth"), "tapped_at": now - 50 },
        { "id": "dev-tap-0005", "certificate": cert("director-auth"), "tapped_at": now - 40 },
        { "id": "bad id!", "certificate": cert("doctor-auth"), "tapped_at": now },
        { "id": "dev-tap-0007", "certificate": cert("doctor-auth-p256"), "tapped_at": now - 86400 * 3 },
    ]});
    let url = format!("{portal}/api/v1/events/DEV-1/attendance");
    let http = reqwest::Client::new();
    let (status, _, answer) = call(http.post(&url).bearer_auth(&access).json(&batch)).await;
    assert_eq!(status, 200, "{answer}");
    let results = answer["results"].as_array().unwrap();
    let outcome = |i: usize| {
        results[i]["outcome"].as_str().or(results[i]["error"]["code"].as_str()).unwrap().to_owned()
    };
    let outcomes: Vec<String> = (0..results.len()).map(outcome).collect();
    assert_eq!(
        outcomes,
        [
            "check_in",
            "check_in",
            "check_out",
            "cert_revoked",
            "check_in",
            "record_malformed",
            "tap_outside_event"
        ],
        "{answer}"
    );
    assert_eq!(results[0]["name"], "日本　太郎");
    assert_eq!(results[2]["checked_in_at"], now - 3600);
    assert_eq!(results[2]["checked_out_at"], now - 60);
    assert_eq!(results[4]["linked"], false, "the director's card is not in the registry");

    // The same batch again: the same answers, nothing doubled.
    let (status, _, again) = call(http.post(&url).bearer_auth(&access).json(&batch)).await;
    assert_eq!(status, 200);
    // (The first tap's answer now also shows the check-out the batch recorded.)
    let mut expected = answer.clone();
    expected["results"][0]["checked_out_at"] = json!(now - 60);
    assert_eq!(again, expected);
    let (status, _, read) = call(http.get(&url).bearer_auth(&read_only)).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["unlinked_cards"], 1);
    let mut records: Vec<(String, String, Value, Value)> = read["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["registration_number"].as_str().unwrap().into(),
                r["status"].as_str().unwrap().into(),
                r["checked_in_at"].clone(),
                r["checked_out_at"].clone(),
            )
        })
        .collect();
    records.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(
        records,
        [
            ("498765".into(), "provisional".into(), json!(now - 3500), Value::Null),
            ("512345".into(), "provisional".into(), json!(now - 3600), json!(now - 60)),
            ("512345".into(), "rejected".into(), Value::Null, Value::Null),
        ],
        "{read}"
    );

    // Refusals, as problem+json.
    let problem = "application/problem+json";
    let (status, kind, body) = call(http.post(&url).json(&batch)).await;
    assert_eq!((status, kind.as_str(), body["code"].as_str()), (401, problem, Some("invalid_token")));
    let (status, _, body) = call(http.post(&url).bearer_auth(&read_only).json(&batch)).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("insufficient_scope")), "{body}");
    let (status, _, body) = call(http.post(&url).bearer_auth(&other_audience).json(&batch)).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("invalid_token")), "{body}");
    let mut forged = access.clone();
    forged.pop();
    forged.push(if access.ends_with('A') { 'B' } else { 'A' });
    let (status, _, body) = call(http.get(&url).bearer_auth(&forged)).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("invalid_token")), "{body}");
    let (status, _, body) = call(
        http.post(format!("{portal}/api/v1/events/NO-SUCH/attendance")).bearer_auth(&access).json(&batch),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (404, Some("event_unknown")), "{body}");
    let (status, kind, body) = call(
        http.post(&url)
            .bearer_auth(&access)
            .header("content-type", "application/json")
            .body("{\"records\": 1}"),
    )
    .await;
    assert_eq!(
        (status, kind.as_str(), body["code"].as_str()),
        (400, problem, Some("batch_malformed")),
        "{body}"
    );
    let (status, _, body) = call(http.post(&url).bearer_auth(&access).json(&json!({ "records": [] }))).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("batch_malformed")), "{body}");
    let huge = json!({ "records": [{ "id": "dev-tap-9999", "certificate": "A".repeat(5 * 1024 * 1024), "tapped_at": now }] });
    let (status, kind, _) = call(http.post(&url).bearer_auth(&access).json(&huge)).await;
    assert_eq!((status, kind.as_str()), (413, problem));

    // The OpenAPI document describes what is served. (A new client: the server closes the
    // connection that sent the oversized body unread.)
    let (status, _, doc) = call(reqwest::Client::new().get(format!("{portal}/api/v1/openapi.json"))).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let path = &doc["paths"]["/api/v1/events/{id}/attendance"];
    assert_eq!(path["post"]["security"][0]["idp"], json!(["attendance:write"]));
    assert_eq!(path["get"]["security"][0]["idp"], json!(["attendance:read"]));
    for code in ["200", "400", "401", "403", "404", "413", "503"] {
        assert!(path["post"]["responses"][code].is_object(), "POST documents {code}");
    }
    // Every $ref points into the document.
    let text = doc.to_string();
    for part in text.split("\"$ref\":\"#/").skip(1) {
        let pointer = format!("/{}", &part[..part.find('"').unwrap()]);
        assert!(doc.pointer(&pointer).is_some(), "dangling $ref {pointer}");
    }
    let tap_schema = &doc["components"]["schemas"]["Tap"]["required"];
    assert_eq!(tap_schema, &json!(["id", "certificate", "tapped_at"]));
    assert_eq!(server.terminate(), Some(0));
}
