//! The node key file: `<data_dir>/node.key`, 64 lowercase hex characters of the private key.
//!
//! Created with mode 0600 when absent. A file that exists but does not hold a valid key is an
//! error and is never overwritten: replacing it would silently change the node's identity.

use super::NodeKey;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// File name of the node key inside the data directory.
pub const NODE_KEY_FILE: &str = "node.key";

#[derive(Debug, Error)]
pub enum KeyFileError {
    #[error("cannot read key file {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot create key file {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("key file {path} is malformed: {reason} (expected 64 hex characters of a secp256k1 private key; the file was left untouched)")]
    Malformed { path: PathBuf, reason: &'static str },
    #[error("key file {0} already exists; refusing to overwrite it")]
    Exists(PathBuf),
}

/// Reads `path`. Surrounding white space (a trailing newline) is allowed.
pub fn load_key_file(path: &Path) -> Result<NodeKey, KeyFileError> {
    let text = fs::read_to_string(path).map_err(|source| KeyFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    let malformed = |reason| KeyFileError::Malformed {
        path: path.to_owned(),
        reason,
    };
    let text = text.trim();
    if text.len() != 64 {
        return Err(malformed("wrong length"));
    }
    let bytes: [u8; 32] = hex::decode(text)
        .map_err(|_| malformed("not hex"))?
        .try_into()
        .map_err(|_| malformed("wrong length"))?;
    NodeKey::from_bytes(bytes).ok_or_else(|| malformed("not a valid secp256k1 private key"))
}

/// Writes a fresh key to `path` (mode 0600); fails if the file exists.
pub fn write_new_key_file(path: &Path) -> Result<NodeKey, KeyFileError> {
    let key = NodeKey::generate();
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let write_err = |source| KeyFileError::Write {
        path: path.to_owned(),
        source,
    };
    let mut file = opts.open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            KeyFileError::Exists(path.to_owned())
        } else {
            write_err(e)
        }
    })?;
    file.write_all(format!("{}\n", key.secret_hex()).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(write_err)?;
    Ok(key)
}

/// Loads `<data_dir>/node.key`, creating it (and `data_dir`) on first start.
pub fn load_or_create_key_file(data_dir: &Path) -> Result<(NodeKey, bool), KeyFileError> {
    let path = data_dir.join(NODE_KEY_FILE);
    match fs::metadata(&path) {
        Ok(_) => load_key_file(&path).map(|k| (k, false)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(data_dir).map_err(|source| KeyFileError::Write {
                path: data_dir.to_owned(),
                source,
            })?;
            write_new_key_file(&path).map(|k| (k, true))
        }
        Err(source) => Err(KeyFileError::Read { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let (k1, created) = load_or_create_key_file(dir.path()).unwrap();
        assert!(created);
        let (k2, created) = load_or_create_key_file(dir.path()).unwrap();
        assert!(!created);
        assert_eq!(k1.pubkey(), k2.pubkey());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(NODE_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn malformed_file_is_an_error_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(NODE_KEY_FILE);
        for bad in [
            "",
            "xyz",
            &"g".repeat(64),
            &"0".repeat(64),
            &"ab".repeat(33),
        ] {
            fs::write(&path, bad).unwrap();
            let err = load_or_create_key_file(dir.path()).unwrap_err();
            assert!(
                matches!(err, KeyFileError::Malformed { .. }),
                "{bad:?}: {err}"
            );
            assert_eq!(fs::read_to_string(&path).unwrap(), bad);
        }
    }
}
