//! Cross-module tests: roots, intermediates, cross-signing and leaves, with the
//! chains verified by rustls-webpki and (when present) the openssl CLI.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ring::digest;
use rustls_pki_types::{CertificateDer, UnixTime};
use webpki::{ALL_VERIFICATION_ALGS, EndEntityCert, KeyUsage, anchor_from_trusted_cert};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry;
use x509_parser::prelude::FromDer;

use crate::test_util::openssl_dir;
use crate::*;

const CLUSTER: &str = "6f79ef6a-1111-2222-3333-444444444444";
const NOW: i64 = 1_750_000_000;
const HOUR: Duration = Duration::from_secs(3600);

fn td() -> String {
    trust_domain(CLUSTER)
}

fn policy(dc: &str) -> LeafPolicy {
    LeafPolicy {
        trust_domain: td(),
        datacenter: dc.to_string(),
    }
}

fn web(dc: &str) -> SpiffeId {
    SpiffeId::Service {
        trust_domain: td(),
        namespace: "default".into(),
        datacenter: dc.into(),
        service: "web".into(),
    }
}

fn der(pem_text: &str) -> Vec<u8> {
    pem::parse(pem_text).unwrap().into_contents()
}

fn parsed(der: &[u8]) -> X509Certificate<'_> {
    let (rest, c) = X509Certificate::from_der(der).unwrap();
    assert!(rest.is_empty());
    c
}

fn sha256(b: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, b).as_ref().to_vec()
}

fn skid(c: &X509Certificate<'_>) -> Vec<u8> {
    c.iter_extensions()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        })
        .expect("SKID present")
}

fn akid(c: &X509Certificate<'_>) -> Vec<u8> {
    c.iter_extensions()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                a.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        })
        .expect("AKID present")
}

fn root(config: &CaConfig) -> IssuedCa {
    new_root(CLUSTER, config, NOW).unwrap()
}

/// Verifies `leaf` up to `anchor` through `intermediates` with webpki, for both
/// client and server auth, at `NOW + 10`.
fn webpki_verify(anchor: &str, intermediates: &[&str], leaf: &str) -> Result<(), webpki::Error> {
    let anchor_der = CertificateDer::from(der(anchor));
    let anchors = [anchor_from_trusted_cert(&anchor_der)?.to_owned()];
    let inter: Vec<CertificateDer<'static>> = intermediates
        .iter()
        .map(|p| CertificateDer::from(der(p)))
        .collect();
    let leaf_der = CertificateDer::from(der(leaf));
    let ee = EndEntityCert::try_from(&leaf_der)?;
    let at = UnixTime::since_unix_epoch(Duration::from_secs((NOW + 10) as u64));
    for usage in [KeyUsage::client_auth(), KeyUsage::server_auth()] {
        ee.verify_for_usage(
            ALL_VERIFICATION_ALGS,
            &anchors,
            &inter,
            at,
            usage,
            None,
            None,
        )?;
    }
    Ok(())
}

