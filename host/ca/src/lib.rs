//! The Connect CA's pure core: configuration, roots, intermediates, SPIFFE IDs, leaf signing.
//!
//! This mirrors Consul's built-in ("consul") CA provider. Everything is a pure
//! function: no I/O and no clock (callers pass `now` as unix seconds); only key
//! generation and serial numbers use the system RNG (via ring).
//!
//! Keys are EC P-256/P-384 only (ring can neither generate RSA keys nor use
//! P-224/P-521); generated keys are SEC1 `EC PRIVATE KEY` PEM like Consul's,
//! and both SEC1 and PKCS#8 PEM are accepted on input.

mod cert;
mod config;
mod error;
mod keys;
mod spiffe;

pub use cert::{
    CertInfo, IssuedCa, IssuedLeaf, LEAF_BACKDATE_SECS, LeafPolicy, Signer, cert_info, colon_hex,
    cross_sign, intermediate_csr, issue_leaf, leaf_csr, new_root, sign_intermediate, sign_leaf,
};
pub use config::{CaConfig, PrivateKeyType, format_go_duration, parse_go_duration};
pub use error::{CaError, ConfigError, CsrError};
pub use keys::{generate_key, generate_leaf_key, key_to_pkcs8_pem, key_type_and_bits};
pub use spiffe::{SpiffeId, gateway_sni, service_sni, trust_domain};

#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) mod test_util {
    use std::path::PathBuf;

    /// A fresh temp dir for an openssl check, or `None` (with a note) when
    /// `openssl` is not on PATH.
    pub(crate) fn openssl_dir(name: &str) -> Option<PathBuf> {
        let found = std::process::Command::new("openssl")
            .arg("version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !found {
            println!("note: `openssl` not on PATH; skipping the openssl check ({name})");
            return None;
        }
        let dir = std::env::temp_dir().join(format!(
            "praetor-ca-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).ok()?;
        Some(dir)
    }
}
