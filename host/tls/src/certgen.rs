//! Certificate generation (`praetor tls ca create` / `praetor tls cert create`, and tests): an
//! agent CA and agent certificates with Consul's names, SANs, key usages and validity. The one
//! place in praetor that builds certificates (rcgen, ECDSA P-256 keys, ring).

use std::net::{IpAddr, Ipv4Addr};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose, NameConstraints, SanType, SerialNumber,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use time::OffsetDateTime;
use webpki::{EndEntityCert, KeyUsage};

use crate::error::TlsError;

/// A certificate and its private key, PEM-encoded (the key as PKCS#8 `PRIVATE KEY`).
#[derive(Debug, Clone)]
pub struct PemPair {
    pub cert_pem: String,
    pub key_pem: String,
}

/// `praetor tls ca create` options.
#[derive(Debug, Clone)]
pub struct CaOptions {
    /// Validity in days from now (Consul: 1825).
    pub days: u32,
    /// The cluster's domain (Consul: `consul`); used by the name constraints.
    pub domain: String,
    /// Constrain the CA to `domain`, `localhost` and `additional_name_constraints`.
    pub name_constraint: bool,
    pub additional_name_constraints: Vec<String>,
    /// Subject common name; default `Consul Agent CA <serial>` (Consul's).
    pub common_name: Option<String>,
}

impl Default for CaOptions {
    fn default() -> Self {
        CaOptions {
            days: 1825,
            domain: "consul".into(),
            name_constraint: false,
            additional_name_constraints: Vec::new(),
            common_name: None,
        }
    }
}

/// What an agent certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertKind {
    Server,
    Client,
    Cli,
}

impl CertKind {
    fn label(self) -> &'static str {
        match self {
            CertKind::Server => "server",
            CertKind::Client => "client",
            CertKind::Cli => "cli",
        }
    }
}

/// `praetor tls cert create` options.
#[derive(Debug, Clone)]
pub struct CertOptions {
    pub kind: CertKind,
    /// Default `dc1`.
    pub datacenter: String,
    /// Default `consul`.
    pub domain: String,
    /// Servers only: adds `<node>.server.<dc>.<domain>`.
    pub node: Option<String>,
    /// Validity in days from now (Consul: 365).
    pub days: u32,
    /// `-additional-dnsname` (ignored for `Cli`, as Consul).
    pub additional_dns_names: Vec<String>,
    /// `-additional-ipaddress`.
    pub additional_ips: Vec<IpAddr>,
}

impl CertOptions {
    /// Consul's defaults for `kind`: dc1, consul, 365 days.
    pub fn new(kind: CertKind) -> CertOptions {
        CertOptions {
            kind,
            datacenter: "dc1".into(),
            domain: "consul".into(),
            node: None,
            days: 365,
            additional_dns_names: Vec::new(),
            additional_ips: Vec::new(),
        }
    }

    fn domain(&self) -> &str {
        self.domain.trim_end_matches('.')
    }

    /// The subject common name and main DNS name: `<kind>.<dc>.<domain>`.
    pub fn common_name(&self) -> String {
        format!(
            "{}.{}.{}",
            self.kind.label(),
            self.datacenter,
            self.domain()
        )
    }

    /// Consul's file name prefix: `<dc>-<kind>-<domain>` (files `<prefix>-<n>.pem`,
    /// `<prefix>-<n>-key.pem`).
    pub fn file_prefix(&self) -> String {
        format!(
            "{}-{}-{}",
            self.datacenter,
            self.kind.label(),
            self.domain()
        )
    }

