//! Certificates: roots, intermediates, cross-signing, leaves, inspection.
//!
//! Times are unix seconds supplied by the caller; nothing here reads a clock.

use std::net::IpAddr;
use std::time::Duration;

use rcgen::string::{BmpString, Ia5String, UniversalString};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, PublicKeyData,
    SanType, SerialNumber, SubjectPublicKeyInfo,
};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::X509Name;

use crate::config::{CaConfig, PrivateKeyType};
use crate::error::{CaError, CsrError};
use crate::keys::{generate_key, generate_leaf_key, load_key};
use crate::spiffe::{SpiffeId, trust_domain};

/// How far leaves are back-dated to absorb clock skew (Consul: one minute).
pub const LEAF_BACKDATE_SECS: i64 = 60;

/// A CA certificate with its private key (PEM). The root in the primary
/// datacenter, the intermediate in a secondary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The signing certificate (PEM; only the first block is used).
    pub cert_pem: String,
    /// Its private key (SEC1 or PKCS#8 PEM, EC P-256/P-384).
    pub key_pem: String,
}

/// A newly created CA certificate and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCa {
    /// Certificate PEM.
    pub cert_pem: String,
    /// Private key PEM (SEC1 `EC PRIVATE KEY` when generated; as supplied otherwise).
    pub key_pem: String,
}

impl IssuedCa {
    /// This CA as a [`Signer`].
    pub fn signer(&self) -> Signer {
        Signer {
            cert_pem: self.cert_pem.clone(),
            key_pem: self.key_pem.clone(),
        }
    }
}

/// What a leaf CSR's SPIFFE ID must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafPolicy {
    /// Our trust domain (`<cluster_id>.consul`); compared case-insensitively.
    pub trust_domain: String,
    /// Our datacenter.
    pub datacenter: String,
}

/// A signed leaf certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedLeaf {
    /// Certificate PEM.
    pub cert_pem: String,
    /// Serial as colon-hex (Consul's `SerialNumber` string form).
    pub serial_hex: String,
    /// NotBefore, unix seconds.
    pub valid_after: i64,
    /// NotAfter, unix seconds.
    pub valid_before: i64,
    /// The SPIFFE ID the leaf was issued for.
    pub spiffe: SpiffeId,
}

/// What callers need to know about a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Consul's root ID: colon-hex lower-case SHA-1 of the DER.
    pub id: String,
    /// The serial's low 64 bits (Go's `big.Int.Uint64()`); exact for leaves,
    /// truncated for the random 128-bit serials of CA certificates.
    pub serial_number: u64,
    /// The full serial as colon-hex (minimal big-endian bytes).
    pub serial_hex: String,
    /// SubjectKeyIdentifier as colon-hex; empty when the extension is absent.
    pub subject_key_id: String,
    /// AuthorityKeyIdentifier's key identifier as colon-hex, when present.
    pub authority_key_id: Option<String>,
    /// NotBefore, unix seconds.
    pub not_before: i64,
    /// NotAfter, unix seconds.
    pub not_after: i64,
    /// Subject common name, when present.
    pub common_name: Option<String>,
    /// URI SANs.
    pub uris: Vec<String>,
    /// DNS SANs.
    pub dns_names: Vec<String>,
    /// BasicConstraints CA flag.
    pub is_ca: bool,
    /// Public key type (`None` for kinds Consul does not name, e.g. Ed25519).
    pub key_type: Option<PrivateKeyType>,
    /// Public key length in bits (0 when unknown).
    pub key_bits: u32,
}

/// Lower-case colon-separated hex (`c7:bd:55`), Consul's `HexString`.
pub fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, bytes).as_ref().to_vec()
}

fn crypto(e: rcgen::Error) -> CaError {
    CaError::Crypto(e.to_string())
}

fn random_bytes<const N: usize>() -> Result<[u8; N], CaError> {
    let mut b = [0u8; N];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| CaError::Crypto("system random source failed".into()))?;
    Ok(b)
}

