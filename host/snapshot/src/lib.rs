//! praetor-snapshot: the archive of `/v1/snapshot` and `praetor snapshot`, in Consul's layout.
//!
//! An archive is a gzipped tar holding `meta.json` (raft's snapshot metadata: ID, index, term,
//! version, size), `state.bin` (the state machine's bytes, opaque here) and `SHA256SUMS` (the
//! SHA-256 of the other two, in `sha256sum` format). [`write`] builds one; [`read`] checks it
//! (every file present once, sizes bounded, both checksums right) before handing the state back,
//! so a truncated or altered file is refused before anything is restored. Pure: bytes in,
//! bytes out.

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The version of the metadata format (raft's `SnapshotVersion` 1).
pub const META_VERSION: u32 = 1;

/// Refuse archives whose content is larger than this (decompression bombs).
pub const MAX_STATE_BYTES: u64 = 1 << 30;
const MAX_META_BYTES: u64 = 1 << 20;

/// raft's snapshot metadata, as Consul writes it into `meta.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Meta {
    pub version: u32,
    #[serde(rename = "ID")]
    pub id: String,
    pub index: u64,
    pub term: u64,
    /// Size of `state.bin` in bytes.
    pub size: u64,
    /// Raft index of the configuration in the snapshot.
    pub configuration_index: u64,
}