    /// DNS SANs in Consul's order: the additional names, `<node>.server.<dc>.<domain>` (servers
    /// with a node), the common name, `localhost`. A CLI certificate has only the last two.
    pub fn dns_names(&self) -> Vec<String> {
        let name = self.common_name();
        let mut names: Vec<String> = self
            .additional_dns_names
            .iter()
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty())
            .collect();
        match self.kind {
            CertKind::Server => {
                if let Some(node) = self.node.as_deref().filter(|n| !n.is_empty()) {
                    names.push(format!("{node}.{name}"));
                }
                names.push(name);
                names.push("localhost".into());
            }
            CertKind::Client => {
                names.push(name);
                names.push("localhost".into());
            }
            CertKind::Cli => names = vec![name, "localhost".into()],
        }
        names
    }

    /// IP SANs: the additional addresses, then `127.0.0.1` (not for a CLI certificate).
    pub fn ip_addresses(&self) -> Vec<IpAddr> {
        let mut ips = self.additional_ips.clone();
        if self.kind != CertKind::Cli {
            ips.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        ips
    }

    /// Extended key usages: server and client auth (`Server`, `Client`, as Consul), none (`Cli`).
    fn extended_key_usages(&self) -> Vec<ExtendedKeyUsagePurpose> {
        match self.kind {
            CertKind::Server => vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
            CertKind::Client => vec![
                ExtendedKeyUsagePurpose::ClientAuth,
                ExtendedKeyUsagePurpose::ServerAuth,
            ],
            CertKind::Cli => Vec::new(),
        }
    }
}

fn generate_error(context: &str, e: impl std::fmt::Display) -> TlsError {
    TlsError::Generate(format!("{context}: {e}"))
}

/// A random positive 127-bit serial number.
fn serial() -> Result<u128, TlsError> {
    use rand::TryRng as _;
    let mut bytes = [0u8; 16];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| generate_error("error generating serial number", e))?;
    Ok(u128::from_be_bytes(bytes) >> 1)
}

/// `now - 1 minute` (clock skew) to `now + days`.
fn validity(params: &mut CertificateParams, days: u32) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(1);
    params.not_after = now + time::Duration::days(i64::from(days));
}