/// `openssl verify` with `-purpose sslclient/sslserver` at `NOW + 10`, or a
/// printed note when openssl is absent.
fn openssl_verify(name: &str, anchor: &str, intermediates: &[&str], leaf: &str) {
    let Some(dir) = openssl_dir(name) else {
        return;
    };
    let write = |file: &str, text: &str| {
        let p = dir.join(file);
        std::fs::write(&p, text).unwrap();
        p
    };
    let root_path = write("root.pem", anchor);
    let inter_path = write("inter.pem", &intermediates.concat());
    let leaf_path = write("leaf.pem", leaf);
    for purpose in ["sslclient", "sslserver"] {
        let mut cmd = Command::new("openssl");
        cmd.arg("verify")
            .args(["-attime", &(NOW + 10).to_string()])
            .args(["-purpose", purpose])
            .arg("-CAfile")
            .arg(&root_path);
        if !intermediates.is_empty() {
            cmd.arg("-untrusted").arg(&inter_path);
        }
        let out = cmd.arg(&leaf_path).output().unwrap();
        assert!(
            out.status.success(),
            "openssl verify ({name}, {purpose}) failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn root_properties() {
    let config = CaConfig::default();
    let ca = root(&config);
    assert!(ca.key_pem.starts_with("-----BEGIN EC PRIVATE KEY-----"));
    let d = der(&ca.cert_pem);
    let c = parsed(&d);

    // Self-signed, CA, names.
    assert_eq!(c.subject().as_raw(), c.issuer().as_raw());
    c.verify_signature(None).unwrap();
    assert!(c.is_ca());
    let cn = c
        .subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    let uid = cn.strip_prefix("pri-").unwrap();
    let (uid, rest) = uid.split_at(8);
    assert!(
        uid.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    );
    assert_eq!(rest, ".consul.ca.6f79ef6a.consul");

    let info = cert_info(&ca.cert_pem).unwrap();
    assert_eq!(info.uris, vec![format!("spiffe://{}", td())]);
    assert!(info.is_ca);
    assert_eq!(info.common_name.as_deref(), Some(cn.as_str()));
    assert_eq!(info.not_before, NOW);
    assert_eq!(info.not_after, NOW + 87600 * 3600);
    assert_eq!(info.key_type, Some(PrivateKeyType::Ec));
    assert_eq!(info.key_bits, 256);

    // SKID = full SHA-256 of the SPKI; AKID = SKID.
    assert_eq!(skid(&c), sha256(c.public_key().raw));
    assert_eq!(akid(&c), skid(&c));
    assert_eq!(info.subject_key_id, colon_hex(&skid(&c)));
    assert_eq!(info.authority_key_id, Some(info.subject_key_id.clone()));

    // ID = colon-hex SHA-1 of the DER.
    let sha1 = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &d);
    assert_eq!(info.id, colon_hex(sha1.as_ref()));
    assert_eq!(info.id.len(), 20 * 3 - 1);
    assert!(info.id.bytes().all(|b| b == b':' || b.is_ascii_hexdigit()));
    assert_eq!(info.id, info.id.to_lowercase());

    // Serial: random 128-bit; hex is the full value, u64 its low 64 bits.
    let serial_bytes: Vec<u8> = info
        .serial_hex
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect();
    assert_eq!(serial_bytes.len(), 16);
    assert_eq!(
        info.serial_number,
        u64::from_be_bytes(serial_bytes[8..].try_into().unwrap())
    );

    // Key usage.
    let ku = c.key_usage().unwrap().unwrap().value;
    assert!(ku.key_cert_sign() && ku.crl_sign() && ku.digital_signature());
    assert!(!ku.key_encipherment());

    // P-384 roots.
    let ca384 = root(&CaConfig {
        private_key_bits: 384,
        ..CaConfig::default()
    });
    let info = cert_info(&ca384.cert_pem).unwrap();
    assert_eq!(info.key_bits, 384);
    parsed(&der(&ca384.cert_pem))
        .verify_signature(None)
        .unwrap();
}

#[test]
fn root_rejects_invalid_config() {
    let bad = CaConfig {
        leaf_cert_ttl: Duration::from_secs(60),
        ..CaConfig::default()
    };
    assert!(matches!(
        new_root(CLUSTER, &bad, NOW),
        Err(CaError::Config(ConfigError::LeafTtlTooShort))
    ));
    let rsa = CaConfig {
        private_key_type: PrivateKeyType::Rsa,
        private_key_bits: 2048,
        ..CaConfig::default()
    };
    assert!(matches!(
        new_root(CLUSTER, &rsa, NOW),
        Err(CaError::Config(ConfigError::UnsupportedKey { .. }))
    ));
}

#[test]
fn bring_your_own_root() {
    let ca = root(&CaConfig::default());
    // Key + cert: returned as given.
    let byo = CaConfig {
        private_key: Some(ca.key_pem.clone()),
        root_cert: Some(ca.cert_pem.clone()),
        ..CaConfig::default()
    };
    assert_eq!(new_root(CLUSTER, &byo, NOW).unwrap(), ca);
    // PKCS#8 form of the key also works.
    let byo8 = CaConfig {
        private_key: Some(key_to_pkcs8_pem(&ca.key_pem).unwrap()),
        ..byo.clone()
    };
    new_root(CLUSTER, &byo8, NOW).unwrap();
    // Mismatched key.
    let other = generate_key(PrivateKeyType::Ec, 256).unwrap();
    let bad = CaConfig {
        private_key: Some(other.clone()),
        ..byo
    };
    assert!(matches!(
        new_root(CLUSTER, &bad, NOW),
        Err(CaError::KeyMismatch)
    ));
    // Key only: a root is self-signed with it.
    let key_only = CaConfig {
        private_key: Some(other.clone()),
        ..CaConfig::default()
    };
    let r = new_root(CLUSTER, &key_only, NOW).unwrap();
    assert_eq!(r.key_pem, other);
    let signer = r.signer();
    let (_, leaf) =
        issue_leaf(&signer, &policy("dc1"), &web("dc1"), &[], 72 * HOUR, 1, NOW).unwrap();
    webpki_verify(&r.cert_pem, &[], &leaf.cert_pem).unwrap();
}

#[test]
fn bring_your_own_openssl_root() {
    let Some(dir) = openssl_dir("byo") else {
        return;
    };
    openssl(
        &dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "k.pem",
        ],
    );
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "k.pem",
            "-subj",
            "/C=US/O=Acme/CN=Acme Root",
            "-days",
            "3650",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
            "-out",
            "c.pem",
        ],
    );
    let key = std::fs::read_to_string(dir.join("k.pem")).unwrap();
    let cert = std::fs::read_to_string(dir.join("c.pem")).unwrap();
    assert!(key.contains("BEGIN EC PRIVATE KEY"));
    let _ = std::fs::remove_dir_all(&dir);
    let config = CaConfig {
        private_key: Some(key),
        root_cert: Some(cert),
        ..CaConfig::default()
    };
    let now = cert_info(config.root_cert.as_deref().unwrap())
        .unwrap()
        .not_before
        + 100;
    let ca = new_root(CLUSTER, &config, now).unwrap();
    let (_, leaf) =
        issue_leaf(&ca.signer(), &policy("dc1"), &web("dc1"), &[], HOUR, 7, now).unwrap();
    // The issuer name (PrintableString C/O/CN) was reproduced byte-for-byte.
    let leaf_der = der(&leaf.cert_pem);
    let root_der = der(&ca.cert_pem);
    assert_eq!(
        parsed(&leaf_der).issuer().as_raw(),
        parsed(&root_der).subject().as_raw()
    );
    let leaf_cert = parsed(&leaf_der);
    leaf_cert
        .verify_signature(Some(parsed(&root_der).public_key()))
        .unwrap();
}

