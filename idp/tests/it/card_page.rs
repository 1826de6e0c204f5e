//! The card sign-in page in a real headless Chromium: `static/card.js` talks to a stand-in for
//! the bridge extension (same Web eID message protocol, served by this test on the idp's
//! origin) and shows each state in the page's language; a token signed by a test-PKI card
//! goes through the idp's real validation and starts a session.

use std::sync::Arc;

use axum::extract::Query;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use axum::routing::get;
use idp::App;
use storage::testing::TestEnv;

use crate::browser;
use crate::live::{Live, pki};

storage::each_backend!(card_page_states_in_headless_chromium, bridge_check_page_without_the_extension);

/// The bridge stand-in: answers `web-eid:authenticate` as the extension would, per the
/// scenario in `window.__scenario`. With `run` in the page URL's hash it plays each listed
/// scenario in turn (click, wait for the final status text) and lists the texts in
/// `<ul id="results">`.
const BRIDGE_JS: &str = r#"(function () {
  "use strict";
  window.__scenario = "sign";
  // "sign": the idp's answer to the token is recorded instead of followed (a navigation would
  // end the page that holds the results): status, `next`, and whether `/account` now shows
  // this browser's card session.
  var realFetch = window.fetch;
  window.fetch = async function (input, init) {
    var res = await realFetch(input, init);
    if (String(input) !== "/login/card" || window.__scenario !== "sign") return res;
    var body = await res.clone().json();
    var account = await (await realFetch("/account", { credentials: "same-origin" })).text();
    var seen = account.indexOf("（このブラウザ）") >= 0 && account.indexOf("医師資格証（カード＋PIN）") >= 0
      ? "account lists this browser's card session" : "no session on /account";
    var detail = "signed in: " + res.status + ", next " + body.next + ", " + seen;
    return new Response(JSON.stringify({ detail: detail }), { status: 200, headers: { "Content-Type": "application/json" } });
  };
  window.addEventListener("message", async function (event) {
    if (event.source !== window || !event.data || event.data.action !== "web-eid:authenticate") return;
    var s = window.__scenario;
    if (s === "absent") return;
    window.postMessage({ action: "web-eid:authenticate-ack" }, window.location.origin);
    if (s === "tries") {
      var error = { code: "ERR_WEBEID_PIN_INVALID", pinTriesLeft: 2 };
      window.postMessage({ action: "web-eid:authenticate-failure", error: error }, window.location.origin);
      return;
    }
    if (s.indexOf("ERR_") === 0 || s === "ERR") {
      window.postMessage({ action: "web-eid:authenticate-failure", error: { code: s } }, window.location.origin);
      return;
    }
    if (s === "expired") await fetch("/__test/expire", { credentials: "same-origin" });
    var card = s === "revoked" ? "revoked-doctor-auth" : "doctor-auth";
    var res = await fetch("/__test/sign?card=" + card + "&nonce=" + encodeURIComponent(event.data.challengeNonce));
    var token = await res.json();
    token.action = "web-eid:authenticate-success";
    window.postMessage(token, window.location.origin);
  });
  document.addEventListener("DOMContentLoaded", function () {
    var run = decodeURIComponent(window.location.hash.slice(1)).split(",").filter(Boolean);
    var form = document.getElementById("card-login");
    var status = document.getElementById("card-status");
    var list = document.createElement("ul");
    list.id = "results";
    document.body.appendChild(list);
    function settled() {
      var t = status.textContent;
      return t !== "" && t !== form.dataset.msgWorking;
    }
    function next() {
      var s = run.shift();
      if (!s) return;
      window.__scenario = s;
      status.textContent = "";
      form.querySelector("button").click();
      var poll = setInterval(function () {
        if (!settled()) return;
        clearInterval(poll);
        var li = document.createElement("li");
        li.dataset.scenario = s;
        li.textContent = status.textContent;
        list.appendChild(li);
        next();
      }, 50);
    }
    next();
  });
})();
"#;

#[derive(serde::Deserialize)]
struct SignQuery {
    card: String,
    nonce: String,
}

