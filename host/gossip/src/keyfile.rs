//! Consul's keyring file: a JSON array of base64 keys, primary first; read at start, written
//! atomically (temporary file + rename) after every keyring change.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tracing::warn;

use crate::error::GossipError;
use crate::keyring::Key;

fn file_error(path: &Path, reason: impl ToString) -> GossipError {
    GossipError::KeyringFile {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

/// Decodes one base64 gossip key (32 bytes: AES-256), with Consul's error texts
/// (`Invalid key: ...`).
pub fn decode_key(text: &str) -> Result<Key, String> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|e| format!("Invalid key: {e}"))?;
    Key::try_from(bytes.as_slice()).map_err(|_| {
        format!(
            "Invalid key: key size must be 32 bytes, got {}",
            bytes.len()
        )
    })
}

/// Encodes a key as Consul prints it (standard base64 with padding).
pub(crate) fn encode_key(key: &Key) -> String {
    STANDARD.encode(key)
}

/// Reads the keys of a keyring file, primary first. `Ok(None)` when the file does not exist.
pub(crate) fn load(path: &Path) -> Result<Option<Vec<Key>>, GossipError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(file_error(path, e)),
    };
    let encoded: Vec<String> = serde_json::from_str(&text).map_err(|e| file_error(path, e))?;
    if encoded.is_empty() {
        return Err(file_error(path, "no keys present in keyring file"));
    }
    let keys = encoded
        .iter()
        .map(|k| decode_key(k))
        .collect::<Result<Vec<Key>, String>>()
        .map_err(|e| file_error(path, e))?;
    Ok(Some(keys))
}

/// Writes the keys (primary first) to `<path>.tmp` with mode 0600, then renames it over `path`.
pub(crate) fn save(path: &Path, keys: &[Key]) -> Result<(), GossipError> {
    let encoded: Vec<String> = keys.iter().map(encode_key).collect();
    let json = serde_json::to_vec(&encoded).map_err(|e| file_error(path, e))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| file_error(path, e))?;
    }
    let tmp = tmp_path(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let write = || -> std::io::Result<()> {
        let mut file = options.open(&tmp)?;
        file.write_all(&json)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        file_error(path, e)
    })
}

/// The keys a pool starts with: the keyring file's if it exists (then `encrypt` is ignored, as in
/// Consul), else `encrypt` alone, written to the keyring file when one is configured.
pub(crate) fn initial_keys(
    encrypt: Option<Key>,
    file: Option<&Path>,
) -> Result<Vec<Key>, GossipError> {
    if let Some(path) = file {
        if let Some(keys) = load(path)? {
            if encrypt.is_some() {
                warn!(
                    path = %path.display(),
                    "keyring file exists but encrypt is given, using the keyring"
                );
            }
            return Ok(keys);
        }
        if let Some(key) = encrypt {
            save(path, &[key])?;
        }
    }
    Ok(encrypt.into_iter().collect())
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "praetor-gossip-{name}-{}-{}",
            std::process::id(),
            crate::identity::start_incarnation()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn keys_round_trip_in_consul_format() {
        let dir = scratch_dir("keyfile");
        let path = dir.join("serf").join("local.keyring");
        assert!(load(&path).unwrap().is_none());
        let keys = [[7u8; 32], [9u8; 32]];
        save(&path, &keys).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let expected = format!(
            "[\"{}\",\"{}\"]",
            encode_key(&keys[0]),
            encode_key(&keys[1])
        );
        assert_eq!(text, expected);
        assert!(!tmp_path(&path).exists());
        assert_eq!(load(&path).unwrap().unwrap(), keys);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_files_are_errors() {
        let dir = scratch_dir("badkeyfile");
        let path = dir.join("k");
        for bad in ["[]", "not json", "[\"short\"]", "[\"AAAA\"]"] {
            std::fs::write(&path, bad).unwrap();
            assert!(
                matches!(load(&path), Err(GossipError::KeyringFile { .. })),
                "{bad}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_file_wins_over_encrypt_and_is_created_from_it() {
        let dir = scratch_dir("initial");
        let path = dir.join("local.keyring");
        assert_eq!(initial_keys(None, Some(&path)).unwrap(), Vec::<Key>::new());
        assert!(!path.exists(), "no key, no file");
        assert_eq!(initial_keys(Some([1; 32]), Some(&path)).unwrap(), [[1; 32]]);
        assert_eq!(load(&path).unwrap().unwrap(), [[1; 32]]);
        save(&path, &[[2; 32], [1; 32]]).unwrap();
        assert_eq!(
            initial_keys(Some([3; 32]), Some(&path)).unwrap(),
            [[2; 32], [1; 32]]
        );
        assert_eq!(initial_keys(Some([3; 32]), None).unwrap(), [[3; 32]]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn decode_key_checks_length() {
        let k = [5u8; 32];
        assert_eq!(decode_key(&encode_key(&k)), Ok(k));
        assert_eq!(
            decode_key(&STANDARD.encode([1u8; 16])),
            Err("Invalid key: key size must be 32 bytes, got 16".into())
        );
        assert!(decode_key("!!!").is_err());
    }
}