#[test]
fn primary_chain_root_to_leaf() {
    let ca = root(&CaConfig::default());
    let (key, leaf) = issue_leaf(
        &ca.signer(),
        &policy("dc1"),
        &web("dc1"),
        &["web.service.consul".to_string()],
        72 * HOUR,
        42,
        NOW,
    )
    .unwrap();
    assert!(key.starts_with("-----BEGIN EC PRIVATE KEY-----"));
    assert_eq!(leaf.spiffe, web("dc1"));
    assert_eq!(leaf.serial_hex, "2a");
    webpki_verify(&ca.cert_pem, &[], &leaf.cert_pem).unwrap();
    openssl_verify("primary", &ca.cert_pem, &[], &leaf.cert_pem);
    let info = cert_info(&leaf.cert_pem).unwrap();
    assert_eq!(info.serial_number, 42);
    assert_eq!(info.uris, vec![web("dc1").uri()]);
    assert_eq!(info.dns_names, vec!["web.service.consul".to_string()]);
    assert!(!info.is_ca);

    // Every SPIFFE kind that gets a leaf.
    for id in [
        SpiffeId::Agent {
            trust_domain: td(),
            datacenter: "dc1".into(),
            node_id: "node-1".into(),
        },
        SpiffeId::Server {
            trust_domain: td(),
            datacenter: "dc1".into(),
        },
        SpiffeId::MeshGateway {
            trust_domain: td(),
            datacenter: "dc1".into(),
        },
    ] {
        let (_, l) = issue_leaf(&ca.signer(), &policy("dc1"), &id, &[], HOUR, 3, NOW).unwrap();
        assert_eq!(l.spiffe, id);
        webpki_verify(&ca.cert_pem, &[], &l.cert_pem).unwrap();
    }
}

