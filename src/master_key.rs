//! Finding the master key that encrypts signing keys: `master_key`, else the key file; a key
//! file is generated only on a first start (no encrypted keys in the database yet) and only at
//! the default path.

use std::io::Write;

use anyhow::{Context, bail};
use keys::{KeyError, Keys, MasterKey, OWNER_IDP};
use portal::documents::jws::OWNER as OWNER_PORTAL;
use secrecy::ExposeSecret;
use storage::Db;

use crate::config::Config;

/// The master key for `db`, generating the default key file on a first start.
pub async fn resolve(config: &Config, db: &Db) -> anyhow::Result<MasterKey> {
    if let Some(text) = &config.master_key {
        return MasterKey::from_base64(text.expose_secret()).context("invalid config key `master_key`");
    }
    let path = config.master_key_path();
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            MasterKey::from_base64(&text).with_context(|| format!("master key file {}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let stored = Keys::count(db, OWNER_IDP).await? + Keys::count(db, OWNER_PORTAL).await?;
            if stored > 0 {
                return Err(KeyError::MasterKeyMissing(stored).into());
            }
            if config.master_key_file.is_some() {
                bail!("master key file {} does not exist (config key `master_key_file`)", path.display());
            }
            let (key, text) = MasterKey::generate();
            write_new_secret(&path, &text)
                .with_context(|| format!("cannot write master key file {}", path.display()))?;
            tracing::warn!(path = %path.display(), "generated a new master key; back it up: without it the signing keys cannot be read");
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read master key file {}", path.display())),
    }
}

/// Creates `path` (never overwriting) readable by the owner only.
fn write_new_secret(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}
