//! `shikaku config …`.

use crate::config::Config;

/// Configuration tools.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Check the configuration and print the effective values (secrets redacted) as TOML.
    Check,
}

/// Runs one `config` subcommand.
pub fn run(cmd: ConfigCommand, config: &Config) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Check => {
            print!("{}", config.redacted_toml()?);
            Ok(())
        }
    }
}