#[test]
fn leaf_properties() {
    let ca = root(&CaConfig::default());
    let root_der = der(&ca.cert_pem);
    let root_cert = parsed(&root_der);
    let (_, leaf) = issue_leaf(
        &ca.signer(),
        &policy("dc1"),
        &web("dc1"),
        &[],
        72 * HOUR,
        258,
        NOW,
    )
    .unwrap();
    assert_eq!(leaf.serial_hex, "01:02");
    assert_eq!(leaf.valid_after, NOW - 60);
    assert_eq!(leaf.valid_before, NOW - 60 + 72 * 3600);
    let d = der(&leaf.cert_pem);
    let c = parsed(&d);
    assert_eq!(c.validity().not_before.timestamp(), NOW - 60);
    assert_eq!(c.validity().not_after.timestamp(), NOW - 60 + 72 * 3600);
    assert!(c.subject().as_raw().len() <= 2, "empty subject");
    assert_eq!(c.issuer().as_raw(), root_cert.subject().as_raw());
    assert_eq!(c.raw_serial(), &[0x01, 0x02]);
    assert_eq!(
        c.signature_algorithm.algorithm,
        oid_registry::OID_SIG_ECDSA_WITH_SHA256
    );
    c.verify_signature(Some(root_cert.public_key())).unwrap();

    let bc = c.basic_constraints().unwrap().unwrap();
    assert!(!bc.value.ca);
    assert!(!c.is_ca());
    let ku = c.key_usage().unwrap().unwrap().value;
    assert!(ku.digital_signature() && ku.key_encipherment());
    assert!(ku.data_encipherment() && ku.key_agreement());
    assert!(!ku.key_cert_sign() && !ku.crl_sign());
    let eku = c.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && eku.server_auth);
    assert!(!eku.any && !eku.code_signing);
    let san = c.subject_alternative_name().unwrap().unwrap();
    assert!(san.critical, "SAN must be critical with an empty subject");
    assert_eq!(
        san.value.general_names,
        vec![GeneralName::URI(&web("dc1").uri())]
    );
    assert_eq!(akid(&c), skid(&root_cert));
    assert_eq!(skid(&c), sha256(c.public_key().raw));

    // NotAfter is clamped to the signer's.
    let short_root = root(&CaConfig {
        root_cert_ttl: 9000 * HOUR,
        intermediate_cert_ttl: 9000 * HOUR,
        ..CaConfig::default()
    });
    let late = NOW + 9000 * 3600 - 3600;
    let (_, l) = issue_leaf(
        &short_root.signer(),
        &policy("dc1"),
        &web("dc1"),
        &[],
        72 * HOUR,
        1,
        late,
    )
    .unwrap();
    assert_eq!(l.valid_before, NOW + 9000 * 3600);
    // An expired signer issues nothing.
    assert!(matches!(
        issue_leaf(
            &short_root.signer(),
            &policy("dc1"),
            &web("dc1"),
            &[],
            72 * HOUR,
            1,
            NOW + 9001 * 3600,
        ),
        Err(CaError::Validity(_))
    ));

    // A P-384 signer signs with ECDSA-SHA384.
    let ca384 = root(&CaConfig {
        private_key_bits: 384,
        ..CaConfig::default()
    });
    let (_, l) = issue_leaf(
        &ca384.signer(),
        &policy("dc1"),
        &web("dc1"),
        &[],
        HOUR,
        1,
        NOW,
    )
    .unwrap();
    let d = der(&l.cert_pem);
    assert_eq!(
        parsed(&d).signature_algorithm.algorithm,
        oid_registry::OID_SIG_ECDSA_WITH_SHA384
    );
    webpki_verify(&ca384.cert_pem, &[], &l.cert_pem).unwrap();
    openssl_verify("p384", &ca384.cert_pem, &[], &l.cert_pem);
}

