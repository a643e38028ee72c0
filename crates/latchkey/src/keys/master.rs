//! Where the master key comes from: configuration, or a file beside the
//! database that is created with a fresh key on first start (with a
//! warning: instances sharing a PostgreSQL database must share the key, so
//! production configures it).

use std::io::Write;
use std::path::Path;

use crate::config::MasterKeySource;
use crate::secret::MasterKey;

#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("cannot read the master key file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("the master key file {path} {problem}")]
    Invalid { path: String, problem: String },
    #[error("cannot create the master key file {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

/// The master key, generating and storing one when the source is a file
/// that does not exist yet.
pub fn resolve_master_key(source: &MasterKeySource) -> Result<MasterKey, MasterKeyError> {
    match source {
        MasterKeySource::Configured(key) => Ok(key.clone()),
        MasterKeySource::File(path) => read_or_create(path),
    }
}

fn read_or_create(path: &Path) -> Result<MasterKey, MasterKeyError> {
    let shown = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => MasterKey::from_base64(text.trim())
            .map_err(|problem| MasterKeyError::Invalid { path: shown, problem }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let key = MasterKey::generate();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path).map_err(|source| MasterKeyError::Write {
                path: shown.clone(),
                source,
            })?;
            writeln!(file, "{}", key.to_base64())
                .and_then(|()| file.sync_all())
                .map_err(|source| MasterKeyError::Write {
                    path: shown.clone(),
                    source,
                })?;
            tracing::warn!(
                path = %shown,
                "no master_key configured: generated one and stored it in this file; \
                 set LATCHKEY_MASTER_KEY in production (every instance needs the same key)"
            );
            Ok(key)
        }
        Err(source) => Err(MasterKeyError::Read { path: shown, source }),
    }
}
