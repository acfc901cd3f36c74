//! `TlsError`: every way loading TLS material, building a TLS configuration or generating a
//! certificate can fail. Messages follow Consul's `tlsutil` where Consul has one.

use std::path::PathBuf;

/// Why TLS material could not be loaded or a certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A CA, certificate or key file could not be read.
    #[error("Error loading from {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `ca_path` holds no file.
    #[error("Error loading from CAPath: no CAs found")]
    NoCasInPath,
    /// A file is not the PEM it should be (no certificate, no key, or a broken one).
    #[error("failed to parse PEM {}: {message}", path.display())]
    Pem { path: PathBuf, message: String },
    /// The certificate and key do not make a usable pair.
    #[error("Failed to load cert/key pair: {0}")]
    KeyPair(String),
    /// `cert_file` without `key_file` or the reverse.
    #[error("cert_file and key_file must be set together")]
    HalfKeyPair,
    #[error("VerifyIncoming set but no CA certificates were provided")]
    VerifyIncomingNoCa,
    #[error(
        "VerifyIncoming requires either a Cert and Key pair in the configuration file, or auto_encrypt/auto_config be enabled"
    )]
    VerifyIncomingNoCert,
    #[error("VerifyOutgoing set but no CA certificates were provided")]
    VerifyOutgoingNoCa,
    #[error(
        "VerifyOutgoing requires a Cert and Key pair (cert_file and key_file) in the configuration file"
    )]
    VerifyOutgoingNoCert,
    /// A reload without certificate and key: TLS cannot be switched off on a running listener.
    #[error("TLS cannot be turned off by a reload: cert_file and key_file are required")]
    ReloadWithoutCert,
    /// rustls refused a configuration (e.g. a verifier without usable roots).
    #[error("{0}")]
    Config(String),
    /// Certificate generation failed (`praetor tls`).
    #[error("{0}")]
    Generate(String),
}

impl From<rustls::Error> for TlsError {
    fn from(e: rustls::Error) -> Self {
        TlsError::Config(e.to_string())
    }
}