fn refusal(ca: &IssuedCa, csr: &str, dc: &str) -> CaError {
    sign_leaf(&ca.signer(), csr, &policy(dc), HOUR, 1, NOW).unwrap_err()
}

#[test]
fn sign_leaf_rejections() {
    let ca = root(&CaConfig::default());
    let key = generate_leaf_key().unwrap();

    // Wrong trust domain.
    let other = SpiffeId::Service {
        trust_domain: "aaaaaaaa-0000-0000-0000-000000000000.consul".into(),
        namespace: "default".into(),
        datacenter: "dc1".into(),
        service: "web".into(),
    };
    let e = refusal(&ca, &leaf_csr(&other, &[], &key).unwrap(), "dc1");
    assert!(matches!(
        e,
        CaError::CsrRefused(CsrError::TrustDomain { .. })
    ));
    assert_eq!(
        e.to_string(),
        format!(
            "SPIFFE ID in CSR from a different trust domain: aaaaaaaa-0000-0000-0000-000000000000.consul, we are {}",
            td()
        )
    );
    // Trust domain compare is case-insensitive.
    let upper = SpiffeId::Service {
        trust_domain: td().to_uppercase(),
        namespace: "default".into(),
        datacenter: "dc1".into(),
        service: "web".into(),
    };
    sign_leaf(
        &ca.signer(),
        &leaf_csr(&upper, &[], &key).unwrap(),
        &policy("dc1"),
        HOUR,
        1,
        NOW,
    )
    .unwrap();

    // Wrong datacenter.
    let e = refusal(&ca, &leaf_csr(&web("dc2"), &[], &key).unwrap(), "dc1");
    assert!(matches!(
        e,
        CaError::CsrRefused(CsrError::Datacenter { .. })
    ));
    assert_eq!(
        e.to_string(),
        "SPIFFE ID in CSR from a different datacenter: dc2, we are dc1"
    );
    for id in [
        SpiffeId::Agent {
            trust_domain: td(),
            datacenter: "dc2".into(),
            node_id: "n".into(),
        },
        SpiffeId::Server {
            trust_domain: td(),
            datacenter: "dc2".into(),
        },
        SpiffeId::MeshGateway {
            trust_domain: td(),
            datacenter: "dc2".into(),
        },
    ] {
        let e = refusal(&ca, &leaf_csr(&id, &[], &key).unwrap(), "dc1");
        assert!(matches!(
            e,
            CaError::CsrRefused(CsrError::Datacenter { .. })
        ));
    }

    // Signing ID is not a leaf kind.
    let signing = SpiffeId::Signing { trust_domain: td() };
    let e = refusal(&ca, &leaf_csr(&signing, &[], &key).unwrap(), "dc1");
    assert!(matches!(e, CaError::CsrRefused(CsrError::Kind)));
    assert_eq!(
        e.to_string(),
        "SPIFFE ID in CSR must be a service, agent, server, or mesh gateway ID"
    );

    // Two URIs / zero URIs / a non-SPIFFE URI.
    let kp = crate::keys::load_key(&key).unwrap();
    let csr_with = |uris: &[&str]| {
        let mut p = rcgen::CertificateParams::default();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.subject_alt_names = uris
            .iter()
            .map(|u| rcgen::SanType::URI(u.to_string().try_into().unwrap()))
            .collect();
        if uris.is_empty() {
            p.subject_alt_names
                .push(rcgen::SanType::DnsName("x.example".try_into().unwrap()));
        }
        p.serialize_request(&kp).unwrap().pem().unwrap()
    };
    let e = refusal(
        &ca,
        &csr_with(&[&web("dc1").uri(), &web("dc1").uri()]),
        "dc1",
    );
    assert!(matches!(e, CaError::CsrRefused(CsrError::UriCount(2))));
    assert_eq!(
        e.to_string(),
        "CSR SAN contains an invalid number of URIs: 2"
    );
    let e = refusal(&ca, &csr_with(&[]), "dc1");
    assert!(matches!(e, CaError::CsrRefused(CsrError::UriCount(0))));
    let e = refusal(&ca, &csr_with(&["https://example.com/x"]), "dc1");
    assert!(matches!(
        e,
        CaError::CsrRefused(CsrError::InvalidSpiffeId(_))
    ));

    // Tampered CSR: body changed (signature no longer matches) ...
    let good = leaf_csr(&web("dc1"), &[], &key).unwrap();
    let mut d = der(&good);
    let pos = d.windows(3).position(|w| w == b"web").unwrap();
    d[pos] = b'W';
    let tampered = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", d));
    let e = refusal(&ca, &tampered, "dc1");
    assert!(
        matches!(e, CaError::CsrRefused(CsrError::BadSignature)),
        "{e:?}"
    );
    // ... and signature bytes changed.
    let mut d = der(&good);
    let last = d.len() - 1;
    d[last] ^= 0x01;
    let tampered = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", d));
    let e = refusal(&ca, &tampered, "dc1");
    assert!(
        matches!(e, CaError::CsrRefused(CsrError::BadSignature)),
        "{e:?}"
    );

    // Garbage in, typed errors out (no panics).
    assert!(matches!(refusal(&ca, "junk", "dc1"), CaError::Pem(_)));
    let junk = pem::encode(&pem::Pem::new(
        "CERTIFICATE REQUEST",
        vec![0x30, 0x03, 1, 2, 3],
    ));
    assert!(matches!(refusal(&ca, &junk, "dc1"), CaError::Csr(_)));
    assert!(matches!(refusal(&ca, &ca.cert_pem, "dc1"), CaError::Pem(_)));

    // A signer whose key is not its certificate's.
    let wrong = Signer {
        cert_pem: ca.cert_pem.clone(),
        key_pem: generate_leaf_key().unwrap(),
    };
    assert!(matches!(
        sign_leaf(&wrong, &good, &policy("dc1"), HOUR, 1, NOW),
        Err(CaError::KeyMismatch)
    ));
}

