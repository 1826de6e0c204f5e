//! Rate limits: 429 with `Retry-After` as OAuth `slow_down` at `/token` and as problem+json at
//! `POST /login/card`.

use idp::clients::AuthMethod;
use idp::rate_limit::{Limit, RateLimits};
use storage::testing::TestEnv;

use crate::live::{self, CLIENT_ID, Live, browser, card_sign_in, post_as};

storage::each_backend!(
    token_endpoint_per_client_and_per_ip,
    card_sign_in_per_ip_and_per_account,
    virtual_card_sign_in_per_ip_is_a_page,
);

async fn token_endpoint_per_client_and_per_ip(env: TestEnv) {
    let live = Live::start_with(env, |c| idp::IdpConfig {
        rate_limits: RateLimits {
            token_per_ip: Limit::per(5, 600),
            token_per_client: Limit::per(2, 600),
            ..RateLimits::default()
        },
        ..c
    })
    .await;
    live::register(&live.env.db.db, live::client("second-rp", AuthMethod::ClientSecretBasic)).await;
    let form = [("grant_type", "client_credentials"), ("scope", "hpki")];
    for _ in 0..2 {
        assert_eq!(post_as(&live, "/token", CLIENT_ID, &form).await.0, 200);
    }
    // Third request of the same client.
    let res = reqwest::Client::new()
        .post(live.url("/token"))
        .basic_auth(CLIENT_ID, Some(live::CLIENT_SECRET))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=600).contains(&retry), "{retry}");
    insta::assert_snapshot!(res.text().await.unwrap(), @r#"{"error":"slow_down","error_description":"too many token requests; retry after Retry-After seconds"}"#);
    // Another client from the same address: allowed until the per-IP limit (5) is passed.
    assert_eq!(post_as(&live, "/token", "second-rp", &form).await.0, 200);
    assert_eq!(post_as(&live, "/token", "second-rp", &form).await.0, 200);
    let (status, body) = post_as(&live, "/token", "second-rp", &form).await;
    assert_eq!(status, 429);
    assert_eq!(body["error"], "slow_down");
}

async fn card_sign_in_per_ip_and_per_account(env: TestEnv) {
    let live = Live::start_with(env, |c| idp::IdpConfig {
        rate_limits: RateLimits {
            sign_in_per_ip: Limit::per(3, 600),
            sign_in_per_account: Limit::per(1, 600),
            ..RateLimits::default()
        },
        ..c
    })
    .await;
    // One sign-in with the card, then the same card again: the per-account limit.
    let (status, _) = card_sign_in(&live, &browser(), "/login", "doctor-auth").await;
    assert_eq!(status, 200);
    let b = browser();
    let page = b.get(live.url("/login")).send().await.unwrap().text().await.unwrap();
    let csrf = live::csrf_of(&page);
    let post = |token: serde_json::Value| {
        let (b, csrf, live) = (&b, csrf.clone(), &live);
        async move {
            b.post(live.url("/login/card"))
                .header("x-csrf-token", csrf)
                .header("origin", live.app.site.origin())
                .header("accept-language", "en")
                .json(&serde_json::json!({ "auth_token": token }))
                .send()
                .await
                .unwrap()
        }
    };
    let challenge: serde_json::Value =
        b.get(live.url("/login/card/challenge")).send().await.unwrap().json().await.unwrap();
    let card = live::pki().card("doctor-auth").unwrap().virtual_card();
    let token = card
        .token(live.app.site.origin(), challenge["nonce"].as_str().unwrap(), card.default_algorithm())
        .unwrap();
    let res = post(serde_json::from_str(&token).unwrap()).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    insta::assert_snapshot!(res.text().await.unwrap(), @r#"{"type":"/problems/rate-limited","title":"Too many requests","status":429,"detail":"There were too many attempts in a short time. Wait a moment and try again.","code":"rate_limited"}"#);

    // Per IP: two attempts used so far; the third is refused before anything else is looked at.
    let res = post(serde_json::json!({})).await;
    assert_eq!(res.status(), 400, "third attempt still counted, fails on its own");
    let res = post(serde_json::json!({})).await;
    assert_eq!(res.status(), 429);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
}

async fn virtual_card_sign_in_per_ip_is_a_page(env: TestEnv) {
    let live = Live::start_with(env, |c| idp::IdpConfig {
        rate_limits: RateLimits { sign_in_per_ip: Limit::per(1, 600), ..RateLimits::default() },
        demo_cards: vec![idp::signin::virtual_card::DemoCard {
            id: "taro".into(),
            label: "日本 太郎".into(),
            label_en: "Nihon Taro".into(),
            card: live::pki().card("doctor-auth").unwrap().virtual_card(),
        }],
        ..c
    })
    .await;
    let b = browser();
    let page = b.get(live.url("/login")).send().await.unwrap().text().await.unwrap();
    let csrf = live::csrf_of(&page);
    let sign_in = || {
        b.post(live.url("/login/virtual-card"))
            .header("origin", live.app.site.origin())
            .form(&[("csrf_token", csrf.as_str()), ("card", "taro")])
            .send()
    };
    let res = sign_in().await.unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let res = sign_in().await.unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    let html = res.text().await.unwrap();
    assert!(html.contains("しばらくお待ちください"), "{html}");
}
