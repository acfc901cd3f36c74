//! Services and checks registered through the HTTP API survive a restart (Consul's
//! `<data_dir>/services` and `<data_dir>/checks`): one file per service or check, written
//! atomically when it is registered, removed when it is deregistered, registered again at
//! start. Config-file definitions are not kept (the files are read again). The file format is
//! versioned: `{"Version": 1, "Service"|"Check": {...}}`. Also the one atomic writer of the
//! data dir's files (node-id, persisted tokens).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use praetor_config::{CheckDefinition, ServiceDefinition};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::Shared;

/// The version of the files written here.
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ServiceFile {
    version: u32,
    service: ServiceDefinition,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CheckFile {
    version: u32,
    check: CheckDefinition,
}

fn dir(shared: &Shared, kind: &str) -> Option<PathBuf> {
    shared.config.data_dir.as_ref().map(|d| d.join(kind))
}

/// The file of an ID: the SHA-256 of the ID, as Consul names them (IDs may hold `/`).
fn file_name(id: &str) -> String {
    sha2::Sha256::digest(id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The one way the agent writes a file of its data dir: a temporary file readable by the
/// agent only (0600), fsynced, renamed over the old one, then the directory fsynced, so a crash
/// leaves the old content or the new one, whole.
pub(crate) fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))?;
    std::fs::File::open(dir)?.sync_all()
}

fn save<T: Serialize>(shared: &Shared, kind: &str, id: &str, value: &T) {
    let Some(dir) = dir(shared, kind) else {
        return;
    };
    let result = serde_json::to_vec(value)
        .map_err(std::io::Error::other)
        .and_then(|bytes| write_atomically(&dir, &file_name(id), &bytes));
    if let Err(error) = result {
        tracing::error!(%error, id, kind, "failed to persist an API registration");
    }
}

fn remove(shared: &Shared, kind: &str, id: &str) {
    if let Some(dir) = dir(shared, kind) {
        let path = dir.join(file_name(id));
        if let Err(error) = std::fs::remove_file(&path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::error!(%error, path = %path.display(), "failed to remove a persisted registration");
        }
    }
}

/// Keeps a service registered through the API.
pub fn save_service(shared: &Shared, def: &ServiceDefinition) {
    let file = ServiceFile {
        version: VERSION,
        service: def.clone(),
    };
    save(shared, "services", &def.id, &file);
}

pub fn remove_service(shared: &Shared, id: &str) {
    remove(shared, "services", id);
}

/// Keeps a check registered through the API.
pub fn save_check(shared: &Shared, def: &CheckDefinition) {
    let file = CheckFile {
        version: VERSION,
        check: def.clone(),
    };
    save(shared, "checks", &def.id, &file);
}

pub fn remove_check(shared: &Shared, id: &str) {
    remove(shared, "checks", id);
}

fn read_all<T: for<'de> Deserialize<'de>>(dir: &Path) -> Vec<(PathBuf, T)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_none())
        .collect();
    paths.sort();
    for path in paths {
        match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<T>(&b).map_err(|e| e.to_string()))
        {
            Ok(v) => out.push((path, v)),
            // Left in place for the operator: a file that does not decode is never deleted.
            Err(error) => {
                tracing::error!(%error, path = %path.display(), "skipping a persisted registration that does not decode");
            }
        }
    }
    out
}

/// Registers again what the API registered before the restart: services (with their
/// sidecars), then checks. Returns how many of each.
pub fn restore(shared: &Arc<Shared>) -> (usize, usize) {
    let (mut services, mut checks) = (0, 0);
    if let Some(dir) = dir(shared, "services") {
        for (path, f) in read_all::<ServiceFile>(&dir) {
            if f.version != VERSION {
                tracing::error!(path = %path.display(), version = f.version, "skipping a persisted service of an unknown format version");
                continue;
            }
            match shared.register_service(f.service, false) {
                Ok(()) => services += 1,
                Err(error) => {
                    tracing::error!(%error, path = %path.display(), "persisted service refused")
                }
            }
        }
    }
    if let Some(dir) = dir(shared, "checks") {
        for (path, f) in read_all::<CheckFile>(&dir) {
            if f.version != VERSION {
                tracing::error!(path = %path.display(), version = f.version, "skipping a persisted check of an unknown format version");
                continue;
            }
            // A check of a service that is gone went with it.
            if let Some(sid) = f.check.service_id.as_deref().filter(|s| !s.is_empty())
                && !shared
                    .local
                    .lock()
                    .is_ok_and(|l| l.services.contains_key(sid))
            {
                tracing::warn!(path = %path.display(), service = sid, "skipping a persisted check of a service that is not registered");
                continue;
            }
            shared.add_check(f.check);
            checks += 1;
        }
    }
    (services, checks)
}