#[test]
fn secondary_chain_root_intermediate_leaf() {
    let ca = root(&CaConfig::default());
    let root_der = der(&ca.cert_pem);
    let root_cert = parsed(&root_der);

    let inter_key = generate_key(PrivateKeyType::Ec, 256).unwrap();
    let csr = intermediate_csr(&td(), &inter_key).unwrap();
    let inter_pem = sign_intermediate(&ca.signer(), &csr, &td(), 8760 * HOUR, NOW).unwrap();
    let inter_der = der(&inter_pem);
    let ic = parsed(&inter_der);
    assert!(ic.is_ca());
    assert_eq!(
        ic.basic_constraints()
            .unwrap()
            .unwrap()
            .value
            .path_len_constraint,
        Some(0)
    );
    let cn = ic
        .subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        cn.starts_with("sec-") && cn.ends_with(".consul.ca.6f79ef6a.consul"),
        "{cn}"
    );
    let ku = ic.key_usage().unwrap().unwrap().value;
    assert!(ku.key_cert_sign() && ku.crl_sign() && ku.digital_signature());
    assert_eq!(akid(&ic), skid(&root_cert));
    assert_eq!(skid(&ic), sha256(ic.public_key().raw));
    assert_eq!(ic.issuer().as_raw(), root_cert.subject().as_raw());
    assert_eq!(ic.validity().not_before.timestamp(), NOW);
    assert_eq!(ic.validity().not_after.timestamp(), NOW + 8760 * 3600);
    ic.verify_signature(Some(root_cert.public_key())).unwrap();
    let info = cert_info(&inter_pem).unwrap();
    assert_eq!(info.uris, vec![format!("spiffe://{}", td())]);
    // A PEM bundle: the first certificate is the one described.
    let bundle = format!("{inter_pem}{}", ca.cert_pem);
    assert_eq!(cert_info(&bundle).unwrap(), info);

    let inter = Signer {
        cert_pem: bundle.clone(),
        key_pem: inter_key.clone(),
    };
    let (_, leaf) =
        issue_leaf(&inter, &policy("dc2"), &web("dc2"), &[], 72 * HOUR, 9, NOW).unwrap();
    let leaf_der = der(&leaf.cert_pem);
    assert_eq!(akid(&parsed(&leaf_der)), skid(&ic));
    webpki_verify(&ca.cert_pem, &[&inter_pem], &leaf.cert_pem).unwrap();
    // Without the intermediate the chain does not build.
    assert!(webpki_verify(&ca.cert_pem, &[], &leaf.cert_pem).is_err());
    openssl_verify("secondary", &ca.cert_pem, &[&inter_pem], &leaf.cert_pem);

    // The intermediate never outlives the root.
    let long = sign_intermediate(&ca.signer(), &csr, &td(), 100_000 * HOUR, NOW).unwrap();
    assert_eq!(
        cert_info(&long).unwrap().not_after,
        root_cert.validity().not_after.timestamp()
    );
}

