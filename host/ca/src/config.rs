//! The built-in ("consul") CA provider configuration and Go duration helpers.

use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::{CaError, ConfigError};

const HOUR: Duration = Duration::from_secs(3600);

/// The kind of private key the provider generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrivateKeyType {
    /// ECDSA (`"ec"`).
    Ec,
    /// RSA (`"rsa"`); valid in Consul, not generatable here.
    Rsa,
}

impl PrivateKeyType {
    /// Consul's spelling: `"ec"` or `"rsa"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PrivateKeyType::Ec => "ec",
            PrivateKeyType::Rsa => "rsa",
        }
    }

    /// Parses Consul's spelling (exactly `"ec"` or `"rsa"`, as Consul compares).
    pub fn parse(s: &str) -> Result<Self, CaError> {
        match s {
            "ec" => Ok(PrivateKeyType::Ec),
            "rsa" => Ok(PrivateKeyType::Rsa),
            _ => Err(ConfigError::KeyType.into()),
        }
    }
}

impl fmt::Display for PrivateKeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Configuration of the built-in CA provider (Consul's `ConsulCAProviderConfig`
/// plus the common provider fields).
#[derive(Debug, Clone, PartialEq)]
pub struct CaConfig {
    /// Leaf certificate lifetime (default 72h).
    pub leaf_cert_ttl: Duration,
    /// Intermediate certificate lifetime (default 8760h).
    pub intermediate_cert_ttl: Duration,
    /// Root certificate lifetime (default 87600h).
    pub root_cert_ttl: Duration,
    /// Key type for generated CA keys (default ec).
    pub private_key_type: PrivateKeyType,
    /// Key length for generated CA keys (default 256).
    pub private_key_bits: u32,
    /// A supplied CA private key (PEM), for bring-your-own roots.
    pub private_key: Option<String>,
    /// A supplied root certificate (PEM); requires `private_key`.
    pub root_cert: Option<String>,
    /// CSR rate limit (default 50).
    pub csr_max_per_second: f64,
    /// CSR concurrency limit (default 0 = use the rate limit).
    pub csr_max_concurrent: u32,
    /// Keys this provider does not know, kept verbatim (Consul keeps the raw map).
    pub extra: Map<String, Value>,
}

impl Default for CaConfig {
    fn default() -> Self {
        CaConfig {
            leaf_cert_ttl: 72 * HOUR,
            intermediate_cert_ttl: 8760 * HOUR,
            root_cert_ttl: 87600 * HOUR,
            private_key_type: PrivateKeyType::Ec,
            private_key_bits: 256,
            private_key: None,
            root_cert: None,
            csr_max_per_second: 50.0,
            csr_max_concurrent: 0,
            extra: Map::new(),
        }
    }
}

/// Normalises a key the way Go's case-insensitive decoding plus snake_case support
/// sees it: lower-case, underscores dropped.
fn normalise_key(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

fn decode_err(key: &str, reason: impl Into<String>) -> CaError {
    ConfigError::Decode {
        key: key.to_string(),
        reason: reason.into(),
    }
    .into()
}

fn decode_duration(key: &str, v: &Value) -> Result<Duration, CaError> {
    match v {
        Value::String(s) => parse_go_duration(s).map_err(|e| decode_err(key, e.to_string())),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Ok(Duration::from_nanos(u))
            } else if let Some(f) = n.as_f64().filter(|f| *f >= 0.0 && f.is_finite()) {
                // Go truncates a float to an integer number of nanoseconds.
                Duration::try_from_secs_f64(f.trunc() / 1e9)
                    .map_err(|e| decode_err(key, e.to_string()))
            } else {
                Err(decode_err(key, "negative durations are not allowed"))
            }
        }
        _ => Err(decode_err(key, "expected a duration string or a number")),
    }
}

fn decode_u32(key: &str, v: &Value) -> Result<u32, CaError> {
    let n = match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        }),
        // Go's weakly typed decoding accepts numeric strings.
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    n.and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| decode_err(key, format!("expected a non-negative integer, got {v}")))
}