/// The idp with test routes in front: `/__test/page` is the idp's sign-in page with the
/// bridge stand-in added before `card.js`; the others serve the stand-in, sign a challenge
/// with a test card, and expire the browser's challenge.
fn test_routes(app: &Arc<App>, idp: axum::Router) -> axum::Router {
    let kv = app.kv.clone();
    let login = idp.clone();
    axum::Router::new()
        .route(
            "/__test/page",
            get(move |req: axum::extract::Request| async move {
                let uri = format!("/login?{}", req.uri().query().unwrap_or_default());
                let mut inner = axum::http::Request::get(uri).body(axum::body::Body::empty()).unwrap();
                *inner.headers_mut() = req.headers().clone();
                let res = tower::ServiceExt::oneshot(login, inner).await.unwrap();
                let (mut parts, body) = res.into_parts();
                let html =
                    String::from_utf8(axum::body::to_bytes(body, 1 << 20).await.unwrap().to_vec()).unwrap();
                let card_js = "<script src=\"/static/card.js\" defer></script>";
                assert!(html.contains(card_js), "{html}");
                let html =
                    html.replace(card_js, &format!("<script src=\"/__test/bridge.js\"></script>{card_js}"));
                parts.headers.remove(header::CONTENT_LENGTH);
                axum::response::Response::from_parts(parts, axum::body::Body::from(html))
            }),
        )
        .route(
            "/__test/bridge.js",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], BRIDGE_JS) }),
        )
        .route(
            "/__test/sign",
            get(|headers: HeaderMap, Query(q): Query<SignQuery>| async move {
                let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
                let card = pki().card(&q.card).unwrap().virtual_card();
                let token =
                    card.token(&format!("http://{host}"), &q.nonce, card.default_algorithm()).unwrap();
                ([(header::CONTENT_TYPE, "application/json")], token).into_response()
            }),
        )
        .route(
            "/__test/expire",
            get(move |headers: HeaderMap| async move {
                let login = web::cookies::get(&headers, "idp_login").unwrap_or_default().to_owned();
                let deleted = kv.delete(&format!("challenge:{login}")).await.unwrap();
                assert!(deleted, "the page asked for a challenge first");
                "expired"
            }),
        )
        .fallback_service(idp)
}

async fn live(env: TestEnv) -> Live {
    Live::start_routed(env, true, |c| c, test_routes).await
}

/// The sign-in page with the stand-in script.
fn page_with_bridge(live: &Live, lang: &str) -> String {
    live.url(&format!("/__test/page?lang={lang}"))
}

/// The texts of `<li data-scenario="…">` in the results list, in order.
fn results(dom: &str) -> Vec<(String, String)> {
    let list = &dom[dom.find("<ul id=\"results\">").unwrap_or_else(|| panic!("no results: {dom}"))..];
    let list = &list[..list.find("</ul>").unwrap()];
    list.split("<li data-scenario=\"")
        .skip(1)
        .map(|item| {
            let (scenario, rest) = item.split_once("\">").unwrap();
            (scenario.to_owned(), rest.trim_end_matches("</li>").to_owned())
        })
        .collect()
}