#[test]
fn sign_intermediate_rejections() {
    let ca = root(&CaConfig::default());
    let key = generate_key(PrivateKeyType::Ec, 256).unwrap();
    // CSR for another trust domain.
    let csr = intermediate_csr("aaaaaaaa-0000-0000-0000-000000000000.consul", &key).unwrap();
    let e = sign_intermediate(&ca.signer(), &csr, &td(), HOUR * 24, NOW).unwrap_err();
    assert!(
        matches!(e, CaError::CsrRefused(CsrError::IntermediateDomain { .. })),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "incoming CSR domain \"spiffe://aaaaaaaa-0000-0000-0000-000000000000.consul\" is not valid for our domain \"{}\"",
            td()
        )
    );
    // A leaf CSR (service URI) is not an intermediate CSR.
    let leaf = leaf_csr(&web("dc1"), &[], &key).unwrap();
    let e = sign_intermediate(&ca.signer(), &leaf, &td(), HOUR * 24, NOW).unwrap_err();
    assert!(matches!(
        e,
        CaError::CsrRefused(CsrError::IntermediateDomain { .. })
    ));
    // No URI at all.
    let kp = crate::keys::load_key(&key).unwrap();
    let mut p = rcgen::CertificateParams::default();
    p.subject_alt_names = vec![rcgen::SanType::DnsName("x.example".try_into().unwrap())];
    let no_uri = p.serialize_request(&kp).unwrap().pem().unwrap();
    let e = sign_intermediate(&ca.signer(), &no_uri, &td(), HOUR * 24, NOW).unwrap_err();
    assert!(matches!(e, CaError::CsrRefused(CsrError::UriCount(0))));
    // Tampered.
    let good = intermediate_csr(&td(), &key).unwrap();
    let mut d = der(&good);
    let last = d.len() - 1;
    d[last] ^= 0x01;
    let tampered = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", d));
    let e = sign_intermediate(&ca.signer(), &tampered, &td(), HOUR * 24, NOW).unwrap_err();
    assert!(matches!(e, CaError::CsrRefused(CsrError::BadSignature)));
}

