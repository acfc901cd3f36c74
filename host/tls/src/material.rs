//! Reading a `TlsSection`'s files: the CA bundle(s) into a root store, the certificate chain and
//! the private key (PKCS#8, SEC1 or RSA), with errors naming the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use praetor_config::TlsSection;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::TlsError;

/// The files of one section, parsed.
pub(crate) struct Material {
    /// Trusted CAs; `None` when neither `ca_file` nor `ca_path` is set.
    pub roots: Option<Arc<RootCertStore>>,
    /// The agent's chain (leaf first) and key; `None` when `cert_file`/`key_file` are unset.
    pub identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
}

impl Material {
    /// Reads every file the section names.
    pub fn load(section: &TlsSection) -> Result<Material, TlsError> {
        let roots = load_roots(section)?;
        let identity = match (&section.cert_file, &section.key_file) {
            (Some(cert), Some(key)) => Some((load_chain(cert)?, load_key(key)?)),
            (None, None) => None,
            _ => return Err(TlsError::HalfKeyPair),
        };
        Ok(Material { roots, identity })
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn pem_error(path: &Path, message: impl Into<String>) -> TlsError {
    TlsError::Pem {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Every certificate in a PEM file (a CA bundle may hold several, for rotation).
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e.to_string()))?;
    if certs.is_empty() {
        return Err(pem_error(path, "no CERTIFICATE block found"));
    }
    Ok(certs)
}

/// `ca_file`, else every file under `ca_path` (recursively, in name order), as Consul's `LoadCAs`.
fn load_roots(section: &TlsSection) -> Result<Option<Arc<RootCertStore>>, TlsError> {
    let files = match (&section.ca_file, &section.ca_path) {
        (Some(file), _) => vec![file.clone()],
        (None, Some(dir)) => {
            let mut files = Vec::new();
            walk(dir, &mut files)?;
            if files.is_empty() {
                return Err(TlsError::NoCasInPath);
            }
            files
        }
        (None, None) => return Ok(None),
    };
    let mut store = RootCertStore::empty();
    for file in &files {
        for cert in certificates(file)? {
            store
                .add(cert)
                .map_err(|e| pem_error(file, format!("invalid CA certificate: {e}")))?;
        }
    }
    Ok(Some(Arc::new(store)))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), TlsError> {
    let entries = std::fs::read_dir(dir).map_err(|source| TlsError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths = entries
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
    paths.sort();
    for path in paths {
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// The agent's certificate chain, leaf first.
pub(crate) fn load_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    certificates(path)
}

/// The first private key in the file: `PRIVATE KEY`, `EC PRIVATE KEY` or `RSA PRIVATE KEY`.
pub(crate) fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => pem_error(path, "no private key found"),
        e => pem_error(path, e.to_string()),
    })
}