fn decode_f64(key: &str, v: &Value) -> Result<f64, CaError> {
    let n = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    n.filter(|f| f.is_finite())
        .ok_or_else(|| decode_err(key, format!("expected a number, got {v}")))
}

fn decode_string(key: &str, v: &Value) -> Result<String, CaError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        _ => Err(decode_err(key, format!("expected a string, got {v}"))),
    }
}

impl CaConfig {
    /// Decodes Consul's stored provider map. Keys match case-insensitively and
    /// ignoring underscores (`LeafCertTTL` == `leaf_cert_ttl`). Durations are Go
    /// duration strings or numbers of nanoseconds. `null` keeps the default; empty
    /// `PrivateKey`/`RootCert` strings count as unset. Unknown keys are kept in
    /// [`CaConfig::extra`]. Does not call [`CaConfig::validate`].
    pub fn from_json(map: &Map<String, Value>) -> Result<CaConfig, CaError> {
        let mut c = CaConfig::default();
        for (key, v) in map {
            if v.is_null() {
                continue;
            }
            match normalise_key(key).as_str() {
                "leafcertttl" => c.leaf_cert_ttl = decode_duration(key, v)?,
                "intermediatecertttl" => c.intermediate_cert_ttl = decode_duration(key, v)?,
                "rootcertttl" => c.root_cert_ttl = decode_duration(key, v)?,
                "privatekeytype" => {
                    c.private_key_type = PrivateKeyType::parse(&decode_string(key, v)?)?
                }
                "privatekeybits" => c.private_key_bits = decode_u32(key, v)?,
                "privatekey" => {
                    c.private_key = Some(decode_string(key, v)?).filter(|s| !s.is_empty())
                }
                "rootcert" => c.root_cert = Some(decode_string(key, v)?).filter(|s| !s.is_empty()),
                "csrmaxpersecond" => c.csr_max_per_second = decode_f64(key, v)?,
                "csrmaxconcurrent" => c.csr_max_concurrent = decode_u32(key, v)?,
                _ => {
                    c.extra.insert(key.clone(), v.clone());
                }
            }
        }
        Ok(c)
    }

    /// Encodes with Consul's CamelCase keys; durations as Go's `Duration.String()`.
    /// `PrivateKey`/`RootCert` appear only when set; [`CaConfig::extra`] keys are
    /// included verbatim.
    pub fn to_json(&self) -> Map<String, Value> {
        let mut m = self.extra.clone();
        let d = |d: Duration| Value::String(format_go_duration(d));
        m.insert("LeafCertTTL".into(), d(self.leaf_cert_ttl));
        m.insert("IntermediateCertTTL".into(), d(self.intermediate_cert_ttl));
        m.insert("RootCertTTL".into(), d(self.root_cert_ttl));
        m.insert(
            "PrivateKeyType".into(),
            Value::String(self.private_key_type.as_str().into()),
        );
        m.insert("PrivateKeyBits".into(), Value::from(self.private_key_bits));
        if let Some(k) = &self.private_key {
            m.insert("PrivateKey".into(), Value::String(k.clone()));
        }
        if let Some(r) = &self.root_cert {
            m.insert("RootCert".into(), Value::String(r.clone()));
        }
        m.insert(
            "CSRMaxPerSecond".into(),
            serde_json::Number::from_f64(self.csr_max_per_second)
                .map(Value::Number)
                .unwrap_or(Value::Null),
        );
        m.insert(
            "CSRMaxConcurrent".into(),
            Value::from(self.csr_max_concurrent),
        );
        m
    }

