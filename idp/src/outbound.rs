//! Outbound HTTP of the idp (client `jwks_uri`, back-channel logout): only to URIs an operator
//! registered, with a timeout, no redirects followed, and a cap on the response size.

use std::time::Duration;

/// An HTTP client for calls to registered client endpoints.
pub fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("shikaku-idp/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// GETs `url` and returns its body, refusing a non-2xx answer or a body over `max_bytes`.
pub async fn get_limited(url: &str, timeout: Duration, max_bytes: usize) -> Result<Vec<u8>, String> {
    let http = client(timeout).map_err(|e| e.to_string())?;
    let mut res = http.get(url).send().await.map_err(|e| e.to_string())?;
    if !res.status().is_success() {
        return Err(format!("status {}", res.status().as_u16()));
    }
    if res.content_length().is_some_and(|n| n > max_bytes as u64) {
        return Err("response too large".into());
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > max_bytes {
            return Err("response too large".into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