/// A random positive 128-bit serial (Consul's `GenerateSerialNumber`).
fn random_serial() -> Result<SerialNumber, CaError> {
    let mut b: [u8; 16] = random_bytes()?;
    b[0] &= 0x7f;
    b[0] |= 0x01;
    Ok(SerialNumber::from_slice(&b))
}

/// Eight random base-36 characters (Consul's `CompactUID`, truncated).
fn compact_uid() -> Result<String, CaError> {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(8);
    while out.len() < 8 {
        for b in random_bytes::<16>()? {
            // Rejection sampling keeps the distribution uniform.
            if b < 252 && out.len() < 8 {
                out.push(char::from(ALPHABET[usize::from(b % 36)]));
            }
        }
    }
    Ok(out)
}

/// `<kind>-<uid>.consul.ca.<first 8 chars of the cluster id>.consul`.
fn ca_common_name(kind: &str, trust_domain: &str) -> Result<String, CaError> {
    let cluster = trust_domain.strip_suffix(".consul").unwrap_or(trust_domain);
    let short: String = cluster.chars().take(8).collect();
    Ok(format!(
        "{kind}-{}.consul.ca.{short}.consul",
        compact_uid()?
    ))
}

fn to_time(unix: i64) -> Result<OffsetDateTime, CaError> {
    let t = OffsetDateTime::from_unix_timestamp(unix)
        .map_err(|e| CaError::Validity(format!("time {unix} out of range: {e}")))?;
    // X.509 times must be representable as UTCTime/GeneralizedTime.
    if !(1950..=9999).contains(&t.year()) {
        return Err(CaError::Validity(format!(
            "time {unix} outside the X.509 range"
        )));
    }
    Ok(t)
}

fn plus(unix: i64, d: Duration) -> Result<i64, CaError> {
    i64::try_from(d.as_secs())
        .ok()
        .and_then(|s| unix.checked_add(s))
        .ok_or_else(|| CaError::Validity("validity period overflows".into()))
}

fn set_validity(params: &mut CertificateParams, from: i64, to: i64) -> Result<(), CaError> {
    if to <= from {
        return Err(CaError::Validity(format!(
            "not after ({to}) is not later than not before ({from}); is the signing certificate expired?"
        )));
    }
    params.not_before = to_time(from)?;
    params.not_after = to_time(to)?;
    Ok(())
}

fn pem_block(text: &str, labels: &[&str]) -> Result<Vec<u8>, CaError> {
    let p = pem::parse(text.trim()).map_err(|e| CaError::Pem(e.to_string()))?;
    if !labels.contains(&p.tag()) {
        return Err(CaError::Pem(format!(
            "expected a {:?} block, got {:?}",
            labels[0],
            p.tag()
        )));
    }
    Ok(p.into_contents())
}

fn cert_der(cert_pem: &str) -> Result<Vec<u8>, CaError> {
    pem_block(cert_pem, &["CERTIFICATE"])
}

fn parse_cert(der: &[u8]) -> Result<X509Certificate<'_>, CaError> {
    let (rest, cert) =
        X509Certificate::from_der(der).map_err(|e| CaError::Certificate(e.to_string()))?;
    if !rest.is_empty() {
        return Err(CaError::Certificate(
            "trailing data after certificate".into(),
        ));
    }
    Ok(cert)
}

fn skid_of(cert: &X509Certificate<'_>) -> Option<Vec<u8>> {
    cert.iter_extensions()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        })
}

fn akid_of(cert: &X509Certificate<'_>) -> Option<Vec<u8>> {
    cert.iter_extensions()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                a.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        })
}

#[derive(Default)]
struct Sans {
    uris: Vec<String>,
    dns: Vec<String>,
    ips: Vec<IpAddr>,
}