/// A new agent CA: self-signed, ECDSA P-256, key usages cert sign, CRL sign, digital signature.
pub fn generate_ca(opts: &CaOptions) -> Result<PemPair, TlsError> {
    let sn = serial()?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    let name = opts
        .common_name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("Consul Agent CA {sn}"));
    dn.push(DnType::CommonName, name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.serial_number = Some(SerialNumber::from_slice(&sn.to_be_bytes()));
    validity(&mut params, opts.days);
    if opts.name_constraint {
        let mut permitted: Vec<String> = opts.additional_name_constraints.clone();
        permitted.push(opts.domain.trim_end_matches('.').to_string());
        permitted.push("localhost".into());
        params.name_constraints = Some(NameConstraints {
            permitted_subtrees: permitted.into_iter().map(GeneralSubtree::DnsName).collect(),
            excluded_subtrees: Vec::new(),
        });
    }
    let key = KeyPair::generate().map_err(|e| generate_error("error generating private key", e))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| generate_error("error generating CA certificate", e))?;
    Ok(PemPair {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// A new agent certificate signed by the CA (`ca_cert_pem` with its key `ca_key_pem`, PKCS#8
/// or SEC1 EC — Consul's CA keys are SEC1), checked afterwards to chain to the CA and to be
/// valid for its common name (Consul's `tlsutil.Verify`).
pub fn generate_cert(
    ca_cert_pem: &str,
    ca_key_pem: &str,
    opts: &CertOptions,
) -> Result<PemPair, TlsError> {
    let ca_key = signing_key(ca_key_pem)?;
    let issuer = Issuer::from_ca_cert_pem(ca_cert_pem, ca_key)
        .map_err(|e| generate_error("error parsing CA certificate", e))?;

    let name = opts.common_name();
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name.clone());
    params.distinguished_name = dn;
    for dns in opts.dns_names() {
        let san = dns
            .clone()
            .try_into()
            .map_err(|e| generate_error(&format!("invalid DNS name {dns:?}"), e))?;
        params.subject_alt_names.push(SanType::DnsName(san));
    }
    for ip in opts.ip_addresses() {
        params.subject_alt_names.push(SanType::IpAddress(ip));
    }
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = opts.extended_key_usages();
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(SerialNumber::from_slice(&serial()?.to_be_bytes()));
    validity(&mut params, opts.days);

    let key = KeyPair::generate().map_err(|e| generate_error("error generating private key", e))?;
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(|e| generate_error("error generating certificate", e))?;
    verify(ca_cert_pem, cert.der(), &name)?;
    Ok(PemPair {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// The CA's signing key: PKCS#8, or SEC1 (`EC PRIVATE KEY`, wrapped into PKCS#8 for ring).
fn signing_key(pem: &str) -> Result<KeyPair, TlsError> {
    let key = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => {
            TlsError::Generate("no PEM-encoded data found".into())
        }
        e => generate_error("error parsing CA key", e),
    })?;
    match &key {
        PrivateKeyDer::Pkcs8(_) => {
            KeyPair::try_from(&key).map_err(|e| generate_error("error parsing CA key", e))
        }
        PrivateKeyDer::Sec1(sec1) => {
            let der = sec1.secret_sec1_der();
            [P256_ALGORITHM, P384_ALGORITHM]
                .iter()
                .find_map(|alg| {
                    let pkcs8 = PrivatePkcs8KeyDer::from(sec1_to_pkcs8(alg, der));
                    KeyPair::try_from(&PrivateKeyDer::Pkcs8(pkcs8)).ok()
                })
                .ok_or_else(|| {
                    TlsError::Generate("error parsing CA key: unsupported EC curve".into())
                })
        }
        _ => Err(TlsError::Generate(
            "unknown PEM block type for signing key: RSA PRIVATE KEY".into(),
        )),
    }
}

/// AlgorithmIdentifier contents: id-ecPublicKey + prime256v1.
const P256_ALGORITHM: &[u8] = &[
    0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
    0x03, 0x01, 0x07,
];
/// AlgorithmIdentifier contents: id-ecPublicKey + secp384r1.
const P384_ALGORITHM: &[u8] = &[
    0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22,
];

/// One DER TLV (definite length; contents below 64 KiB).
fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
    let len = contents.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(contents);
    out
}

/// PKCS#8 `PrivateKeyInfo { 0, AlgorithmIdentifier, OCTET STRING(ECPrivateKey) }`.
fn sec1_to_pkcs8(algorithm: &[u8], sec1: &[u8]) -> Vec<u8> {
    let mut body = vec![0x02, 0x01, 0x00];
    body.extend(der(0x30, algorithm));
    body.extend(der(0x04, sec1));
    der(0x30, &body)
}

/// The certificate chains to the CA (signature, validity) and is valid for `name`.
fn verify(ca_cert_pem: &str, leaf: &CertificateDer<'_>, name: &str) -> Result<(), TlsError> {
    let ca = CertificateDer::from_pem_slice(ca_cert_pem.as_bytes())
        .map_err(|e| generate_error("failed to parse root certificate", e))?;
    let anchor = webpki::anchor_from_trusted_cert(&ca)
        .map_err(|e| generate_error("failed to parse root certificate", e))?;
    let cert = EndEntityCert::try_from(leaf)
        .map_err(|e| generate_error("failed to parse certificate", e))?;
    let algorithms = crate::verify::provider().signature_verification_algorithms;
    cert.verify_for_usage(
        algorithms.all,
        &[anchor],
        &[],
        UnixTime::now(),
        KeyUsage::server_auth(),
        None,
        None,
    )
    .map_err(|e| generate_error("certificate does not verify against the CA", e))?;
    let server_name = ServerName::try_from(name.to_string())
        .map_err(|e| generate_error(&format!("invalid name {name:?}"), e))?;
    cert.verify_is_valid_for_subject_name(&server_name)
        .map_err(|e| generate_error(&format!("certificate is not valid for {name}"), e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CA made by `openssl` with a SEC1 key (`EC PRIVATE KEY`), the format Consul writes.
    const SEC1_CA_KEY: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIIYwVTglBIZS1V/YJzB+NHrrd+b+rFpOk1MOyO5qABffoAoGCCqGSM49
AwEHoUQDQgAE3T8UKnzg5bKHBXOL6qyZT0gQaUiGQiucwQv+28aTzxh/IzqLOXx4
NRk71mjy/A2mO4zld2vFnm+jbo0La4xJVg==
-----END EC PRIVATE KEY-----
";
    const SEC1_CA_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBlDCCATugAwIBAgIUXNLlReWcYdKkeCp1Gfo/3afL/gYwCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMVGVzdCBTRUMxIENBMCAXDTI2MTEyMTExNTYwNloYDzIxMjYx
MDI4MTE1NjA2WjAXMRUwEwYDVQQDDAxUZXN0IFNFQzEgQ0EwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAATdPxQqfODlsocFc4vqrJlPSBBpSIZCK5zBC/7bxpPPGH8j
Oos5fHg1GTvWaPL8DaY7jOV3a8Web6NujQtrjElWo2MwYTAdBgNVHQ4EFgQUGyr2
VNkbmbegxbCsnZPAlPL323MwHwYDVR0jBBgwFoAUGyr2VNkbmbegxbCsnZPAlPL3
23MwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAYYwCgYIKoZIzj0EAwID
RwAwRAIgV+zkH5luaDvdMBZbNseBWBKdCzs0xqj6Kv516hKiQjQCICYmHnWobixK
zF+x3tBxxb2tzTcwZhMeObG9lhFaGf7a
-----END CERTIFICATE-----
";

    fn names(pem: &str) -> Vec<String> {
        let der = CertificateDer::from_pem_slice(pem.as_bytes()).expect("pem");
        let cert = EndEntityCert::try_from(&der).expect("cert");
        cert.valid_dns_names().map(str::to_string).collect()
    }

    #[test]
    fn consul_sans_per_kind() {
        let mut server = CertOptions::new(CertKind::Server);
        server.node = Some("s1".into());
        server.additional_dns_names = vec![" extra.example ".into(), String::new()];
        assert_eq!(
            server.dns_names(),
            [
                "extra.example",
                "s1.server.dc1.consul",
                "server.dc1.consul",
                "localhost"
            ]
        );
        assert_eq!(server.file_prefix(), "dc1-server-consul");
        let mut client = CertOptions::new(CertKind::Client);
        client.datacenter = "dc2".into();
        client.domain = "example.".into();
        assert_eq!(client.dns_names(), ["client.dc2.example", "localhost"]);
        assert_eq!(client.ip_addresses(), [IpAddr::V4(Ipv4Addr::LOCALHOST)]);
        let mut cli = CertOptions::new(CertKind::Cli);
        cli.additional_dns_names = vec!["dropped".into()];
        assert_eq!(cli.dns_names(), ["cli.dc1.consul", "localhost"]);
        assert!(cli.ip_addresses().is_empty());
    }

    #[test]
    fn name_constrained_ca_signs_names_in_its_domain_only() {
        let ca = generate_ca(&CaOptions {
            name_constraint: true,
            ..CaOptions::default()
        })
        .expect("ca");
        let ok = generate_cert(
            &ca.cert_pem,
            &ca.key_pem,
            &CertOptions::new(CertKind::Server),
        )
        .expect("server cert within the constraints");
        assert!(names(&ok.cert_pem).contains(&"server.dc1.consul".to_string()));
        let mut outside = CertOptions::new(CertKind::Server);
        outside.additional_dns_names = vec!["api.example.com".into()];
        let err = generate_cert(&ca.cert_pem, &ca.key_pem, &outside).unwrap_err();
        assert!(
            err.to_string().contains("does not verify against the CA"),
            "{err}"
        );
    }

    #[test]
    fn sec1_ca_keys_are_accepted() {
        let leaf = generate_cert(
            SEC1_CA_CERT,
            SEC1_CA_KEY,
            &CertOptions::new(CertKind::Client),
        )
        .expect("signed with a SEC1 key");
        assert_eq!(names(&leaf.cert_pem), ["client.dc1.consul", "localhost"]);
    }

    #[test]
    fn bad_ca_material_is_an_error_not_a_panic() {
        let ca = generate_ca(&CaOptions::default()).expect("ca");
        let opts = CertOptions::new(CertKind::Server);
        assert!(generate_cert(&ca.cert_pem, "not a key", &opts).is_err());
        assert!(generate_cert("garbage", &ca.key_pem, &opts).is_err());
        let other = generate_ca(&CaOptions::default()).expect("ca");
        // A key that does not belong to the certificate: the result does not verify.
        assert!(generate_cert(&ca.cert_pem, &other.key_pem, &opts).is_err());
    }
}
