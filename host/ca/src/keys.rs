//! Private keys: generation and loading.
//!
//! Keys are emitted as SEC1 `EC PRIVATE KEY` PEM (what Consul emits); both SEC1
//! and PKCS#8 `PRIVATE KEY` PEM are accepted on input. ring only reads PKCS#8,
//! so this module converts between the two encodings with a few lines of DER
//! (via `yasna`), since neither rcgen nor ring can express that conversion.

use rcgen::{
    KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ED25519, PKCS_RSA_SHA256,
};
use yasna::Tag;
use yasna::models::ObjectIdentifier;

use crate::config::{PrivateKeyType, check_generatable};
use crate::error::CaError;

const OID_EC_PUBLIC_KEY: &[u64] = &[1, 2, 840, 10045, 2, 1];

/// PEM label of SEC1 EC keys.
pub const SEC1_LABEL: &str = "EC PRIVATE KEY";
/// PEM label of PKCS#8 keys.
pub const PKCS8_LABEL: &str = "PRIVATE KEY";

/// Generates a CA or leaf private key; returns SEC1 `EC PRIVATE KEY` PEM.
/// Only `(Ec, 256)` and `(Ec, 384)` are supported (see [`crate::ConfigError::UnsupportedKey`]).
pub fn generate_key(key_type: PrivateKeyType, bits: u32) -> Result<String, CaError> {
    check_generatable(key_type, bits)?;
    let alg = if bits == 384 {
        &PKCS_ECDSA_P384_SHA384
    } else {
        &PKCS_ECDSA_P256_SHA256
    };
    let kp = KeyPair::generate_for(alg).map_err(|e| CaError::Crypto(e.to_string()))?;
    let sec1 = pkcs8_to_sec1(kp.serialized_der())?;
    Ok(pem::encode(&pem::Pem::new(SEC1_LABEL, sec1)))
}

/// Generates a leaf key (always EC P-256), SEC1 PEM.
pub fn generate_leaf_key() -> Result<String, CaError> {
    generate_key(PrivateKeyType::Ec, 256)
}

/// Converts a key PEM (SEC1 or PKCS#8) to PKCS#8 `PRIVATE KEY` PEM.
pub fn key_to_pkcs8_pem(key_pem: &str) -> Result<String, CaError> {
    let kp = load_key(key_pem)?;
    Ok(kp.serialize_pem())
}

/// The Consul `PrivateKeyType`/`PrivateKeyBits` of a key PEM (SEC1 or PKCS#8).
pub fn key_type_and_bits(key_pem: &str) -> Result<(PrivateKeyType, u32), CaError> {
    let kp = load_key(key_pem)?;
    let alg = kp.algorithm();
    if alg == &PKCS_ECDSA_P256_SHA256 {
        Ok((PrivateKeyType::Ec, 256))
    } else if alg == &PKCS_ECDSA_P384_SHA384 {
        Ok((PrivateKeyType::Ec, 384))
    } else {
        Err(CaError::Key(
            "only EC P-256 and P-384 keys are supported".into(),
        ))
    }
}

/// Loads an EC P-256/P-384 key from SEC1 or PKCS#8 PEM. Other key kinds
/// (RSA, Ed25519, other curves) are refused with [`CaError::Key`].
pub(crate) fn load_key(key_pem: &str) -> Result<KeyPair, CaError> {
    let p = pem::parse(key_pem.trim()).map_err(|e| CaError::Pem(e.to_string()))?;
    let pkcs8 = match p.tag() {
        SEC1_LABEL => sec1_to_pkcs8(p.contents())?,
        PKCS8_LABEL => p.contents().to_vec(),
        other => {
            return Err(CaError::Pem(format!(
                "expected an {SEC1_LABEL:?} or {PKCS8_LABEL:?} block, got {other:?}"
            )));
        }
    };
    let kp = KeyPair::try_from(pkcs8.as_slice()).map_err(|e| CaError::Key(e.to_string()))?;
    let alg = kp.algorithm();
    if alg == &PKCS_ED25519 || alg == &PKCS_RSA_SHA256 {
        return Err(CaError::Key(
            "only EC P-256 and P-384 keys are supported".into(),
        ));
    }
    Ok(kp)
}

struct Sec1 {
    secret: Vec<u8>,
    curve: Option<ObjectIdentifier>,
    public: Option<(Vec<u8>, usize)>,
}

fn asn1_err(what: &str, e: impl std::fmt::Display) -> CaError {
    CaError::Key(format!("malformed {what}: {e}"))
}

fn parse_sec1(der: &[u8]) -> Result<Sec1, CaError> {
    yasna::parse_der(der, |r| {
        r.read_sequence(|r| {
            let _version = r.next().read_u8()?;
            let secret = r.next().read_bytes()?;
            let curve = r.read_optional(|r| r.read_tagged(Tag::context(0), |r| r.read_oid()))?;
            let public =
                r.read_optional(|r| r.read_tagged(Tag::context(1), |r| r.read_bitvec_bytes()))?;
            Ok(Sec1 {
                secret,
                curve,
                public,
            })
        })
    })
    .map_err(|e| asn1_err("EC private key", e))
}