fn collect_sans<'a>(names: impl Iterator<Item = &'a GeneralName<'a>>) -> Result<Sans, CaError> {
    let mut s = Sans::default();
    for n in names {
        match n {
            GeneralName::URI(u) => s.uris.push((*u).to_string()),
            GeneralName::DNSName(d) => s.dns.push((*d).to_string()),
            GeneralName::IPAddress(b) => {
                let ip = match b.len() {
                    4 => <[u8; 4]>::try_from(*b).map(IpAddr::from).ok(),
                    16 => <[u8; 16]>::try_from(*b).map(IpAddr::from).ok(),
                    _ => None,
                };
                s.ips
                    .push(ip.ok_or_else(|| CaError::Csr("bad IP address SAN".into()))?);
            }
            _ => {}
        }
    }
    Ok(s)
}

fn cert_sans(cert: &X509Certificate<'_>) -> Result<Sans, CaError> {
    match cert
        .subject_alternative_name()
        .map_err(|e| CaError::Certificate(e.to_string()))?
    {
        Some(san) => collect_sans(san.value.general_names.iter()),
        None => Ok(Sans::default()),
    }
}

fn san_params(s: &Sans) -> Result<Vec<SanType>, CaError> {
    let ia5 = |v: &str| {
        Ia5String::try_from(v.to_string())
            .map_err(|e| CaError::Csr(format!("SAN {v:?} is not IA5: {e}")))
    };
    let mut out = Vec::new();
    for u in &s.uris {
        out.push(SanType::URI(ia5(u)?));
    }
    for d in &s.dns {
        out.push(SanType::DnsName(ia5(d)?));
    }
    for ip in &s.ips {
        out.push(SanType::IpAddress(*ip));
    }
    Ok(out)
}

/// Rebuilds an rcgen name from a parsed one, keeping each value's string type so
/// the re-encoded name is byte-identical (needed for issuer/subject chaining).
fn dn_from_name(name: &X509Name<'_>) -> Result<DistinguishedName, CaError> {
    let bad = |what: &str| CaError::Certificate(format!("unsupported distinguished name: {what}"));
    let mut dn = DistinguishedName::new();
    for rdn in name.iter() {
        let mut attrs = rdn.iter();
        let (Some(attr), None) = (attrs.next(), attrs.next()) else {
            return Err(bad("empty or multi-valued RDN"));
        };
        let oid: Vec<u64> = attr
            .attr_type()
            .iter()
            .ok_or_else(|| bad("attribute OID"))?
            .collect();
        let ty = DnType::from_oid(&oid);
        if dn.get(&ty).is_some() {
            return Err(bad("repeated attribute type"));
        }
        let value = attr.attr_value();
        let data: &[u8] = value.data;
        let text = || std::str::from_utf8(data).map_err(|_| bad("non-UTF-8 string"));
        let v = match value.header.tag() {
            Tag::Utf8String => DnValue::Utf8String(text()?.to_string()),
            Tag::PrintableString => {
                DnValue::PrintableString(text()?.try_into().map_err(|_| bad("PrintableString"))?)
            }
            Tag::Ia5String => DnValue::Ia5String(text()?.try_into().map_err(|_| bad("IA5String"))?),
            Tag::T61String => {
                DnValue::TeletexString(text()?.try_into().map_err(|_| bad("TeletexString"))?)
            }
            Tag::BmpString => DnValue::BmpString(
                BmpString::from_utf16be(data.to_vec()).map_err(|_| bad("BMPString"))?,
            ),
            Tag::UniversalString => DnValue::UniversalString(
                UniversalString::from_utf32be(data.to_vec()).map_err(|_| bad("UniversalString"))?,
            ),
            _ => return Err(bad("attribute value type")),
        };
        dn.push(ty, v);
    }
    Ok(dn)
}

/// A loaded, checked signer.
struct LoadedSigner {
    issuer: Issuer<'static, KeyPair>,
    subject_raw: Vec<u8>,
    not_after: i64,
}

