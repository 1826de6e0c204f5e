//! `shikaku-bridge doctor`: what a support desk needs to know about a setup, ending with a
//! one-line verdict (`OK`, or the first problem and what to do).
//!
//! It prints the host version and path, the configuration file and its values, each module
//! tried, the readers, the card's certificates (kind, holder, issuer, validity — never the
//! certificate itself) and, for each browser, whether the host manifest is installed and
//! sound.

use std::path::{Path, PathBuf};

use crate::card::{self, KeyRole};
use crate::config::{self, ModulesSource};
use crate::install::{self, Browser, Location, Scope};
use crate::{CHROMIUM_EXTENSION_ORIGIN, Env, FIREFOX_EXTENSION_ID, HOST_NAME, Platform};

/// The doctor's findings.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The lines to print, in order.
    pub lines: Vec<String>,
    /// The first problem found and what to do, `None` when all is well.
    pub problem: Option<String>,
}

impl Report {
    fn line(&mut self, line: impl Into<String>) {
        self.lines.push(line.into());
    }

    fn problem(&mut self, problem: impl Into<String>) {
        if self.problem.is_none() {
            self.problem = Some(problem.into());
        }
    }

    /// The verdict line: `verdict: OK` or `verdict: <problem>`.
    pub fn verdict(&self) -> String {
        match &self.problem {
            None => "verdict: OK".to_owned(),
            Some(p) => format!("verdict: {p}"),
        }
    }
}

/// Examines this machine's setup; `user_data_dir` checks the manifest of that Chromium
/// profile folder instead of the browsers' usual locations.
pub fn run(env: &dyn Env, user_data_dir: Option<&Path>) -> Report {
    let platform = Platform::current();
    let mut r = Report::default();
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("shikaku-bridge"));
    r.line(format!("host: shikaku-bridge {} ({})", crate::VERSION, exe.display()));
    check_card(&mut r, platform, env);
    check_browsers(&mut r, platform, env, user_data_dir, &exe);
    r
}

fn check_card(r: &mut Report, platform: Platform, env: &dyn Env) {
    let loaded = match config::load_with(platform, env) {
        Ok(l) => l,
        Err(e) => {
            r.line(format!("config: {e}"));
            r.problem(format!("the configuration is invalid ({e}): fix or remove the file"));
            return;
        }
    };
    match &loaded.file {
        Some(f) => r.line(format!("config: {}", f.display())),
        None => r.line("config: none (built-in defaults)"),
    }
    let source = match loaded.modules_source {
        ModulesSource::Environment => config::MODULES_ENV,
        ModulesSource::File => "configuration file",
        ModulesSource::Defaults => "built-in defaults",
    };
    let list = |v: &[String]| if v.is_empty() { "(none)".to_owned() } else { v.join(", ") };
    let modules: Vec<String> = loaded.modules.iter().map(|m| m.display().to_string()).collect();
    r.line(format!("  modules ({source}): {}", list(&modules)));
    r.line(format!("  certificate_origins: {}", list(&loaded.config.certificate_origins)));

    let (module, attempts) = card::load_first(&loaded.modules);
    for a in &attempts {
        match &a.error {
            None => r.line(format!("module {}: loaded", a.path.display())),
            Some(e) => r.line(format!("module {}: not loaded: {e}", a.path.display())),
        }
    }
    let Some(module) = module else {
        r.problem(
            "no PKCS#11 module could be loaded: install the HPKI card software or OpenSC, or name its \
             library with `shikaku-bridge install --user --module PATH`",
        );
        return;
    };
    r.line(format!("  library: {}", module.describe()));
    match card::readers(&module) {
        Err(e) => {
            r.line(format!("readers: {e}"));
            r.problem(format!("the module cannot list readers ({e})"));
        }
        Ok(readers) if readers.is_empty() => {
            r.line("readers: none");
            r.problem("no card reader found: connect the reader (and install its driver)");
        }
        Ok(readers) => {
            for rd in &readers {
                let state = match (&rd.token_label, rd.token_initialized) {
                    (_, _) if !rd.token_present => "no card".to_owned(),
                    (Some(label), true) => format!("card present (token \"{label}\")"),
                    _ => "card present, not initialized".to_owned(),
                };
                r.line(format!("reader {} \"{}\": {state}", rd.slot, rd.description));
            }
            check_certificates(r, &module);
        }
    }
    module.finalize();
}