fn write_sec1(k: &Sec1) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_u8(1);
            w.next().write_bytes(&k.secret);
            if let Some(curve) = &k.curve {
                w.next()
                    .write_tagged(Tag::context(0), |w| w.write_oid(curve));
            }
            if let Some((bytes, bits)) = &k.public {
                w.next()
                    .write_tagged(Tag::context(1), |w| w.write_bitvec_bytes(bytes, *bits));
            }
        })
    })
}

/// PKCS#8 (v1 or v2) EC key → SEC1 with the named curve included.
fn pkcs8_to_sec1(der: &[u8]) -> Result<Vec<u8>, CaError> {
    let (alg, curve, inner) = yasna::parse_der(der, |r| {
        r.read_sequence(|r| {
            let _version = r.next().read_u8()?;
            let (alg, curve) = r.next().read_sequence(|r| {
                let alg = r.next().read_oid()?;
                let curve = r.next().read_oid()?;
                Ok((alg, curve))
            })?;
            let inner = r.next().read_bytes()?;
            // OneAsymmetricKey's optional attributes [0] and publicKey [1].
            let _ = r.read_optional(|r| r.read_tagged_der())?;
            let _ = r.read_optional(|r| r.read_tagged_der())?;
            Ok((alg, curve, inner))
        })
    })
    .map_err(|e| asn1_err("PKCS#8 key", e))?;
    if alg != ObjectIdentifier::from_slice(OID_EC_PUBLIC_KEY) {
        return Err(CaError::Key("PKCS#8 key is not an EC key".into()));
    }
    let mut k = parse_sec1(&inner)?;
    k.curve = Some(curve);
    Ok(write_sec1(&k))
}

/// SEC1 EC key (with named curve) → PKCS#8 v1 as ring expects it.
fn sec1_to_pkcs8(der: &[u8]) -> Result<Vec<u8>, CaError> {
    let mut k = parse_sec1(der)?;
    let curve = k
        .curve
        .take()
        .ok_or_else(|| CaError::Key("EC private key without a named curve".into()))?;
    if k.public.is_none() {
        return Err(CaError::Key("EC private key without its public key".into()));
    }
    let inner = write_sec1(&k);
    Ok(yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_u8(0);
            w.next().write_sequence(|w| {
                w.next()
                    .write_oid(&ObjectIdentifier::from_slice(OID_EC_PUBLIC_KEY));
                w.next().write_oid(&curve);
            });
            w.next().write_bytes(&inner);
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_and_load() {
        for bits in [256, 384] {
            let pem_text = generate_key(PrivateKeyType::Ec, bits).unwrap();
            assert!(pem_text.starts_with("-----BEGIN EC PRIVATE KEY-----"));
            assert_eq!(
                key_type_and_bits(&pem_text).unwrap(),
                (PrivateKeyType::Ec, bits)
            );
            // PKCS#8 form loads to the same key, and converts back.
            let pkcs8 = key_to_pkcs8_pem(&pem_text).unwrap();
            assert!(pkcs8.starts_with("-----BEGIN PRIVATE KEY-----"));
            let a = load_key(&pem_text).unwrap();
            let b = load_key(&pkcs8).unwrap();
            assert_eq!(a.public_key_raw(), b.public_key_raw());
        }
        assert!(generate_key(PrivateKeyType::Rsa, 2048).is_err());
        assert!(generate_key(PrivateKeyType::Ec, 521).is_err());
    }

    #[test]
    fn load_rejects_garbage() {
        assert!(matches!(load_key("nope"), Err(CaError::Pem(_))));
        let bad = pem::encode(&pem::Pem::new(SEC1_LABEL, vec![1, 2, 3]));
        assert!(matches!(load_key(&bad), Err(CaError::Key(_))));
        let bad = pem::encode(&pem::Pem::new(PKCS8_LABEL, vec![0x30, 0]));
        assert!(matches!(load_key(&bad), Err(CaError::Key(_))));
        let cert = pem::encode(&pem::Pem::new("CERTIFICATE", vec![0x30, 0]));
        assert!(matches!(load_key(&cert), Err(CaError::Pem(_))));
        let ed = KeyPair::generate_for(&PKCS_ED25519)
            .unwrap()
            .serialize_pem();
        assert!(matches!(load_key(&ed), Err(CaError::Key(_))));
    }

    #[test]
    fn openssl_reads_sec1() {
        let Some(dir) = crate::test_util::openssl_dir("sec1") else {
            return;
        };
        let key = generate_key(PrivateKeyType::Ec, 256).unwrap();
        let path = dir.join("k.pem");
        std::fs::write(&path, key).unwrap();
        let out = std::process::Command::new("openssl")
            .args(["ec", "-check", "-noout", "-in"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