fn load_signer(signer: &Signer) -> Result<LoadedSigner, CaError> {
    let der = cert_der(&signer.cert_pem)?;
    let cert = parse_cert(&der)?;
    let key = load_key(&signer.key_pem)?;
    if key.public_key_raw() != cert.public_key().subject_public_key.data.as_ref() {
        return Err(CaError::KeyMismatch);
    }
    if !cert.is_ca() {
        return Err(CaError::Certificate(
            "signing certificate is not a CA certificate".into(),
        ));
    }
    let skid = skid_of(&cert).unwrap_or_else(|| sha256(cert.public_key().raw));
    let mut params = CertificateParams::default();
    params.distinguished_name = dn_from_name(cert.subject())?;
    params.key_identifier_method = KeyIdMethod::PreSpecified(skid);
    Ok(LoadedSigner {
        issuer: Issuer::new(params, key),
        subject_raw: cert.subject().as_raw().to_vec(),
        not_after: cert.validity().not_after.timestamp(),
    })
}

/// Signs `params` for `public_key` with the signer, then checks the issuer name
/// chains byte-for-byte to the signer's subject.
fn issue(
    params: &CertificateParams,
    public_key: &impl PublicKeyData,
    signer: &LoadedSigner,
) -> Result<String, CaError> {
    let cert = params
        .signed_by(public_key, &signer.issuer)
        .map_err(crypto)?;
    let parsed = parse_cert(cert.der())?;
    if parsed.issuer().as_raw() != signer.subject_raw.as_slice() {
        return Err(CaError::Certificate(
            "could not reproduce the signer's subject name exactly".into(),
        ));
    }
    Ok(cert.pem())
}

fn ca_key_usages() -> Vec<KeyUsagePurpose> {
    vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ]
}

/// Parses a certificate PEM (first block) into a [`CertInfo`].
pub fn cert_info(cert_pem: &str) -> Result<CertInfo, CaError> {
    let der = cert_der(cert_pem)?;
    let cert = parse_cert(&der)?;
    let sha1 = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
    let raw_serial = cert.raw_serial();
    let first = raw_serial
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(raw_serial.len().saturating_sub(1));
    let serial = raw_serial.get(first..).unwrap_or_default();
    let serial_number = serial
        .iter()
        .rev()
        .take(8)
        .rev()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let sans = cert_sans(&cert)?;
    let (key_type, key_bits) = match cert.public_key().parsed() {
        Ok(PublicKey::EC(p)) => (Some(PrivateKeyType::Ec), p.key_size()),
        Ok(PublicKey::RSA(r)) => (Some(PrivateKeyType::Rsa), r.key_size()),
        Ok(other) => (None, other.key_size()),
        Err(_) => (None, 0),
    };
    Ok(CertInfo {
        id: colon_hex(sha1.as_ref()),
        serial_number,
        serial_hex: colon_hex(serial),
        subject_key_id: skid_of(&cert).map(|k| colon_hex(&k)).unwrap_or_default(),
        authority_key_id: akid_of(&cert).map(|k| colon_hex(&k)),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        common_name: cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_string),
        uris: sans.uris,
        dns_names: sans.dns,
        is_ca: cert.is_ca(),
        key_type,
        key_bits: u32::try_from(key_bits).unwrap_or(0),
    })
}