    /// Consul's validation (same order and messages), then praetor's own limit:
    /// only EC P-256 and P-384 keys can be generated (ring cannot generate RSA,
    /// P-224 or P-521). When `private_key` is supplied, the generation limit does
    /// not apply; instead the key itself must parse as EC P-256/P-384.
    pub fn validate(&self) -> Result<(), CaError> {
        if self.private_key.is_none() && self.root_cert.is_some() {
            return Err(ConfigError::PrivateKeyRequired.into());
        }
        if self.root_cert_ttl < self.intermediate_cert_ttl {
            return Err(ConfigError::RootTtlTooShort {
                root: self.root_cert_ttl,
                intermediate: self.intermediate_cert_ttl,
            }
            .into());
        }
        if self.leaf_cert_ttl < HOUR {
            return Err(ConfigError::LeafTtlTooShort.into());
        }
        if self.leaf_cert_ttl > 8760 * HOUR {
            return Err(ConfigError::LeafTtlTooLong.into());
        }
        if self.intermediate_cert_ttl < 3 * HOUR {
            return Err(ConfigError::IntermediateTtlTooShort.into());
        }
        let minimum = self.leaf_cert_ttl.saturating_mul(3);
        if self.intermediate_cert_ttl < minimum {
            return Err(ConfigError::IntermediateTtlBelowLeaf { minimum }.into());
        }
        match self.private_key_type {
            PrivateKeyType::Ec => {
                if ![224, 256, 384, 521].contains(&self.private_key_bits) {
                    return Err(ConfigError::EcKeyBits.into());
                }
            }
            PrivateKeyType::Rsa => {
                if ![2048, 4096].contains(&self.private_key_bits) {
                    return Err(ConfigError::RsaKeyBits.into());
                }
            }
        }
        match &self.private_key {
            Some(pem) => {
                crate::keys::load_key(pem)?;
            }
            None => check_generatable(self.private_key_type, self.private_key_bits)?,
        }
        Ok(())
    }
}

/// Errors with [`ConfigError::UnsupportedKey`] unless the key type/bits can be generated.
pub(crate) fn check_generatable(key_type: PrivateKeyType, bits: u32) -> Result<(), CaError> {
    match (key_type, bits) {
        (PrivateKeyType::Ec, 256 | 384) => Ok(()),
        _ => Err(ConfigError::UnsupportedKey { key_type, bits }.into()),
    }
}

/// Go's `time.Duration.String()` (`72h0m0s`).
pub fn format_go_duration(d: Duration) -> String {
    praetor_config::format_duration(d)
}

