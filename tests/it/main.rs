//! End-to-end tests of the `shikaku` binary: configuration, start-up failures, serving on both
//! storage backends, shutdown, migrations and admin commands.

mod audit_cli;
#[path = "../../bridge/tests/browser/cdp.rs"]
#[expect(dead_code, reason = "the bridge tests' DevTools client; not every helper is used here")]
mod cdp;
mod cli;
mod demo;
mod device_api;
mod documents_cli;
mod hpki_cli;
mod import_cli;
mod kiosk;
mod serve;
mod staff;
mod verify;
#[path = "../../portal/tests/it/webdriver.rs"]
mod webdriver;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// A working folder for one test, where `shikaku` runs (`./data` lives there).
#[derive(Debug)]
pub struct Workdir {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Default for Workdir {
    fn default() -> Self {
        Self { dir: tempfile::tempdir().unwrap(), env: Vec::new() }
    }
}

impl Workdir {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn file(&self, name: &str, body: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_shikaku"));
        c.args(args).current_dir(self.path()).stdin(Stdio::null());
        for (k, _) in std::env::vars() {
            if k.starts_with("SHIKAKU_") && !k.starts_with("SHIKAKU_TEST_") {
                c.env_remove(k);
            }
        }
        c.env_remove("RUST_LOG");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Runs to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Starts a server with free ports; returns once every listener answers `/readyz` 200.
    pub async fn start(&self, args: &[&str]) -> Server {
        self.start_on(args, storage::testing::free_port(), storage::testing::free_port()).await
    }

    /// [`Self::start`] on the given ports (for a configuration that names them, such as a
    /// public URL).
    pub async fn start_on(&self, args: &[&str], idp_port: u16, portal_port: u16) -> Server {
        let log = self.path().join(format!("server-{idp_port}.log"));
        let metrics_port = storage::testing::free_port();
        let child = self
            .command(args)
            .env("SHIKAKU_IDP_LISTEN", format!("127.0.0.1:{idp_port}"))
            .env("SHIKAKU_PORTAL_LISTEN", format!("127.0.0.1:{portal_port}"))
            .env("SHIKAKU_METRICS_LISTEN", format!("127.0.0.1:{metrics_port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let server = Server { child: Some(child), idp_port, portal_port, metrics_port, log };
        let probe =
            if args.first() == Some(&"portal") { server.portal("/readyz") } else { server.idp("/readyz") };
        server.wait_ready(&probe).await;
        server
    }
}

/// A running `shikaku` server.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    pub idp_port: u16,
    pub portal_port: u16,
    pub metrics_port: u16,
    log: PathBuf,
}

impl Server {
    pub fn idp(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.idp_port)
    }

    pub fn portal(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.portal_port)
    }

    /// A URL of the management listener (`metrics_listen`).
    pub fn metrics(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.metrics_port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_ready(&self, url: &str) {
        for _ in 0..300 {
            if reqwest::get(url).await.is_ok_and(|res| res.status() == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server not ready at {url}; log:\n{}", self.log());
    }

    /// Sends SIGTERM and returns the exit status code.
    pub fn terminate(mut self) -> Option<i32> {
        let mut child = self.child.take().unwrap();
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(status.success());
        child.wait().unwrap().code()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().ok();
            c.wait().ok();
        }
    }
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