async fn card_page_states_in_headless_chromium(env: TestEnv) {
    let backend = env.db.db.backend().name();
    let live = live(env).await;
    let scenarios = "absent,ERR_WEBEID_NO_READERS,ERR_WEBEID_NO_CARD,ERR_WEBEID_PIN_INVALID,tries,\
                     ERR_WEBEID_PIN_BLOCKED,ERR_WEBEID_UNKNOWN_CARD,ERR_WEBEID_NATIVE_UNAVAILABLE,\
                     ERR_WEBEID_MODULE_NOT_FOUND,ERR_WEBEID_USER_CANCELLED,ERR_WEBEID_USER_TIMEOUT,ERR_SOMETHING_NEW,expired,revoked,sign";
    let url = format!("{}#{scenarios}", page_with_bridge(&live, "ja"));
    let dom = browser::dump_dom_after(&url, 60_000).await;
    let expected = [
        (
            "absent",
            "カード連携拡張機能が見つかりません。拡張機能をインストールし、有効にしてください。 (ERR_WEBEID_EXTENSION_UNAVAILABLE)",
        ),
        (
            "ERR_WEBEID_NO_READERS",
            "カードリーダーが見つかりません。接続を確認してください。 (ERR_WEBEID_NO_READERS)",
        ),
        (
            "ERR_WEBEID_NO_CARD",
            "カードが読み取れません。医師資格証をリーダーに置いてください。 (ERR_WEBEID_NO_CARD)",
        ),
        (
            "ERR_WEBEID_PIN_INVALID",
            "暗証番号が正しくありません。入力を続けて誤るとカードがロックされます。 (ERR_WEBEID_PIN_INVALID)",
        ),
        (
            "tries",
            "暗証番号が正しくありません。入力を続けて誤るとカードがロックされます。 残り回数: 2 (ERR_WEBEID_PIN_INVALID)",
        ),
        (
            "ERR_WEBEID_PIN_BLOCKED",
            "暗証番号がロックされています。カードの発行元にロック解除を依頼してください。 (ERR_WEBEID_PIN_BLOCKED)",
        ),
        (
            "ERR_WEBEID_UNKNOWN_CARD",
            "このカードには医師資格証の認証用証明書が見つかりません。医師資格証を置いてください。 (ERR_WEBEID_UNKNOWN_CARD)",
        ),
        (
            "ERR_WEBEID_NATIVE_UNAVAILABLE",
            "医師資格証ブリッジ（shikaku-bridge）がインストールされていないか、この拡張機能からの利用が許可されていません。 (ERR_WEBEID_NATIVE_UNAVAILABLE)",
        ),
        (
            "ERR_WEBEID_MODULE_NOT_FOUND",
            "カードリーダー用のソフトウェア（PKCS#11 モジュール）が見つかりません。 (ERR_WEBEID_MODULE_NOT_FOUND)",
        ),
        ("ERR_WEBEID_USER_CANCELLED", "ログインを中止しました。 (ERR_WEBEID_USER_CANCELLED)"),
        (
            "ERR_WEBEID_USER_TIMEOUT",
            "時間内に操作が完了しませんでした。もう一度お試しください。 (ERR_WEBEID_USER_TIMEOUT)",
        ),
        ("ERR_SOMETHING_NEW", "カードでのログインに失敗しました。 (ERR_SOMETHING_NEW)"),
        // Answers of the idp's validation, in the page's language.
        ("expired", "ログインの有効時間が過ぎました。もう一度お試しください。 (nonce_unknown)"),
        ("revoked", "この証明書は失効しています。 (cert_revoked)"),
        ("sign", "signed in: 200, next /, account lists this browser's card session"),
    ];
    let got = results(&dom);
    let want: Vec<(String, String)> =
        expected.iter().map(|(s, t)| ((*s).to_owned(), (*t).to_owned())).collect();
    assert_eq!(got, want, "{dom}");

    let name =
        if backend == "sqlite" { "idp-login.png".to_owned() } else { format!("idp-login-{backend}.png") };
    let shot = browser::screenshot_dir().join(name);
    browser::screenshot(&live.url("/login?lang=ja"), &shot, (1200, 1600)).await;
}

/// `/bridge` in a browser without the extension: the extension is reported missing, the host
/// and card cannot be checked, and the installation steps are there.
async fn bridge_check_page_without_the_extension(env: TestEnv) {
    let live = Live::start(env).await;
    let dom = browser::dump_dom_after(&live.url("/bridge?lang=ja"), 5_000).await;
    assert!(dom.contains("<td id=\"bridge-extension\" class=\"missing\">見つかりません</td>"), "{dom}");
    assert!(
        dom.contains("<td id=\"bridge-host\" class=\"\">確認できません（拡張機能が必要です）</td>"),
        "{dom}"
    );
    assert!(dom.contains("<li id=\"step-extension\" class=\"todo\">"), "{dom}");
    assert!(dom.contains("shikaku-bridge install --user"), "{dom}");
    let dom = browser::dump_dom(&live.url("/bridge?lang=en")).await;
    assert!(dom.contains("Card connection check"), "{dom}");
}