#[test]
fn cross_signed_root_rotation() {
    let old = root(&CaConfig::default());
    let new = root(&CaConfig {
        private_key_bits: 384,
        ..CaConfig::default()
    });
    let xc_pem = cross_sign(&old.signer(), &new.cert_pem, NOW).unwrap();
    let (old_der, new_der, xc_der) = (der(&old.cert_pem), der(&new.cert_pem), der(&xc_pem));
    let (oc, nc, xc) = (parsed(&old_der), parsed(&new_der), parsed(&xc_der));
    assert_eq!(xc.subject().as_raw(), nc.subject().as_raw());
    assert_eq!(xc.issuer().as_raw(), oc.subject().as_raw());
    assert_eq!(xc.public_key().raw, nc.public_key().raw);
    assert_eq!(skid(&xc), skid(&nc));
    assert_eq!(akid(&xc), skid(&oc));
    assert!(xc.is_ca());
    assert!(xc.validity().not_after.timestamp() <= oc.validity().not_after.timestamp());
    assert_eq!(
        cert_info(&xc_pem).unwrap().uris,
        cert_info(&new.cert_pem).unwrap().uris
    );
    xc.verify_signature(Some(oc.public_key())).unwrap();

    // A leaf from the NEW root verifies with only the OLD root trusted.
    let (_, leaf) = issue_leaf(
        &new.signer(),
        &policy("dc1"),
        &web("dc1"),
        &[],
        HOUR,
        5,
        NOW,
    )
    .unwrap();
    webpki_verify(&old.cert_pem, &[&xc_pem], &leaf.cert_pem).unwrap();
    assert!(webpki_verify(&old.cert_pem, &[], &leaf.cert_pem).is_err());
    webpki_verify(&new.cert_pem, &[], &leaf.cert_pem).unwrap();
    openssl_verify("cross", &old.cert_pem, &[&xc_pem], &leaf.cert_pem);

    // A new root that is not a CA is refused.
    assert!(matches!(
        cross_sign(&old.signer(), &leaf.cert_pem, NOW),
        Err(CaError::Certificate(_))
    ));
}

#[test]
fn cert_info_rejects_garbage() {
    assert!(matches!(cert_info("nope"), Err(CaError::Pem(_))));
    let junk = pem::encode(&pem::Pem::new("CERTIFICATE", vec![0x30, 0x01, 0x00]));
    assert!(matches!(cert_info(&junk), Err(CaError::Certificate(_))));
    let key = generate_leaf_key().unwrap();
    assert!(matches!(cert_info(&key), Err(CaError::Pem(_))));
}

/// The openssl harness really detects failures, and openssl reads the leaf's
/// extensions the way Consul's leaves look.
#[test]
fn openssl_negative_and_text() {
    let Some(dir) = openssl_dir("text") else {
        return;
    };
    let ca = root(&CaConfig::default());
    let other = root(&CaConfig::default());
    let (_, leaf) = issue_leaf(
        &ca.signer(),
        &policy("dc1"),
        &web("dc1"),
        &["web.service.consul".to_string()],
        HOUR,
        77,
        NOW,
    )
    .unwrap();
    std::fs::write(dir.join("other.pem"), &other.cert_pem).unwrap();
    std::fs::write(dir.join("leaf.pem"), &leaf.cert_pem).unwrap();
    let out = Command::new("openssl")
        .current_dir(&dir)
        .args(["verify", "-attime", &(NOW + 10).to_string()])
        .args(["-CAfile", "other.pem", "leaf.pem"])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "verify against an unrelated root must fail"
    );
    let out = Command::new("openssl")
        .current_dir(&dir)
        .args(["x509", "-noout", "-text", "-in", "leaf.pem"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let _ = std::fs::remove_dir_all(&dir);
    for needle in [
        "X509v3 Subject Alternative Name: critical",
        &format!("URI:{}", web("dc1").uri()),
        "DNS:web.service.consul",
        "X509v3 Basic Constraints: critical",
        "CA:FALSE",
        "X509v3 Key Usage: critical",
        "Digital Signature, Key Encipherment, Data Encipherment, Key Agreement",
        "TLS Web Client Authentication, TLS Web Server Authentication",
        "X509v3 Authority Key Identifier",
        "X509v3 Subject Key Identifier",
        "Serial Number: 77 (0x4d)",
        "ecdsa-with-SHA256",
        "Subject: \n",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}
