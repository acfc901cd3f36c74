//! The `tls` block: each protocol's section resolved from `tls.defaults` overlaid with its own
//! block (Consul's `buildTLSConfig`), then Consul's TLS validation with errors naming the key.

use std::path::PathBuf;

use crate::config::{TlsConfig, TlsSection};
use crate::error::ConfigError;
use crate::raw::{RawTls, RawTlsSection};

fn invalid(message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(message.into())
}

/// A path, with `""` meaning unset (as Consul's `stringVal`).
fn path(specific: &Option<String>, default: &Option<String>) -> Option<PathBuf> {
    specific
        .as_ref()
        .or(default.as_ref())
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

/// `defaults` overlaid with `specific` (verify_server_hostname comes from `specific` only).
fn resolve(defaults: &RawTlsSection, specific: &RawTlsSection) -> TlsSection {
    TlsSection {
        ca_file: path(&specific.ca_file, &defaults.ca_file),
        ca_path: path(&specific.ca_path, &defaults.ca_path),
        cert_file: path(&specific.cert_file, &defaults.cert_file),
        key_file: path(&specific.key_file, &defaults.key_file),
        verify_incoming: specific
            .verify_incoming
            .or(defaults.verify_incoming)
            .unwrap_or(false),
        verify_outgoing: specific
            .verify_outgoing
            .or(defaults.verify_outgoing)
            .unwrap_or(false),
        verify_server_hostname: specific.verify_server_hostname.unwrap_or(false),
        tls_min_version: specific
            .tls_min_version
            .or(defaults.tls_min_version)
            .unwrap_or_default(),
    }
}

/// Consul's per-protocol checks (`tlsutil.loadProtocolConfig`), made at load time so that a bad
/// combination fails before anything listens. `name` is the section, e.g. `internal_rpc`.
fn validate(name: &str, s: &TlsSection) -> Result<(), ConfigError> {
    let key = |k: &str| format!("tls.{name}.{k}");
    match (&s.cert_file, &s.key_file) {
        (Some(_), None) => {
            return Err(invalid(format!(
                "{}: cert_file is set but key_file is not; both are required to serve TLS",
                key("key_file")
            )));
        }
        (None, Some(_)) => {
            return Err(invalid(format!(
                "{}: key_file is set but cert_file is not; both are required to serve TLS",
                key("cert_file")
            )));
        }
        _ => {}
    }
    if s.verify_incoming && !s.has_ca() {
        return Err(invalid(format!(
            "{}: VerifyIncoming set but no CA certificates were provided",
            key("verify_incoming")
        )));
    }
    if s.verify_incoming && !s.has_cert() {
        return Err(invalid(format!(
            "{}: VerifyIncoming requires either a Cert and Key pair in the configuration file, or auto_encrypt/auto_config be enabled",
            key("verify_incoming")
        )));
    }
    if s.verify_outgoing && !s.has_ca() {
        return Err(invalid(format!(
            "{}: VerifyOutgoing set but no CA certificates were provided",
            key("verify_outgoing")
        )));
    }
    Ok(())
}

/// Resolves and validates the `tls` block. `https_port` is `ports.https`.
pub(crate) fn build(raw: &RawTls, https_port: Option<u16>) -> Result<TlsConfig, ConfigError> {
    if raw.grpc.verify_outgoing.is_some() {
        return Err(invalid(
            "verify_outgoing is not valid in the tls.grpc stanza",
        ));
    }
    if raw.defaults.verify_server_hostname.is_some()
        || raw.grpc.verify_server_hostname.is_some()
        || raw.https.verify_server_hostname.is_some()
    {
        return Err(invalid(
            "verify_server_hostname is only valid in the tls.internal_rpc stanza",
        ));
    }
    let mut internal_rpc = resolve(&raw.defaults, &raw.internal_rpc);
    // Consul (CVE-2018-19653): verify_server_hostname implies verify_outgoing.
    internal_rpc.verify_outgoing |= internal_rpc.verify_server_hostname;
    let https = resolve(&raw.defaults, &raw.https);

    validate("internal_rpc", &internal_rpc)?;
    // praetor has no auto_encrypt: outgoing RPC over TLS presents the agent's certificate.
    if internal_rpc.verify_outgoing && !internal_rpc.has_cert() {
        return Err(invalid(
            "tls.internal_rpc.verify_outgoing: VerifyOutgoing requires a Cert and Key pair (cert_file and key_file) in the configuration file",
        ));
    }
    validate("https", &https)?;
    if https_port.is_some() && !https.has_cert() {
        return Err(invalid(
            "ports.https: the HTTPS API requires tls.https.cert_file and tls.https.key_file (or tls.defaults)",
        ));
    }
    Ok(TlsConfig {
        internal_rpc,
        https,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(f: impl FnOnce(&mut RawTlsSection)) -> RawTlsSection {
        let mut s = RawTlsSection::default();
        f(&mut s);
        s
    }

    #[test]
    fn specific_blocks_overlay_defaults() {
        let raw = RawTls {
            defaults: section(|s| {
                s.ca_file = Some("ca.pem".into());
                s.cert_file = Some("a.pem".into());
                s.key_file = Some("a-key.pem".into());
                s.verify_incoming = Some(true);
            }),
            internal_rpc: section(|s| {
                s.cert_file = Some("rpc.pem".into());
                s.key_file = Some("rpc-key.pem".into());
                s.verify_server_hostname = Some(true);
            }),
            https: section(|s| s.verify_incoming = Some(false)),
            ..RawTls::default()
        };
        let tls = build(&raw, None).expect("valid");
        let rpc = &tls.internal_rpc;
        assert_eq!(rpc.ca_file, Some(PathBuf::from("ca.pem")));
        assert_eq!(rpc.cert_file, Some(PathBuf::from("rpc.pem")));
        assert!(rpc.verify_incoming && rpc.verify_server_hostname);
        assert!(rpc.verify_outgoing, "verify_server_hostname implies it");
        assert_eq!(tls.https.cert_file, Some(PathBuf::from("a.pem")));
        assert!(!tls.https.verify_incoming && !tls.https.verify_server_hostname);
    }

    #[test]
    fn consul_validation_messages_name_the_key() {
        let err = |raw: RawTls, https: Option<u16>| build(&raw, https).unwrap_err().to_string();
        let no_ca = RawTls {
            defaults: section(|s| s.verify_incoming = Some(true)),
            ..RawTls::default()
        };
        assert_eq!(
            err(no_ca, None),
            "tls.internal_rpc.verify_incoming: VerifyIncoming set but no CA certificates were provided"
        );
        let no_cert = RawTls {
            internal_rpc: section(|s| {
                s.ca_path = Some("/etc/ca.d".into());
                s.verify_incoming = Some(true);
            }),
            ..RawTls::default()
        };
        assert!(err(no_cert, None).starts_with(
            "tls.internal_rpc.verify_incoming: VerifyIncoming requires either a Cert and Key pair"
        ));
        let half = RawTls {
            https: section(|s| s.cert_file = Some("c.pem".into())),
            ..RawTls::default()
        };
        assert!(err(half, None).starts_with("tls.https.key_file: cert_file is set"));
        let out = RawTls {
            internal_rpc: section(|s| s.verify_server_hostname = Some(true)),
            ..RawTls::default()
        };
        assert_eq!(
            err(out, None),
            "tls.internal_rpc.verify_outgoing: VerifyOutgoing set but no CA certificates were provided"
        );
        let stanza = RawTls {
            defaults: section(|s| s.verify_server_hostname = Some(true)),
            ..RawTls::default()
        };
        assert_eq!(
            err(stanza, None),
            "verify_server_hostname is only valid in the tls.internal_rpc stanza"
        );
        let grpc = RawTls {
            grpc: section(|s| s.verify_outgoing = Some(false)),
            ..RawTls::default()
        };
        assert_eq!(
            err(grpc, None),
            "verify_outgoing is not valid in the tls.grpc stanza"
        );
        assert!(err(RawTls::default(), Some(8501)).starts_with("ports.https: the HTTPS API"));
    }

    #[test]
    fn empty_paths_are_unset() {
        let raw = RawTls {
            defaults: section(|s| s.ca_file = Some(String::new())),
            ..RawTls::default()
        };
        let tls = build(&raw, None).expect("valid");
        assert_eq!(tls.internal_rpc.ca_file, None);
        assert!(!tls.internal_rpc.has_ca());
    }
}
