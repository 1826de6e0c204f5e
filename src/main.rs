//! `shikaku`: the one binary. A clap CLI over the library crates: it parses the command and the
//! configuration, sets up logging and hands over to `idp`, `portal`, `storage` and `hpki`.

mod cli;
mod config;
mod demo;
mod master_key;
mod startup;
mod telemetry;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::LogFormat;

/// The request paths allocate many small, short-lived objects (headers, JSON, futures); under
/// load glibc's malloc took a quarter of the token endpoint's CPU, mimalloc a fraction of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Identity provider and training portal for HPKI doctor cards.
#[derive(Debug, Parser)]
#[command(name = "shikaku", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (default: ./shikaku.toml when present). SHIKAKU_* variables override it.
    #[arg(long, global = true, env = "SHIKAKU_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log format, overriding the `log_format` key.
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the idp and the portal in one process (migrations are applied first).
    Serve {
        /// Demo mode: trust a test PKI, offer virtual cards on the sign-in page and register the
        /// portal as a client. Never for production.
        #[arg(long)]
        demo: bool,
        /// Let demo mode start although a public URL or listener is not a loopback address
        /// (without it, such a demo refuses to start). Anyone who reaches it can sign in.
        #[arg(long, requires = "demo")]
        demo_on_public_address: bool,
    },
    /// Same as `serve --demo`.
    Demo {
        /// As for `serve --demo`: start although an address is not a loopback one.
        #[arg(long)]
        demo_on_public_address: bool,
    },
    /// Run only the idp (OpenID Connect provider).
    Idp,
    /// Run only the portal.
    Portal,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Configuration tools.
    #[command(subcommand)]
    Config(cli::config::ConfigCommand),
    /// Operator commands.
    Admin(cli::admin::AdminArgs),
    /// HPKI certificate and card-token tools (JSON output; exit 0 valid, 1 invalid, 2 usage).
    #[command(subcommand)]
    Hpki(cli::hpki::HpkiCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Hpki(cmd) = cli.command {
        return cli::hpki::run(cmd);
    }
    let mut config = match config::Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    if let Some(format) = cli.log_format {
        config.log_format = format;
    }
    if let Err(e) = telemetry::init(&config) {
        return fail(&e);
    }
    let demo_exposure = match cli.command {
        Command::Serve { demo: true, demo_on_public_address: allow }
        | Command::Demo { demo_on_public_address: allow } => Some(allow),
        _ => None,
    };
    if let Some(allow) = demo_exposure
        && let Err(e) = demo::check_exposure(&config, allow)
    {
        return fail(&e);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(&e.into()),
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve { demo, .. } => startup::run(config, startup::Sides::Both, demo).await,
            Command::Demo { .. } => startup::run(config, startup::Sides::Both, true).await,
            Command::Idp => startup::run(config, startup::Sides::Idp, false).await,
            Command::Portal => startup::run(config, startup::Sides::Portal, false).await,
            Command::Migrate => startup::migrate(&config).await,
            Command::Config(cmd) => cli::config::run(cmd, &config),
            Command::Admin(cmd) => cli::admin::run(cmd, &config).await,
            Command::Hpki(_) => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// Prints the error chain as one line and returns the failure exit code.
fn fail(e: &anyhow::Error) -> ExitCode {
    eprintln!("error: {e:#}");
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_valid() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }

    /// Random ids are base64url and may begin with `-`: they must parse as the id.
    #[test]
    fn ids_beginning_with_a_hyphen_are_ids() {
        use clap::Parser;
        for args in [
            &["shikaku", "admin", "account", "suspend", "-Rx3_aZ"][..],
            &["shikaku", "admin", "account", "resume", "-Rx3_aZ"],
            &["shikaku", "admin", "document", "revoke", "-Rx3_aZ", "--reason", "typo"],
            &["shikaku", "admin", "client", "show", "-Rx3_aZ"],
            &["shikaku", "admin", "client", "delete", "-Rx3_aZ"],
            &["shikaku", "admin", "client", "rotate-secret", "-Rx3_aZ"],
            &["shikaku", "admin", "client", "update", "-Rx3_aZ", "--name", "x"],
            &["shikaku", "admin", "client", "update", "--name", "x", "-Rx3_aZ"],
        ] {
            match super::Cli::try_parse_from(args) {
                Ok(cli) => assert!(format!("{cli:?}").contains("\"-Rx3_aZ\""), "{args:?}: {cli:?}"),
                Err(e) => panic!("{args:?}: {e}"),
            }
        }
        let update =
            super::Cli::try_parse_from(["shikaku", "admin", "client", "update", "--name", "x", "-R"]);
        assert!(format!("{update:?}").contains("name: Some(\"x\")"), "{update:?}");
        for command in
            [&["account", "suspend"][..], &["document", "revoke"], &["client", "show"], &["client", "update"]]
        {
            let args = ["shikaku", "admin"].iter().chain(command).chain(&["--help"]).copied();
            let help = super::Cli::try_parse_from(args).map(|_| ()).map_err(|e| e.kind());
            assert_eq!(help, Err(clap::error::ErrorKind::DisplayHelp), "{command:?} --help");
        }
        let unknown = super::Cli::try_parse_from(["shikaku", "admin", "account", "suspend", "a", "-R"]);
        assert!(unknown.is_err(), "a second argument is still refused");
    }
}
