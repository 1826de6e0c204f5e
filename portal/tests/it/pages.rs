//! The portal's pages and health endpoints on both backends.

use axum::body::Body;
use axum::http::Request;
use storage::testing::TestEnv;

use crate::{TestApp, text};

storage::each_backend!(home_page_in_both_languages, ready_on_its_backend);

async fn home_page_in_both_languages(env: TestEnv) {
    let app = TestApp::new(env).await;
    let res = app.send(Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-language"], "ja");
    let html = text(res).await;
    assert!(html.contains("<html lang=\"ja\">") && html.contains("受講履歴"), "{html}");
    assert!(html.contains("href=\"/login\""), "a sign-in link when signed out: {html}");
    assert!(html.contains("href=\"?lang=en\""), "a language switch: {html}");
    let res = app.send(Request::get("/?lang=en").body(Body::empty()).unwrap()).await;
    let html = text(res).await;
    assert!(html.contains("<h1>shikaku portal</h1>"), "{html}");
}

async fn ready_on_its_backend(env: TestEnv) {
    let backend = env.db.db.backend().name();
    let kv = env.kv.backend().name();
    let app = TestApp::new(env).await;
    let res = app.send(Request::get("/readyz").body(Body::empty()).unwrap()).await;
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = serde_json::from_str(&text(res).await).unwrap();
    assert_eq!(v["checks"]["database"]["backend"], backend);
    assert_eq!(v["checks"]["kv"]["backend"], kv);
}