/// Creates the primary datacenter's root CA (Consul's built-in provider).
///
/// Validates `config` first. With `private_key` and `root_cert` set, returns
/// them after checking the key matches the certificate and that it is a CA
/// (bring-your-own root). With only `private_key`, self-signs a root with that
/// key. Otherwise generates a key of `private_key_type`/`private_key_bits`.
///
/// The generated root: CN `pri-<uid>.consul.ca.<cluster id[..8]>.consul`, URI
/// SAN `spiffe://<cluster_id>.consul`, CA:true, KeyUsage
/// certSign|crlSign|digitalSignature, SKID = AKID = SHA-256 of the SPKI,
/// random 128-bit serial, validity `now` → `now + root_cert_ttl`.
pub fn new_root(cluster_id: &str, config: &CaConfig, now: i64) -> Result<IssuedCa, CaError> {
    config.validate()?;
    if let (Some(key_pem), Some(cert_pem)) = (&config.private_key, &config.root_cert) {
        let signer = Signer {
            cert_pem: cert_pem.clone(),
            key_pem: key_pem.clone(),
        };
        load_signer(&signer)?;
        return Ok(IssuedCa {
            cert_pem: signer.cert_pem,
            key_pem: signer.key_pem,
        });
    }
    let key_pem = match &config.private_key {
        Some(k) => k.clone(),
        None => generate_key(config.private_key_type, config.private_key_bits)?,
    };
    let key = load_key(&key_pem)?;
    let td = trust_domain(cluster_id);
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, ca_common_name("pri", &td)?);
    params.distinguished_name = dn;
    params.subject_alt_names = san_params(&Sans {
        uris: vec![SpiffeId::Signing { trust_domain: td }.uri()],
        ..Sans::default()
    })?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = ca_key_usages();
    params.serial_number = Some(random_serial()?);
    params.key_identifier_method =
        KeyIdMethod::PreSpecified(sha256(&key.subject_public_key_info()));
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params, now, plus(now, config.root_cert_ttl)?)?;
    let cert = params.self_signed(&key).map_err(crypto)?;
    Ok(IssuedCa {
        cert_pem: cert.pem(),
        key_pem,
    })
}

/// A secondary datacenter's intermediate CSR: CN
/// `sec-<uid>.consul.ca.<trust domain[..8]>.consul`, URI SAN `spiffe://<td>`,
/// requested BasicConstraints CA:true pathlen 0. `key_pem` is SEC1 or PKCS#8.
pub fn intermediate_csr(trust_domain: &str, key_pem: &str) -> Result<String, CaError> {
    let key = load_key(key_pem)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, ca_common_name("sec", trust_domain)?);
    params.distinguished_name = dn;
    params.subject_alt_names = san_params(&Sans {
        uris: vec![
            SpiffeId::Signing {
                trust_domain: trust_domain.to_string(),
            }
            .uri(),
        ],
        ..Sans::default()
    })?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let csr = params.serialize_request(&key).map_err(crypto)?;
    csr.pem().map_err(crypto)
}

/// A parsed, signature-verified CSR.
struct ParsedCsr {
    subject: DistinguishedName,
    sans: Sans,
    public_key: SubjectPublicKeyInfo,
}

fn parse_csr(csr_pem: &str) -> Result<ParsedCsr, CaError> {
    let der = pem_block(csr_pem, &["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"])?;
    let (rest, csr) =
        X509CertificationRequest::from_der(&der).map_err(|e| CaError::Csr(e.to_string()))?;
    if !rest.is_empty() {
        return Err(CaError::Csr("trailing data after CSR".into()));
    }
    csr.verify_signature().map_err(|_| CsrError::BadSignature)?;
    let info = &csr.certification_request_info;
    let mut sans = Sans::default();
    if let Some(exts) = csr.requested_extensions() {
        for ext in exts {
            if let ParsedExtension::SubjectAlternativeName(san) = ext {
                let s = collect_sans(san.general_names.iter())?;
                sans.uris.extend(s.uris);
                sans.dns.extend(s.dns);
                sans.ips.extend(s.ips);
            }
        }
    }
    let public_key = SubjectPublicKeyInfo::from_der(info.subject_pki.raw)
        .map_err(|e| CaError::Csr(format!("unsupported public key: {e}")))?;
    Ok(ParsedCsr {
        subject: dn_from_name(&info.subject).map_err(|e| CaError::Csr(e.to_string()))?,
        sans,
        public_key,
    })
}

