//! A portal router served on a real port for the headless browser, signed in.

use crate::browser::{dump_dom, screenshot, screenshot_dir};

/// A router served on a real port for the browser, with one extra test-only route:
/// `/__test/sign-in?to=PATH` sets the portal session cookie `sid` and redirects to `PATH`
/// (Chromium takes no cookie on its command line); `&sid=OTHER` signs in as another session
/// instead (one browser acting as several people in turn). Dropping it stops the server.
pub struct Served {
    base: String,
    server: tokio::task::JoinHandle<()>,
}

impl Served {
    /// Serves `app` with the sign-in route for the session `sid`.
    pub async fn signed_in(app: axum::Router, sid: &str) -> Self {
        use axum::extract::Query;
        use axum::http::header;
        use axum::response::{IntoResponse, Redirect};

        #[derive(serde::Deserialize)]
        struct To {
            to: String,
            sid: Option<String>,
        }
        let site = web::Site::new("portal", crate::PUBLIC_URL);
        let sid = sid.to_owned();
        let routes = axum::Router::new()
            .route(
                "/__test/sign-in",
                axum::routing::get(move |Query(q): Query<To>| async move {
                    let mut res = Redirect::to(&q.to).into_response();
                    let sid = q.sid.as_deref().unwrap_or(&sid);
                    res.headers_mut()
                        .append(header::SET_COOKIE, portal::signin::set_session_cookie(&site, sid));
                    res
                }),
            )
            .fallback_service(app);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, routes).await.unwrap() });
        Self { base, server }
    }

    /// The URL that signs the browser in and opens `path`.
    pub fn url(&self, path: &str) -> String {
        let to: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
        format!("{}/__test/sign-in?to={to}", self.base)
    }

    /// The URL that signs the browser in with the session cookie `cookie` (`name=sid`, as
    /// [`crate::TestApp::sign_in`] returns it) and opens `path`.
    pub fn url_as(&self, cookie: &str, path: &str) -> String {
        let sid = cookie.split_once('=').map_or(cookie, |(_, v)| v);
        let sid: String = form_urlencoded::byte_serialize(sid.as_bytes()).collect();
        format!("{}&sid={sid}", self.url(path))
    }

    /// Dumps `path`'s DOM and saves its screenshot as `name` (suffixed with the backend
    /// unless SQLite) in [`screenshot_dir`]; returns the DOM.
    pub async fn capture(&self, path: &str, name: &str, backend: &str) -> String {
        let url = self.url(path);
        let dom = dump_dom(&url).await;
        let file = if backend == "sqlite" { format!("{name}.png") } else { format!("{name}-{backend}.png") };
        let shot = screenshot_dir().join(file);
        screenshot(&url, &shot, (1200, 1600)).await;
        assert!(std::fs::metadata(&shot).unwrap().len() > 10_000, "a page, not a blank image: {path}");
        dom
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.server.abort();
    }
}