/// Why an archive was refused.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("failed to read snapshot archive: {0}")]
    Io(#[from] std::io::Error),
    #[error("failed to decode snapshot metadata: {0}")]
    Meta(#[from] serde_json::Error),
    #[error("snapshot archive is missing {0}")]
    Missing(&'static str),
    #[error("snapshot archive has an unexpected file {0:?}")]
    Unexpected(String),
    #[error("snapshot archive has {0} more than once")]
    Duplicate(&'static str),
    #[error("snapshot file {0} is larger than {1} bytes")]
    TooLarge(&'static str, u64),
    #[error("sha256 hash mismatch for {0}")]
    Checksum(&'static str),
    #[error("snapshot SHA256SUMS is malformed")]
    Sums,
    #[error("snapshot metadata says {said} bytes of state, the archive has {has}")]
    Size { said: u64, has: u64 },
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn append(tar: &mut tar::Builder<impl Write>, name: &str, data: &[u8]) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o600);
    header.set_cksum();
    tar.append_data(&mut header, name, data)
}

/// Builds an archive of `state` with `meta` (its `size` and `version` are filled in here).
pub fn write(mut meta: Meta, state: &[u8]) -> Result<Vec<u8>, SnapshotError> {
    meta.size = state.len() as u64;
    meta.version = META_VERSION;
    let meta_json = serde_json::to_vec(&meta)?;
    let sums = format!(
        "{}  meta.json\n{}  state.bin\n",
        sha256(&meta_json),
        sha256(state)
    );
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    append(&mut tar, "meta.json", &meta_json)?;
    append(&mut tar, "state.bin", state)?;
    append(&mut tar, "SHA256SUMS", sums.as_bytes())?;
    Ok(tar.into_inner()?.finish()?)
}

fn read_limited(
    entry: impl Read,
    name: &'static str,
    limit: u64,
) -> Result<Vec<u8>, SnapshotError> {
    let mut out = Vec::new();
    entry.take(limit + 1).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(SnapshotError::TooLarge(name, limit));
    }
    Ok(out)
}

fn set_once(
    slot: &mut Option<Vec<u8>>,
    name: &'static str,
    data: Vec<u8>,
) -> Result<(), SnapshotError> {
    if slot.replace(data).is_some() {
        return Err(SnapshotError::Duplicate(name));
    }
    Ok(())
}

/// Reads and verifies an archive; returns its metadata and state bytes.
pub fn read(archive: &[u8]) -> Result<(Meta, Vec<u8>), SnapshotError> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let (mut meta, mut state, mut sums) = (None, None, None);
    for entry in tar.entries()? {
        let entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        match path.as_str() {
            "meta.json" => set_once(
                &mut meta,
                "meta.json",
                read_limited(entry, "meta.json", MAX_META_BYTES)?,
            )?,
            "state.bin" => set_once(
                &mut state,
                "state.bin",
                read_limited(entry, "state.bin", MAX_STATE_BYTES)?,
            )?,
            "SHA256SUMS" => set_once(
                &mut sums,
                "SHA256SUMS",
                read_limited(entry, "SHA256SUMS", MAX_META_BYTES)?,
            )?,
            _ => return Err(SnapshotError::Unexpected(path)),
        }
    }
    let meta_json = meta.ok_or(SnapshotError::Missing("meta.json"))?;
    let state = state.ok_or(SnapshotError::Missing("state.bin"))?;
    let sums = sums.ok_or(SnapshotError::Missing("SHA256SUMS"))?;
    let sums = std::str::from_utf8(&sums).map_err(|_| SnapshotError::Sums)?;
    let mut checked = 0;
    for line in sums.lines().filter(|l| !l.trim().is_empty()) {
        let (sum, name) = line.split_once("  ").ok_or(SnapshotError::Sums)?;
        let (name, data): (&'static str, &[u8]) = match name.trim() {
            "meta.json" => ("meta.json", &meta_json),
            "state.bin" => ("state.bin", &state),
            _ => return Err(SnapshotError::Sums),
        };
        if sha256(data) != sum.trim() {
            return Err(SnapshotError::Checksum(name));
        }
        checked += 1;
    }
    if checked != 2 {
        return Err(SnapshotError::Sums);
    }
    let meta: Meta = serde_json::from_slice(&meta_json)?;
    if meta.size != state.len() as u64 {
        return Err(SnapshotError::Size {
            said: meta.size,
            has: state.len() as u64,
        });
    }
    Ok((meta, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Meta {
        Meta {
            id: "2-12-1700000000000".into(),
            index: 12,
            term: 2,
            configuration_index: 1,
            ..Default::default()
        }
    }

    #[test]
    fn round_trip() {
        let a = write(meta(), b"state bytes").expect("written");
        let (m, s) = read(&a).expect("verified");
        assert_eq!(s, b"state bytes");
        assert_eq!(m.index, 12);
        assert_eq!(m.size, 11);
        assert_eq!(m.version, META_VERSION);
    }

    /// An archive with these files, built by hand.
    fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        for (name, data) in files {
            append(&mut tar, name, data).expect("append");
        }
        tar.into_inner().expect("tar").finish().expect("gz")
    }

    #[test]
    fn altered_or_incomplete_archives_are_refused() {
        let m = serde_json::to_vec(&Meta {
            size: 5,
            version: 1,
            ..meta()
        })
        .expect("json");
        let sums = format!(
            "{}  meta.json\n{}  state.bin\n",
            sha256(&m),
            sha256(b"hello")
        );
        let ok = archive(&[
            ("meta.json", &m),
            ("state.bin", b"hello"),
            ("SHA256SUMS", sums.as_bytes()),
        ]);
        assert!(read(&ok).is_ok());
        let altered = archive(&[
            ("meta.json", &m),
            ("state.bin", b"hellO"),
            ("SHA256SUMS", sums.as_bytes()),
        ]);
        assert!(matches!(
            read(&altered),
            Err(SnapshotError::Checksum("state.bin"))
        ));
        let missing = archive(&[("meta.json", &m), ("SHA256SUMS", sums.as_bytes())]);
        assert!(matches!(
            read(&missing),
            Err(SnapshotError::Missing("state.bin"))
        ));
        let extra = archive(&[
            ("meta.json", &m),
            ("state.bin", b"hello"),
            ("SHA256SUMS", sums.as_bytes()),
            ("x", b""),
        ]);
        assert!(matches!(read(&extra), Err(SnapshotError::Unexpected(_))));
        let one_sum = format!("{}  meta.json\n", sha256(&m));
        let short = archive(&[
            ("meta.json", &m),
            ("state.bin", b"hello"),
            ("SHA256SUMS", one_sum.as_bytes()),
        ]);
        assert!(matches!(read(&short), Err(SnapshotError::Sums)));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let good = write(meta(), b"0123456789").expect("written");
        assert!(read(b"").is_err());
        assert!(read(b"not gzip at all").is_err());
        assert!(read(&good[..good.len() / 2]).is_err());
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for n in 0..200 {
            let mut bytes = good.clone();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = (seed as usize) % bytes.len();
            bytes[at] ^= 1 << (n % 8);
            let _ = read(&bytes);
        }
    }
}