fn check_certificates(r: &mut Report, module: &card::Module) {
    let card = match card::find(module) {
        Ok(c) => c,
        Err(e) => {
            r.line(format!("card: {e}"));
            let todo = match e.code {
                crate::error::Code::NoCard => "insert the HPKI card into the reader",
                _ => "check the card and the reader",
            };
            r.problem(format!("{}: {todo}", e.message));
            return;
        }
    };
    let now = hpki::time::OffsetDateTime::now_utc();
    if card.certificates.is_empty() && card.unreadable.is_empty() {
        r.line(format!("card \"{}\": no certificates", card.label));
    }
    for c in &card.certificates {
        let kind = match c.info.kind {
            hpki::CertKind::Authentication => "authentication",
            hpki::CertKind::Signature => "signature",
            hpki::CertKind::Ca => "CA",
            hpki::CertKind::Other => "other",
        };
        let holder = match (&c.info.kanji_name, &c.info.romaji_name) {
            (Some(k), Some(l)) => format!("{k} ({l})"),
            (Some(n), None) | (None, Some(n)) => n.clone(),
            (None, None) => c.info.subject.clone(),
        };
        let validity = if c.info.is_valid_at(now) {
            "valid now"
        } else if now < c.info.not_before {
            "not yet valid"
        } else {
            "expired"
        };
        r.line(format!(
            "certificate {kind}: {holder}; issuer {}; {} – {}; {validity}",
            c.info.issuer,
            c.info.not_before.date(),
            c.info.not_after.date()
        ));
    }
    for (label, e) in &card.unreadable {
        r.line(format!("certificate \"{label}\": unreadable: {e}"));
    }
    match card.certificate(KeyRole::Authentication) {
        Err(_) => r.problem("the card has no HPKI authentication certificate: this is not an HPKI card"),
        Ok(c) if !c.info.is_valid_at(now) => r.problem(format!(
            "the authentication certificate is not valid now (valid {} – {}): renew the card",
            c.info.not_before.date(),
            c.info.not_after.date()
        )),
        Ok(_) => {}
    }
}

/// Whether a manifest file is sound for the browsers reading it; the problem if not.
fn check_manifest(location: &Location) -> Result<(), String> {
    let text = std::fs::read_to_string(&location.manifest).map_err(|e| format!("unreadable: {e}"))?;
    let m: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
    if m["name"] != HOST_NAME {
        return Err(format!("name is not {HOST_NAME}"));
    }
    let path = m["path"].as_str().ok_or("no path")?;
    let path = Path::new(path);
    if !path.is_file() {
        return Err(format!("path {} does not exist", path.display()));
    }
    if !is_executable(path) {
        return Err(format!("path {} is not executable", path.display()));
    }
    let firefox = location.browsers == [Browser::Firefox];
    let (key, id) = if firefox {
        ("allowed_extensions", FIREFOX_EXTENSION_ID)
    } else {
        ("allowed_origins", CHROMIUM_EXTENSION_ORIGIN)
    };
    let allowed = m[key].as_array().is_some_and(|a| a.iter().any(|v| v == id));
    if !allowed {
        return Err(format!("{key} does not hold {id}"));
    }
    Ok(())
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

fn check_browsers(
    r: &mut Report,
    platform: Platform,
    env: &dyn Env,
    user_data_dir: Option<&Path>,
    exe: &Path,
) {
    let exe_dir = exe.parent().unwrap_or(Path::new("."));
    let scopes: &[Scope] =
        if user_data_dir.is_some() { &[Scope::User] } else { &[Scope::User, Scope::System] };
    let mut installed = 0;
    let mut broken = None;
    for &scope in scopes {
        let selection = install::Selection {
            platform,
            browsers: Browser::ALL.to_vec(),
            scope,
            user_data_dir: user_data_dir.map(Path::to_path_buf),
            config: None,
        };
        let locations = match selection.locations(env, exe_dir) {
            Ok(l) => l,
            Err(e) => {
                r.line(format!("browsers ({scope:?}): {e}"));
                continue;
            }
        };
        for l in locations {
            let names = l.browsers.iter().map(|b| b.name()).collect::<Vec<_>>().join(", ");
            let scope_name = if user_data_dir.is_some() {
                "profile"
            } else if scope == Scope::User {
                "user"
            } else {
                "system"
            };
            if !l.manifest.exists() {
                r.line(format!("browser {names} ({scope_name}): not installed ({})", l.manifest.display()));
                continue;
            }
            installed += 1;
            match check_manifest(&l) {
                Ok(()) => r.line(format!(
                    "browser {names} ({scope_name}): installed, OK ({})",
                    l.manifest.display()
                )),
                Err(e) => {
                    r.line(format!(
                        "browser {names} ({scope_name}): installed, BROKEN: {e} ({})",
                        l.manifest.display()
                    ));
                    broken
                        .get_or_insert(format!("the host manifest {} is broken ({e})", l.manifest.display()));
                }
            }
        }
    }
    if platform == Platform::Windows {
        r.line("(registry values are not checked; `shikaku-bridge install` sets them)");
    }
    let install = match user_data_dir {
        Some(d) => format!("shikaku-bridge install --user-data-dir {}", d.display()),
        None => "shikaku-bridge install --user".to_owned(),
    };
    if let Some(b) = broken {
        r.problem(format!("{b}: run `{install}` again"));
    } else if installed == 0 {
        r.problem(format!("the host is not registered with any browser: run `{install}`"));
    }
}
