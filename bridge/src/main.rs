//! `shikaku-bridge`: the card bridge's native-messaging host and its installer.
//!
//! Started by a browser (argument `chrome-extension://<id>/` from Chromium, or a manifest
//! path and the extension id from Firefox) it serves the extension's requests on
//! stdin/stdout; otherwise it runs a subcommand (`install`, `uninstall`, `doctor`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bridge::commands::Host;
use bridge::install::{Browser, Scope, Selection};
use bridge::{Platform, ProcessEnv, config, doctor, framing, install, softhsm};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// The card bridge's native-messaging host: lets the Shikaku browser extension use the HPKI
/// card through PKCS#11.
///
/// Browsers start it themselves (with the extension's origin or id as argument) once
/// `shikaku-bridge install` has registered it. Configuration: docs/bridge.md §5
/// ($SHIKAKU_BRIDGE_CONFIG, the user file, the system file; $SHIKAKU_BRIDGE_PKCS11 overrides
/// the module list).
#[derive(Debug, Parser)]
#[command(name = "shikaku-bridge", version, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Registers the host with the browsers (writes the host manifest jp.shikaku.bridge.json
    /// where each browser looks) and writes the configuration file when --allow-origin or
    /// --module is given. Prints every path written.
    Install(InstallArgs),
    /// Removes the host manifests of the selected browsers (and, with --remove-config, the
    /// configuration file). Prints every path removed.
    Uninstall(UninstallArgs),
    /// Prints what a support desk needs (host, configuration, modules, readers, card
    /// certificates, browser registrations) and a one-line verdict. Exit status 0 when all is
    /// well, 1 otherwise.
    Doctor {
        /// Check the manifest in this Chromium profile folder (DIR/NativeMessagingHosts/)
        /// instead of the browsers' usual locations.
        #[arg(long, value_name = "DIR")]
        user_data_dir: Option<PathBuf>,
    },
    /// Test support: reads a provisioning job (JSON) on stdin and creates a SoftHSM2 token
    /// from it, with SOFTHSM2_CONF taken from the environment.
    #[command(hide = true)]
    SofthsmProvision {
        /// The SoftHSM2 module.
        #[arg(long, default_value = softhsm::MODULE)]
        module: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BrowserArg {
    /// Chromium.
    Chromium,
    /// Google Chrome.
    Chrome,
    /// Microsoft Edge.
    Edge,
    /// Mozilla Firefox.
    Firefox,
    /// All of the above.
    All,
}

#[derive(Debug, Args)]
struct SelectionArgs {
    /// The browser to register with; repeat for several. Default: all.
    #[arg(long, value_enum, value_name = "BROWSER")]
    browser: Vec<BrowserArg>,
    /// For this user only (the default): the user's browser folders (HKCU on Windows).
    #[arg(long, conflicts_with = "system")]
    user: bool,
    /// For every user of the machine: the system folders (HKLM on Windows); needs
    /// administrator rights.
    #[arg(long)]
    system: bool,
    /// Use this Chromium-family profile folder (--user-data-dir of the browser): the manifest
    /// goes to DIR/NativeMessagingHosts/.
    #[arg(long, value_name = "DIR")]
    user_data_dir: Option<PathBuf>,
    /// The configuration file to write (default: the user file, or with --system the system
    /// file).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct InstallArgs {
    #[command(flatten)]
    selection: SelectionArgs,
    /// An origin (scheme://host or scheme://host:port, compared exactly) allowed to read the authentication
    /// certificate without a PIN; repeat for several. Replaces the file's certificate_origins.
    #[arg(long, value_name = "ORIGIN")]
    allow_origin: Vec<String>,
    /// A PKCS#11 module to try, in order; repeat for several. Replaces the file's modules.
    #[arg(long, value_name = "PATH")]
    module: Vec<PathBuf>,
    /// The host executable the manifests point at (default: this executable).
    #[arg(long, value_name = "PATH")]
    host_path: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct UninstallArgs {
    #[command(flatten)]
    selection: SelectionArgs,
    /// Also remove the configuration file (the --config file, or the user or system file).
    #[arg(long)]
    remove_config: bool,
}

impl SelectionArgs {
    fn selection(&self) -> Selection {
        let mut browsers = Vec::new();
        for b in &self.browser {
            let add: &[Browser] = match b {
                BrowserArg::Chromium => &[Browser::Chromium],
                BrowserArg::Chrome => &[Browser::Chrome],
                BrowserArg::Edge => &[Browser::Edge],
                BrowserArg::Firefox => &[Browser::Firefox],
                BrowserArg::All => &Browser::ALL,
            };
            for b in add {
                if !browsers.contains(b) {
                    browsers.push(*b);
                }
            }
        }
        if browsers.is_empty() {
            browsers = Browser::ALL.to_vec();
        }
        Selection {
            platform: Platform::current(),
            browsers,
            scope: if self.system { Scope::System } else { Scope::User },
            user_data_dir: self.user_data_dir.as_ref().map(|d| absolute(d)),
            config: self.config.clone(),
        }
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Whether the arguments are a browser's: Chromium passes the caller's origin
/// (`chrome-extension://…/`, and on Windows `--parent-window=…`), Firefox the manifest path
/// and the extension id.
fn started_by_browser(args: &[String]) -> bool {
    args.get(1).is_some_and(|a| {
        a.starts_with("chrome-extension://") || a.starts_with("--parent-window=") || a.ends_with(".json")
    })
}

fn serve() -> ExitCode {
    let mut host = Host::new(config::load());
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let code = framing::serve(stdin.lock(), stdout.lock(), |body| host.handle(body));
    host.finish();
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn fail(message: &str) -> ExitCode {
    eprintln!("shikaku-bridge: {message}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if started_by_browser(&args) {
        return serve();
    }
    let cli = Cli::parse();
    match cli.command {
        Cmd::Install(a) => {
            let host = match &a.host_path {
                Some(p) => absolute(p),
                None => match std::env::current_exe() {
                    Ok(p) => p,
                    Err(e) => return fail(&format!("cannot find this executable: {e}")),
                },
            };
            let modules: Vec<PathBuf> = a.module.iter().map(|m| absolute(m)).collect();
            match install::install(&a.selection.selection(), &ProcessEnv, &host, &a.allow_origin, &modules) {
                Ok(lines) => {
                    for l in lines {
                        println!("{l}");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Cmd::Uninstall(a) => {
            let exe = std::env::current_exe().unwrap_or_default();
            let exe_dir = exe.parent().unwrap_or(Path::new("."));
            match install::uninstall(&a.selection.selection(), &ProcessEnv, exe_dir, a.remove_config) {
                Ok(lines) if lines.is_empty() => {
                    println!("nothing to remove");
                    ExitCode::SUCCESS
                }
                Ok(lines) => {
                    for l in lines {
                        println!("{l}");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Cmd::Doctor { user_data_dir } => {
            let report = doctor::run(&ProcessEnv, user_data_dir.map(|d| absolute(&d)).as_deref());
            for l in &report.lines {
                println!("{l}");
            }
            println!("{}", report.verdict());
            if report.problem.is_none() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Cmd::SofthsmProvision { module } => {
            let mut input = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut input) {
                return fail(&format!("cannot read the job: {e}"));
            }
            let job: softhsm::Job = match serde_json::from_str(&input) {
                Ok(j) => j,
                Err(e) => return fail(&format!("malformed job: {e}")),
            };
            match softhsm::run_job(&module, &job) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
    }
}