/// Go's `time.ParseDuration` (`72h`, `1h30m`, `500ms`); negative durations are refused.
pub fn parse_go_duration(input: &str) -> Result<Duration, CaError> {
    praetor_config::parse_duration(input).map_err(|e| CaError::InvalidDuration {
        input: input.to_string(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn go_durations_are_praetor_configs() {
        assert_eq!(format_go_duration(72 * HOUR), "72h0m0s");
        assert_eq!(
            parse_go_duration("1h30m").unwrap(),
            Duration::from_secs(5400)
        );
        assert!(matches!(
            parse_go_duration("-1h"),
            Err(CaError::InvalidDuration { .. })
        ));
    }

    #[test]
    fn defaults() {
        let c = CaConfig::default();
        assert_eq!(c.leaf_cert_ttl, 72 * HOUR);
        assert_eq!(c.intermediate_cert_ttl, 8760 * HOUR);
        assert_eq!(c.root_cert_ttl, 87600 * HOUR);
        assert_eq!(c.private_key_type, PrivateKeyType::Ec);
        assert_eq!(c.private_key_bits, 256);
        assert_eq!(c.csr_max_per_second, 50.0);
        assert_eq!(c.csr_max_concurrent, 0);
        assert!(c.private_key.is_none() && c.root_cert.is_none());
        c.validate().unwrap();
        assert_eq!(CaConfig::from_json(&Map::new()).unwrap(), c);
    }

    #[test]
    fn parse_camel_and_snake() {
        let c = CaConfig::from_json(&map(json!({
            "LeafCertTTL": "1h30m",
            "IntermediateCertTTL": "24h",
            "RootCertTTL": 360_000_000_000_000u64,
            "PrivateKeyType": "ec",
            "PrivateKeyBits": 384,
            "CSRMaxPerSecond": 10.5,
            "CSRMaxConcurrent": "4",
            "RotationPeriod": "2160h",
        })))
        .unwrap();
        assert_eq!(c.leaf_cert_ttl, Duration::from_secs(5400));
        assert_eq!(c.intermediate_cert_ttl, 24 * HOUR);
        assert_eq!(c.root_cert_ttl, 100 * HOUR);
        assert_eq!(c.private_key_bits, 384);
        assert_eq!(c.csr_max_per_second, 10.5);
        assert_eq!(c.csr_max_concurrent, 4);
        assert_eq!(c.extra.get("RotationPeriod"), Some(&json!("2160h")));

        let s = CaConfig::from_json(&map(json!({
            "leaf_cert_ttl": "2h",
            "intermediate_cert_ttl": "10h",
            "root_cert_ttl": "20h",
            "private_key_type": "rsa",
            "private_key_bits": 2048,
            "private_key": "KEY",
            "root_cert": "CERT",
            "csr_max_per_second": 0,
            "csr_max_concurrent": 2,
            "leafcertttl_unknown": 1,
        })))
        .unwrap();
        assert_eq!(s.leaf_cert_ttl, 2 * HOUR);
        assert_eq!(s.intermediate_cert_ttl, 10 * HOUR);
        assert_eq!(s.root_cert_ttl, 20 * HOUR);
        assert_eq!(s.private_key_type, PrivateKeyType::Rsa);
        assert_eq!(s.private_key.as_deref(), Some("KEY"));
        assert_eq!(s.root_cert.as_deref(), Some("CERT"));
        assert_eq!(s.csr_max_per_second, 0.0);
        assert_eq!(s.csr_max_concurrent, 2);
        assert_eq!(s.extra.len(), 1);

        // Case-insensitive.
        let c = CaConfig::from_json(&map(json!({"LEAFCERTTTL": "3h", "privateKeyBits": null})))
            .unwrap();
        assert_eq!(c.leaf_cert_ttl, 3 * HOUR);
        assert_eq!(c.private_key_bits, 256);
    }

    #[test]
    fn parse_rejections() {
        for bad in [
            json!({"LeafCertTTL": "soon"}),
            json!({"LeafCertTTL": true}),
            json!({"LeafCertTTL": -5}),
            json!({"PrivateKeyBits": "lots"}),
            json!({"PrivateKeyBits": -1}),
            json!({"CSRMaxPerSecond": "fast"}),
            json!({"PrivateKey": 5}),
        ] {
            assert!(
                matches!(
                    CaConfig::from_json(&map(bad.clone())),
                    Err(CaError::Config(ConfigError::Decode { .. }))
                ),
                "{bad}"
            );
        }
        let e = CaConfig::from_json(&map(json!({"PrivateKeyType": "dsa"}))).unwrap_err();
        assert!(matches!(e, CaError::Config(ConfigError::KeyType)));
        assert_eq!(
            e.to_string(),
            "private key type must be either 'ec' or 'rsa'"
        );
    }

    #[test]
    fn to_json_round_trip() {
        let mut c = CaConfig::default();
        c.extra.insert("RotationPeriod".into(), json!("2160h"));
        let m = c.to_json();
        assert_eq!(m["LeafCertTTL"], json!("72h0m0s"));
        assert_eq!(m["IntermediateCertTTL"], json!("8760h0m0s"));
        assert_eq!(m["RootCertTTL"], json!("87600h0m0s"));
        assert_eq!(m["PrivateKeyType"], json!("ec"));
        assert_eq!(m["PrivateKeyBits"], json!(256));
        assert_eq!(m["CSRMaxPerSecond"], json!(50.0));
        assert_eq!(m["CSRMaxConcurrent"], json!(0));
        assert_eq!(m["RotationPeriod"], json!("2160h"));
        assert!(!m.contains_key("PrivateKey") && !m.contains_key("RootCert"));
        assert_eq!(CaConfig::from_json(&m).unwrap(), c);
        c.private_key = Some("K".into());
        c.root_cert = Some("R".into());
        let m = c.to_json();
        assert_eq!(m["PrivateKey"], json!("K"));
        assert_eq!(m["RootCert"], json!("R"));
    }

    fn msg(c: &CaConfig) -> String {
        match c.validate() {
            Err(e @ CaError::Config(_)) => e.to_string(),
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn validate_messages() {
        let base = CaConfig::default();
        let c = CaConfig {
            root_cert: Some("x".into()),
            ..base.clone()
        };
        assert_eq!(
            msg(&c),
            "must provide a private key when providing a root cert"
        );
        let c = CaConfig {
            root_cert_ttl: HOUR,
            ..base.clone()
        };
        assert_eq!(
            msg(&c),
            "root cert TTL is set and is not greater than intermediate cert ttl. root cert ttl: 1h0m0s, intermediate cert ttl: 8760h0m0s"
        );
        let c = CaConfig {
            leaf_cert_ttl: Duration::from_secs(59 * 60),
            ..base.clone()
        };
        assert_eq!(
            msg(&c),
            "leaf cert TTL must be greater or equal than 1h0m0s"
        );
        let c = CaConfig {
            leaf_cert_ttl: 8761 * HOUR,
            intermediate_cert_ttl: 30000 * HOUR,
            ..base.clone()
        };
        assert_eq!(msg(&c), "leaf cert TTL must be less than 8760h0m0s");
        let c = CaConfig {
            leaf_cert_ttl: HOUR,
            intermediate_cert_ttl: 2 * HOUR,
            ..base.clone()
        };
        assert_eq!(
            msg(&c),
            "Intermediate Cert TTL must be greater or equal than 3h"
        );
        let c = CaConfig {
            intermediate_cert_ttl: 200 * HOUR,
            ..base.clone()
        };
        assert_eq!(
            msg(&c),
            "Intermediate Cert TTL must be greater or equal than 3 * LeafCertTTL (>=216h0m0s)."
        );
        let c = CaConfig {
            private_key_bits: 512,
            ..base.clone()
        };
        assert_eq!(
            msg(&c),
            "EC key length must be one of (224, 256, 384, 521) bits"
        );
        let c = CaConfig {
            private_key_type: PrivateKeyType::Rsa,
            private_key_bits: 256,
            ..base.clone()
        };
        assert_eq!(msg(&c), "RSA key length must be 2048 or 4096 bits");

        // Valid for Consul, not generatable here.
        for (t, b) in [
            (PrivateKeyType::Rsa, 2048),
            (PrivateKeyType::Rsa, 4096),
            (PrivateKeyType::Ec, 224),
            (PrivateKeyType::Ec, 521),
        ] {
            let c = CaConfig {
                private_key_type: t,
                private_key_bits: b,
                ..base.clone()
            };
            assert!(matches!(
                c.validate(),
                Err(CaError::Config(ConfigError::UnsupportedKey { .. }))
            ));
        }
        let c = CaConfig {
            private_key_type: PrivateKeyType::Rsa,
            private_key_bits: 2048,
            ..base.clone()
        };
        assert_eq!(
            msg(&c),
            "private key type \"rsa\" is not supported by praetor's built-in CA provider; use \"ec\" with 256 or 384 bits"
        );
        for b in [256, 384] {
            CaConfig {
                private_key_bits: b,
                ..base.clone()
            }
            .validate()
            .unwrap();
        }
        // Edge values that are valid.
        CaConfig {
            leaf_cert_ttl: HOUR,
            intermediate_cert_ttl: 3 * HOUR,
            root_cert_ttl: 3 * HOUR,
            ..base.clone()
        }
        .validate()
        .unwrap();
        // A supplied key skips the generation limit but must be a usable key.
        let key = crate::keys::generate_key(PrivateKeyType::Ec, 384).unwrap();
        CaConfig {
            private_key: Some(key),
            ..base.clone()
        }
        .validate()
        .unwrap();
        assert!(matches!(
            CaConfig {
                private_key: Some("garbage".into()),
                ..base
            }
            .validate(),
            Err(CaError::Pem(_) | CaError::Key(_))
        ));
    }
}