/// Signs a secondary datacenter's intermediate CSR (Consul's `SignIntermediate`).
///
/// Refuses ([`CsrError::UriCount`], [`CsrError::IntermediateDomain`]) a CSR whose
/// URI SANs are not exactly `spiffe://<trust_domain>`, and one whose signature
/// does not verify. Issues CA:true pathlen 0, KeyUsage
/// certSign|crlSign|digitalSignature, the CSR's subject and SANs, AKID = signer
/// SKID, SKID = SHA-256 of the CSR's SPKI, random serial, validity
/// `now` → `min(now + ttl, signer not_after)`.
pub fn sign_intermediate(
    signer: &Signer,
    csr_pem: &str,
    trust_domain: &str,
    ttl: Duration,
    now: i64,
) -> Result<String, CaError> {
    let csr = parse_csr(csr_pem)?;
    let [uri] = csr.sans.uris.as_slice() else {
        return Err(CsrError::UriCount(csr.sans.uris.len()).into());
    };
    match SpiffeId::parse(uri) {
        Ok(SpiffeId::Signing { trust_domain: td }) if td.eq_ignore_ascii_case(trust_domain) => {}
        _ => {
            return Err(CsrError::IntermediateDomain {
                uri: uri.clone(),
                trust_domain: trust_domain.to_string(),
            }
            .into());
        }
    }
    let loaded = load_signer(signer)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = csr.subject.clone();
    params.subject_alt_names = san_params(&csr.sans)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = ca_key_usages();
    params.serial_number = Some(random_serial()?);
    params.key_identifier_method =
        KeyIdMethod::PreSpecified(sha256(&csr.public_key.subject_public_key_info()));
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params, now, plus(now, ttl)?.min(loaded.not_after))?;
    issue(&params, &csr.public_key, &loaded)
}

/// Cross-signs a new root with the old one for root rotation (Consul's
/// `CrossSignCA`): the new root's subject, public key, SKID, URI/DNS SANs and
/// basic constraints, issued by the old root (issuer = old subject, AKID = old
/// SKID), KeyUsage certSign|crlSign|digitalSignature, random serial, validity
/// `now` → `min(new root not_after, old root not_after)`.
pub fn cross_sign(old: &Signer, new_root_cert_pem: &str, now: i64) -> Result<String, CaError> {
    let loaded = load_signer(old)?;
    let der = cert_der(new_root_cert_pem)?;
    let new = parse_cert(&der)?;
    let bc = new
        .basic_constraints()
        .map_err(|e| CaError::Certificate(e.to_string()))?
        .map(|b| b.value)
        .filter(|b| b.ca)
        .ok_or_else(|| CaError::Certificate("new root is not a CA certificate".into()))?;
    let public_key = SubjectPublicKeyInfo::from_der(new.public_key().raw)
        .map_err(|e| CaError::Certificate(format!("unsupported public key: {e}")))?;
    let mut params = CertificateParams::default();
    params.distinguished_name = dn_from_name(new.subject())?;
    let sans = cert_sans(&new)?;
    params.subject_alt_names = san_params(&Sans {
        ips: Vec::new(),
        ..sans
    })?;
    params.is_ca = IsCa::Ca(match bc.path_len_constraint {
        Some(n) => BasicConstraints::Constrained(u8::try_from(n).unwrap_or(u8::MAX)),
        None => BasicConstraints::Unconstrained,
    });
    params.key_usages = ca_key_usages();
    params.serial_number = Some(random_serial()?);
    params.key_identifier_method = KeyIdMethod::PreSpecified(
        skid_of(&new).unwrap_or_else(|| sha256(&public_key.subject_public_key_info())),
    );
    params.use_authority_key_identifier_extension = true;
    let new_not_after = new.validity().not_after.timestamp();
    set_validity(&mut params, now, new_not_after.min(loaded.not_after))?;
    issue(&params, &public_key, &loaded)
}

/// A leaf CSR: empty subject, one URI SAN (the SPIFFE ID) plus `dns_sans`.
pub fn leaf_csr(spiffe: &SpiffeId, dns_sans: &[String], key_pem: &str) -> Result<String, CaError> {
    let key = load_key(key_pem)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.subject_alt_names = san_params(&Sans {
        uris: vec![spiffe.uri()],
        dns: dns_sans.to_vec(),
        ips: Vec::new(),
    })?;
    let csr = params.serialize_request(&key).map_err(crypto)?;
    csr.pem().map_err(crypto)
}

