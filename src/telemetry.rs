//! Logging with `tracing`: readable lines by default, JSON with `--log-format json`. Colours
//! only when stderr is a terminal and `NO_COLOR` is unset or empty (<https://no-color.org>).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

/// Installs the global subscriber. `RUST_LOG` overrides the `log_filter` key.
pub fn init(config: &Config) -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log_filter))
        .map_err(|e| anyhow::anyhow!("invalid config key `log_filter`: {e}"))?;
    let ansi = colour(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR").as_deref());
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let result = match config.log_format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}

/// Whether log lines get ANSI colours: on a terminal, unless `NO_COLOR` is set to a non-empty
/// value.
fn colour(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::colour;

    #[test]
    fn colours_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some("".as_ref())), "an empty NO_COLOR does not count");
        assert!(!colour(true, Some("1".as_ref())));
        assert!(!colour(false, None), "a pipe or a file: no escape codes");
        assert!(!colour(false, Some("1".as_ref())));
    }
}
