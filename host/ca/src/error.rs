//! Typed errors. Callers classify by variant, never by the text.

use std::time::Duration;

use crate::config::{PrivateKeyType, format_go_duration};

/// Every failure of this crate.
#[derive(thiserror::Error, Debug)]
pub enum CaError {
    /// The CA configuration is invalid (Display is Consul's exact message).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A CSR was refused by policy (Display is Consul's exact message).
    #[error(transparent)]
    CsrRefused(#[from] CsrError),
    /// A Go duration string could not be parsed (Display is Go's `time.ParseDuration` text).
    #[error("{reason}")]
    InvalidDuration {
        /// The text that failed to parse.
        input: String,
        /// Go's text, e.g. `time: invalid duration "x"`.
        reason: String,
    },
    /// A SPIFFE ID is malformed or of an unknown kind.
    #[error("SPIFFE ID is not in the expected format: {0}")]
    InvalidSpiffeId(String),
    /// Input was not valid PEM, or carried an unexpected PEM label.
    #[error("invalid PEM: {0}")]
    Pem(String),
    /// A certificate could not be parsed or is unusable.
    #[error("invalid certificate: {0}")]
    Certificate(String),
    /// A CSR could not be parsed.
    #[error("invalid CSR: {0}")]
    Csr(String),
    /// A private key could not be parsed or is of an unsupported kind.
    #[error("invalid private key: {0}")]
    Key(String),
    /// A private key does not belong to the certificate it was given with.
    #[error("private key does not match the certificate's public key")]
    KeyMismatch,
    /// The requested validity is impossible (expired signer, time out of range, ...).
    #[error("invalid validity period: {0}")]
    Validity(String),
    /// Certificate/CSR generation or signing failed in the crypto backend.
    #[error("certificate generation failed: {0}")]
    Crypto(String),
}

/// A CA configuration validation failure. The Display strings are Consul's.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// `RootCert` given without `PrivateKey`.
    #[error("must provide a private key when providing a root cert")]
    PrivateKeyRequired,
    /// `RootCertTTL` < `IntermediateCertTTL`.
    #[error(
        "root cert TTL is set and is not greater than intermediate cert ttl. root cert ttl: {}, intermediate cert ttl: {}",
        format_go_duration(*root),
        format_go_duration(*intermediate)
    )]
    RootTtlTooShort {
        /// The configured root TTL.
        root: Duration,
        /// The configured intermediate TTL.
        intermediate: Duration,
    },
    /// `LeafCertTTL` < 1h.
    #[error("leaf cert TTL must be greater or equal than 1h0m0s")]
    LeafTtlTooShort,
    /// `LeafCertTTL` > 8760h.
    #[error("leaf cert TTL must be less than 8760h0m0s")]
    LeafTtlTooLong,
    /// `IntermediateCertTTL` < 3h.
    #[error("Intermediate Cert TTL must be greater or equal than 3h")]
    IntermediateTtlTooShort,
    /// `IntermediateCertTTL` < 3 * `LeafCertTTL`.
    #[error(
        "Intermediate Cert TTL must be greater or equal than 3 * LeafCertTTL (>={}).",
        format_go_duration(*minimum)
    )]
    IntermediateTtlBelowLeaf {
        /// Three times the leaf TTL.
        minimum: Duration,
    },
    /// EC key length not one of Consul's accepted values.
    #[error("EC key length must be one of (224, 256, 384, 521) bits")]
    EcKeyBits,
    /// RSA key length not one of Consul's accepted values.
    #[error("RSA key length must be 2048 or 4096 bits")]
    RsaKeyBits,
    /// `PrivateKeyType` is neither `ec` nor `rsa`.
    #[error("private key type must be either 'ec' or 'rsa'")]
    KeyType,
    /// Valid for Consul but not generatable by this provider (RSA, EC P-224, EC P-521).
    #[error("{}", unsupported_key_message(*key_type, *bits))]
    UnsupportedKey {
        /// The key type asked for.
        key_type: PrivateKeyType,
        /// The key length asked for.
        bits: u32,
    },
    /// A field has a value of the wrong type or an unparsable value.
    #[error("error decoding '{key}': {reason}")]
    Decode {
        /// The configuration key as given.
        key: String,
        /// What was wrong with it.
        reason: String,
    },
}

fn unsupported_key_message(key_type: PrivateKeyType, bits: u32) -> String {
    match key_type {
        PrivateKeyType::Rsa => "private key type \"rsa\" is not supported by praetor's built-in CA provider; use \"ec\" with 256 or 384 bits".to_string(),
        PrivateKeyType::Ec => format!(
            "EC key length {bits} is not supported by praetor's built-in CA provider; use \"ec\" with 256 or 384 bits"
        ),
    }
}

/// A CSR refused by signing policy. The Display strings are Consul's.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum CsrError {
    /// The CSR does not carry exactly one URI SAN.
    #[error("CSR SAN contains an invalid number of URIs: {0}")]
    UriCount(usize),
    /// The URI SAN is not a parsable SPIFFE ID.
    #[error("SPIFFE ID is not in the expected format: {0}")]
    InvalidSpiffeId(String),
    /// The SPIFFE ID belongs to another trust domain.
    #[error("SPIFFE ID in CSR from a different trust domain: {got}, we are {want}")]
    TrustDomain {
        /// The CSR's trust domain.
        got: String,
        /// Ours.
        want: String,
    },
    /// The SPIFFE ID belongs to another datacenter.
    #[error("SPIFFE ID in CSR from a different datacenter: {got}, we are {want}")]
    Datacenter {
        /// The CSR's datacenter.
        got: String,
        /// Ours.
        want: String,
    },
    /// The SPIFFE ID is of a kind that never gets a leaf (e.g. the signing ID).
    #[error("SPIFFE ID in CSR must be a service, agent, server, or mesh gateway ID")]
    Kind,
    /// An intermediate CSR's URI is not our signing ID.
    #[error("incoming CSR domain {uri:?} is not valid for our domain {trust_domain:?}")]
    IntermediateDomain {
        /// The CSR's URI SAN.
        uri: String,
        /// Our trust domain.
        trust_domain: String,
    },
    /// The CSR's self-signature does not verify.
    #[error("CSR signature is invalid")]
    BadSignature,
}
