//! The files the server keeps in the data directory beside the engine's: the admin
//! token and the demo operator's credentials. Both are secrets, written 0600.

use crate::identity::{secrets, IdentityError};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub const ADMIN_TOKEN_FILE: &str = "admin-token";
pub const DEMO_OPERATOR_FILE: &str = "demo-operator.json";

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is empty")]
    Empty { path: PathBuf },
    #[error(transparent)]
    Secret(#[from] IdentityError),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Creates the data directory if needed.
pub fn ensure(dir: &Path) -> Result<(), DataDirError> {
    fs::create_dir_all(dir).map_err(io_err(dir))
}

/// The admin token, generated (256 random bits, hex) and saved on first start.
pub fn admin_token(dir: &Path) -> Result<String, DataDirError> {
    let path = dir.join(ADMIN_TOKEN_FILE);
    if path.exists() {
        return read_admin_token(dir);
    }
    let token = secrets::random_hex::<32>()?;
    write_private(&path, format!("{token}\n").as_bytes())?;
    Ok(token)
}

/// The admin token saved by a server using `dir` (what the CLI reads).
pub fn read_admin_token(dir: &Path) -> Result<String, DataDirError> {
    let path = dir.join(ADMIN_TOKEN_FILE);
    let token = fs::read_to_string(&path).map_err(io_err(&path))?;
    let token = token.trim();
    if token.is_empty() {
        return Err(DataDirError::Empty { path });
    }
    Ok(token.to_owned())
}

/// Writes `bytes` to `path` readable by the owner only: to a temporary file created
/// 0600, synced, then renamed over `path`, so that no reader sees half a secret.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), DataDirError> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(io_err(&tmp))?;
    file.write_all(bytes).map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_token_is_made_once_and_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let token = admin_token(dir.path()).expect("token");
        assert_eq!(token.len(), 64);
        assert_eq!(admin_token(dir.path()).expect("again"), token);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = fs::metadata(dir.path().join(ADMIN_TOKEN_FILE)).expect("meta");
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        }
    }
}