/// Checks a leaf CSR's SPIFFE ID against policy (Consul's `SignCertificate` checks).
fn check_leaf_uri(uris: &[String], expect: &LeafPolicy) -> Result<SpiffeId, CaError> {
    let [uri] = uris else {
        return Err(CsrError::UriCount(uris.len()).into());
    };
    let id = SpiffeId::parse(uri).map_err(|_| CsrError::InvalidSpiffeId(uri.clone()))?;
    if matches!(id, SpiffeId::Signing { .. }) {
        return Err(CsrError::Kind.into());
    }
    if !id.trust_domain().eq_ignore_ascii_case(&expect.trust_domain) {
        return Err(CsrError::TrustDomain {
            got: id.trust_domain().to_string(),
            want: expect.trust_domain.clone(),
        }
        .into());
    }
    if let Some(dc) = id.datacenter()
        && dc != expect.datacenter
    {
        return Err(CsrError::Datacenter {
            got: dc.to_string(),
            want: expect.datacenter.clone(),
        }
        .into());
    }
    Ok(id)
}

/// Signs a leaf CSR (Consul's built-in `SignLeaf` plus the server's checks).
///
/// Refusals ([`CaError::CsrRefused`]): bad CSR signature, not exactly one URI
/// SAN, an unparsable SPIFFE ID, a signing ID, another trust domain, another
/// datacenter. The leaf: empty subject, critical SAN with the CSR's URI, DNS and
/// IP SANs, the CSR's key, signed with the signer's key (ECDSA-SHA256 for P-256,
/// ECDSA-SHA384 for P-384), NotBefore = `now - 60`, NotAfter = `min(NotBefore +
/// ttl, signer not_after)`, KeyUsage digitalSignature|keyEncipherment|
/// dataEncipherment|keyAgreement, EKU clientAuth+serverAuth, CA:false, AKID =
/// signer SKID, SKID = SHA-256 of the leaf SPKI, serial = `serial`.
pub fn sign_leaf(
    signer: &Signer,
    csr_pem: &str,
    expect: &LeafPolicy,
    ttl: Duration,
    serial: u64,
    now: i64,
) -> Result<IssuedLeaf, CaError> {
    let csr = parse_csr(csr_pem)?;
    let spiffe = check_leaf_uri(&csr.sans.uris, expect)?;
    let loaded = load_signer(signer)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.subject_alt_names = san_params(&csr.sans)?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::DataEncipherment,
        KeyUsagePurpose::KeyAgreement,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::ServerAuth,
    ];
    params.serial_number = Some(SerialNumber::from(serial));
    params.key_identifier_method =
        KeyIdMethod::PreSpecified(sha256(&csr.public_key.subject_public_key_info()));
    params.use_authority_key_identifier_extension = true;
    let not_before = now
        .checked_sub(LEAF_BACKDATE_SECS)
        .ok_or_else(|| CaError::Validity("time out of range".into()))?;
    let not_after = plus(not_before, ttl)?.min(loaded.not_after);
    set_validity(&mut params, not_before, not_after)?;
    let cert_pem = issue(&params, &csr.public_key, &loaded)?;
    let minimal = serial.to_be_bytes();
    let start = minimal.iter().position(|b| *b != 0).unwrap_or(7);
    Ok(IssuedLeaf {
        cert_pem,
        serial_hex: colon_hex(minimal.get(start..).unwrap_or_default()),
        valid_after: not_before,
        valid_before: not_after,
        spiffe,
    })
}

/// Generates an EC P-256 key, a CSR for `spiffe` and signs it: what an agent
/// asking a server effectively does. Returns the SEC1 key PEM and the leaf.
pub fn issue_leaf(
    signer: &Signer,
    expect: &LeafPolicy,
    spiffe: &SpiffeId,
    dns_sans: &[String],
    ttl: Duration,
    serial: u64,
    now: i64,
) -> Result<(String, IssuedLeaf), CaError> {
    let key_pem = generate_leaf_key()?;
    let csr = leaf_csr(spiffe, dns_sans, &key_pem)?;
    let leaf = sign_leaf(signer, &csr, expect, ttl, serial, now)?;
    Ok((key_pem, leaf))
}
