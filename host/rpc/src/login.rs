//! `/v1/acl/login` on the server: the `jwt` auth method (Consul's `authmethod/jwtauth`) and
//! binding rules. A bearer JWT is verified against the method's static public keys
//! (`JWTValidationPubKeys`) or a JWKS file (`JWKSURL = "file:///..."`), its claims are mapped
//! to `value.<name>` / `list.<name>` variables, and every binding rule whose selector matches
//! them contributes a service or node identity, a role, a policy or a templated policy to the
//! new token. Verification runs on the server that issues the token, never on the edge.

use std::collections::BTreeMap;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use praetor_state::{
    AclAuthMethod, AclBindingRule, AclLink, AclNodeIdentity, AclServiceIdentity, AclTemplatedPolicy,
};

/// The auth method types praetor implements (Consul also has `kubernetes`, `oidc`, `aws-iam`).
pub const METHOD_TYPES: [&str; 1] = ["jwt"];

/// Binding rule bind types.
pub const BIND_TYPES: [&str; 5] = ["service", "node", "role", "policy", "templated-policy"];

/// The `Config` of a `jwt` auth method (Consul's key names).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct JwtConfig {
    #[serde(rename = "JWTValidationPubKeys")]
    pub_keys: Vec<String>,
    #[serde(rename = "JWKSURL")]
    jwks_url: String,
    #[serde(rename = "JWKSCACert")]
    jwks_ca_cert: String,
    #[serde(rename = "OIDCDiscoveryURL")]
    oidc_discovery_url: String,
    #[serde(rename = "OIDCDiscoveryCACert")]
    oidc_discovery_ca_cert: String,
    #[serde(rename = "BoundIssuer")]
    bound_issuer: String,
    #[serde(rename = "BoundAudiences")]
    bound_audiences: Vec<String>,
    #[serde(rename = "ClaimMappings")]
    claim_mappings: BTreeMap<String, String>,
    #[serde(rename = "ListClaimMappings")]
    list_claim_mappings: BTreeMap<String, String>,
    #[serde(rename = "JWTSupportedAlgs")]
    supported_algs: Vec<String>,
    /// Leeways in nanoseconds (the API turns Go duration strings into numbers when the method
    /// is written); `None` = Consul's default.
    #[serde(rename = "ExpirationLeeway")]
    expiration_leeway: Option<i64>,
    #[serde(rename = "NotBeforeLeeway")]
    not_before_leeway: Option<i64>,
    #[serde(rename = "ClockSkewLeeway")]
    clock_skew_leeway: Option<i64>,
}

/// Consul's defaults: 150 s for `exp` and `nbf`, 60 s of clock skew.
const DEFAULT_EXP_NBF_LEEWAY_S: u64 = 150;
const DEFAULT_CLOCK_SKEW_S: u64 = 60;

impl JwtConfig {
    /// Parses and checks a method's configuration with Consul's rules (exactly one key
    /// source). What praetor does not do (OIDC discovery, JWKS over the network) is refused.
    pub fn parse(config_json: &str) -> Result<JwtConfig, String> {
        let c: JwtConfig = serde_json::from_str(if config_json.is_empty() {
            "{}"
        } else {
            config_json
        })
        .map_err(|e| format!("Invalid Auth Method: invalid config: {e}"))?;
        let sources = [
            !c.pub_keys.is_empty(),
            !c.jwks_url.is_empty(),
            !c.oidc_discovery_url.is_empty(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if sources != 1 {
            return Err("Invalid Auth Method: exactly one of 'JWKSURL', 'JWTValidationPubKeys', or 'OIDCDiscoveryURL' must be set for 'jwt'".into());
        }
        if !c.jwks_ca_cert.is_empty() || !c.oidc_discovery_ca_cert.is_empty() {
            return Err("Invalid Auth Method: JWKSCACert and OIDCDiscoveryCACert are not supported by praetor (keys come from JWTValidationPubKeys or a file:// JWKSURL, never over TLS)".into());
        }
        for (name, l) in [
            ("ExpirationLeeway", c.expiration_leeway),
            ("NotBeforeLeeway", c.not_before_leeway),
            ("ClockSkewLeeway", c.clock_skew_leeway),
        ] {
            if l.is_some_and(|l| l < 0) {
                return Err(format!(
                    "Invalid Auth Method: a negative {name} (which turns the check off in Consul) is not supported by praetor"
                ));
            }
        }
        if !c.oidc_discovery_url.is_empty() {
            return Err("Invalid Auth Method: OIDCDiscoveryURL is not supported by praetor (use JWTValidationPubKeys or a JWKSURL of the form file:///path)".into());
        }
        if !c.jwks_url.is_empty() && !c.jwks_url.starts_with("file://") {
            return Err("Invalid Auth Method: JWKSURL must be a file:// URL in praetor (JWKS over the network is not supported)".into());
        }
        for a in &c.supported_algs {
            a.parse::<Algorithm>()
                .map_err(|_| format!("Invalid Auth Method: unsupported JWTSupportedAlgs {a:?}"))?;
        }
        for k in &c.pub_keys {
            decoding_keys_from_pem(k)
                .map_err(|e| format!("Invalid Auth Method: error parsing public key: {e}"))?;
        }
        Ok(c)
    }

    /// The one leeway `jsonwebtoken` applies to `exp` and `nbf`: the larger of the two
    /// leeways plus the clock skew, as Consul adds them.
    fn leeway_secs(&self) -> u64 {
        let secs = |l: Option<i64>, default: u64| {
            l.map_or(default, |ns| u64::try_from(ns).unwrap_or(0) / 1_000_000_000)
        };
        secs(self.expiration_leeway, DEFAULT_EXP_NBF_LEEWAY_S)
            .max(secs(self.not_before_leeway, DEFAULT_EXP_NBF_LEEWAY_S))
            .saturating_add(secs(self.clock_skew_leeway, DEFAULT_CLOCK_SKEW_S))
    }

    fn algorithms(&self) -> Vec<Algorithm> {
        if self.supported_algs.is_empty() {
            return vec![Algorithm::RS256];
        }
        self.supported_algs
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect()
    }
}

/// A PEM public key as decoding keys for every family it may be (RSA, EC, Ed25519).
fn decoding_keys_from_pem(pem: &str) -> Result<Vec<DecodingKey>, String> {
    let keys: Vec<DecodingKey> = [
        DecodingKey::from_rsa_pem(pem.as_bytes()),
        DecodingKey::from_ec_pem(pem.as_bytes()),
        DecodingKey::from_ed_pem(pem.as_bytes()),
    ]
    .into_iter()
    .filter_map(Result::ok)
    .collect();
    if keys.is_empty() {
        Err("not a PEM-encoded RSA, EC or Ed25519 public key".into())
    } else {
        Ok(keys)
    }
}

/// Verifies `jwt` with the method's keys and bounds; returns its claims.
pub fn verify(config: &JwtConfig, jwt: &str) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(jwt).map_err(|e| format!("invalid JWT: {e}"))?;
    let algs = config.algorithms();
    if !algs.contains(&header.alg) {
        return Err(format!("JWT algorithm {:?} is not allowed", header.alg));
    }
    let mut v = Validation::new(header.alg);
    v.algorithms = algs;
    v.required_spec_claims.clear();
    v.leeway = config.leeway_secs();
    v.validate_nbf = true;
    if config.bound_issuer.is_empty() {
        v.iss = None;
    } else {
        v.set_issuer(&[config.bound_issuer.as_str()]);
    }
    if config.bound_audiences.is_empty() {
        v.validate_aud = false;
    } else {
        v.set_audience(&config.bound_audiences);
    }
    let keys: Vec<DecodingKey> = if config.jwks_url.is_empty() {
        let mut all = Vec::new();
        for pem in &config.pub_keys {
            all.extend(decoding_keys_from_pem(pem)?);
        }
        all
    } else {
        let path = config.jwks_url.trim_start_matches("file://");
        let text = std::fs::read_to_string(path).map_err(|e| format!("reading JWKS: {e}"))?;
        let set: jsonwebtoken::jwk::JwkSet =
            serde_json::from_str(&text).map_err(|e| format!("parsing JWKS: {e}"))?;
        set.keys
            .iter()
            .filter(|k| {
                header.kid.is_none() || k.common.key_id.is_none() || k.common.key_id == header.kid
            })
            .filter_map(|k| DecodingKey::from_jwk(k).ok())
            .collect()
    };
    let mut last = String::from("no key to verify the JWT with");
    for key in &keys {
        match jsonwebtoken::decode::<Value>(jwt, key, &v) {
            Ok(data) => return Ok(data.claims),
            Err(e) => last = format!("failed to verify JWT: {e}"),
        }
    }
    Err(last)
}

/// A claim by name, or by JSON pointer (`/a/b`).
fn claim<'a>(claims: &'a Value, name: &str) -> Option<&'a Value> {
    if name.starts_with('/') {
        claims.pointer(name)
    } else {
        claims.get(name)
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The selectable variables of a login: `{"value": {...}, "list": {...}}`.
pub fn variables(config: &JwtConfig, claims: &Value) -> Value {
    let mut value = Map::new();
    for (c, attr) in &config.claim_mappings {
        if let Some(s) = claim(claims, c).and_then(scalar) {
            value.insert(attr.clone(), Value::String(s));
        }
    }
    let mut list = Map::new();
    for (c, attr) in &config.list_claim_mappings {
        let items: Vec<Value> = match claim(claims, c) {
            Some(Value::Array(a)) => a.iter().filter_map(scalar).map(Value::String).collect(),
            Some(v) => scalar(v).map(Value::String).into_iter().collect(),
            None => Vec::new(),
        };
        list.insert(attr.clone(), Value::Array(items));
    }
    serde_json::json!({"value": value, "list": list})
}

/// `${value.name}` interpolation of a bind name (Consul's HIL subset).
pub fn interpolate(template: &str, vars: &Value) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated ${{ in {template:?}"))?;
        let expr = after[..end].trim();
        let (kind, name) = expr
            .split_once('.')
            .ok_or_else(|| format!("unknown variable {expr:?}"))?;
        let v = vars
            .get(kind)
            .and_then(|m| m.get(name))
            .and_then(Value::as_str)
            .ok_or_else(|| format!("unknown variable {expr:?}"))?;
        out.push_str(v);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// What a login grants.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Grant {
    pub service_identities: Vec<AclServiceIdentity>,
    pub node_identities: Vec<AclNodeIdentity>,
    pub roles: Vec<AclLink>,
    pub policies: Vec<AclLink>,
    pub templated_policies: Vec<AclTemplatedPolicy>,
}

impl Grant {
    pub fn is_empty(&self) -> bool {
        self.service_identities.is_empty()
            && self.node_identities.is_empty()
            && self.roles.is_empty()
            && self.policies.is_empty()
            && self.templated_policies.is_empty()
    }
}

/// Applies the binding rules whose selector matches `vars`. Roles and policies must exist
/// (`exists(kind, name)`); a binding to a missing one is skipped, as in Consul.
pub fn bind(
    rules: &[AclBindingRule],
    vars: &Value,
    datacenter: &str,
    exists: impl Fn(&str, &str) -> bool,
) -> Result<Grant, String> {
    let mut g = Grant::default();
    for r in rules {
        if !r.selector.is_empty() {
            let f = praetor_filter::parse(&r.selector)
                .map_err(|e| format!("binding rule {}: {e}", r.id))?;
            if !f.matches(vars) {
                continue;
            }
        }
        let name = interpolate(&r.bind_name, vars)?;
        match r.bind_type.as_str() {
            "service" if praetor_acl::is_valid_service_identity_name(&name) => {
                g.service_identities.push(AclServiceIdentity {
                    service_name: name,
                    datacenters: Vec::new(),
                });
            }
            "node" if praetor_acl::is_valid_node_identity_name(&name) => {
                g.node_identities.push(AclNodeIdentity {
                    node_name: name,
                    datacenter: datacenter.to_string(),
                });
            }
            "role" if exists("role", &name) => g.roles.push(AclLink {
                id: String::new(),
                name,
            }),
            "policy" if exists("policy", &name) => g.policies.push(AclLink {
                id: String::new(),
                name,
            }),
            "templated-policy" => {
                let var = r
                    .bind_vars_name
                    .as_deref()
                    .map(|v| interpolate(v, vars))
                    .transpose()?;
                g.templated_policies.push(AclTemplatedPolicy {
                    template_name: name,
                    name: var,
                    datacenters: Vec::new(),
                });
            }
            other => {
                tracing::debug!(bind_type = other, name = %name, "binding skipped");
            }
        }
    }
    Ok(g)
}

/// Checks a method as written (type, locality, configuration).
pub fn validate_method(m: &AclAuthMethod) -> Result<(), String> {
    if !METHOD_TYPES.contains(&m.method_type.as_str()) {
        return Err(format!(
            "Invalid Auth Method: Type should be one of: {:?}",
            METHOD_TYPES
        ));
    }
    if !matches!(m.token_locality.as_str(), "" | "local" | "global") {
        return Err(format!(
            "Invalid Auth Method: TokenLocality should be one of 'local' or 'global', got {:?}",
            m.token_locality
        ));
    }
    JwtConfig::parse(&m.config).map(|_| ())
}

/// Checks a binding rule as written (bind type, selector syntax).
pub fn validate_rule(r: &AclBindingRule) -> Result<(), String> {
    if r.auth_method.is_empty() {
        return Err("Invalid Binding Rule: no AuthMethod is set".into());
    }
    if !BIND_TYPES.contains(&r.bind_type.as_str()) {
        return Err(format!(
            "Invalid Binding Rule: unknown BindType {:?}",
            r.bind_type
        ));
    }
    if r.bind_name.is_empty() {
        return Err("Invalid Binding Rule: no BindName is set".into());
    }
    if !r.selector.is_empty() {
        praetor_filter::parse(&r.selector)
            .map_err(|e| format!("Invalid Binding Rule: invalid Selector: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A P-256 key pair made for these tests (`openssl ecparam -name prime256v1`).
    const PRIV: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgsoRq3FixFk0Ee02j
1UCMBzoTrFt5ldOlXUCzAv8JV8ShRANCAATbSp1bD+PvgOXiP6+6SlwjVACSiOUO
bZ3UmV/6cyk3EQJs+KoRk2KONeCcQPuuQs6BUa7p46mfUln2qmbg+U0J
-----END PRIVATE KEY-----";
    const PUB: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE20qdWw/j74Dl4j+vukpcI1QAkojl
Dm2d1Jlf+nMpNxECbPiqEZNijjXgnED7rkLOgVGu6eOpn1JZ9qpm4PlNCQ==
-----END PUBLIC KEY-----";

    fn config() -> JwtConfig {
        JwtConfig::parse(
            &serde_json::json!({
                "JWTValidationPubKeys": [PUB],
                "JWTSupportedAlgs": ["ES256"],
                "BoundIssuer": "https://issuer",
                "ClaimMappings": {"svc": "service"},
                "ListClaimMappings": {"groups": "groups"},
            })
            .to_string(),
        )
        .unwrap()
    }

    fn sign(claims: Value) -> String {
        let key = jsonwebtoken::EncodingKey::from_ec_pem(PRIV.as_bytes()).unwrap();
        jsonwebtoken::encode(&jsonwebtoken::Header::new(Algorithm::ES256), &claims, &key).unwrap()
    }

    #[test]
    fn verifies_signature_issuer_and_maps_claims() {
        let c = config();
        let jwt = sign(
            serde_json::json!({"iss": "https://issuer", "svc": "web", "groups": ["ops", "dev"]}),
        );
        let claims = verify(&c, &jwt).unwrap();
        let vars = variables(&c, &claims);
        assert_eq!(vars["value"]["service"], "web");
        assert_eq!(vars["list"]["groups"][1], "dev");
        let wrong_iss = sign(serde_json::json!({"iss": "https://other", "svc": "web"}));
        assert!(verify(&c, &wrong_iss).is_err());
        let mut tampered = jwt.clone();
        tampered.pop();
        tampered.push(if jwt.ends_with('A') { 'B' } else { 'A' });
        assert!(verify(&c, &tampered).is_err());
    }

    #[test]
    fn binding_rules_select_and_interpolate() {
        let vars = serde_json::json!({"value": {"service": "web"}, "list": {"groups": ["ops"]}});
        let rules = vec![
            AclBindingRule {
                id: "r1".into(),
                auth_method: "m".into(),
                selector: "value.service == web".into(),
                bind_type: "service".into(),
                bind_name: "${value.service}".into(),
                ..AclBindingRule::default()
            },
            AclBindingRule {
                id: "r2".into(),
                auth_method: "m".into(),
                selector: "ops in list.groups".into(),
                bind_type: "role".into(),
                bind_name: "operators".into(),
                ..AclBindingRule::default()
            },
            AclBindingRule {
                id: "r3".into(),
                auth_method: "m".into(),
                selector: "value.service == db".into(),
                bind_type: "policy".into(),
                bind_name: "db".into(),
                ..AclBindingRule::default()
            },
        ];
        let g = bind(&rules, &vars, "dc1", |_, _| true).unwrap();
        assert_eq!(g.service_identities[0].service_name, "web");
        assert_eq!(g.roles[0].name, "operators");
        assert!(g.policies.is_empty(), "selector did not match");
        let g = bind(&rules, &vars, "dc1", |_, _| false).unwrap();
        assert!(g.roles.is_empty(), "a missing role is skipped");
    }

    #[test]
    fn leeways_are_honoured_and_ca_certs_refused() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let expired = sign(serde_json::json!({"iss": "https://issuer", "exp": now - 100}));
        assert!(
            verify(&config(), &expired).is_ok(),
            "within the default 150 s + 60 s"
        );
        let strict = JwtConfig::parse(
            &serde_json::json!({
                "JWTValidationPubKeys": [PUB],
                "JWTSupportedAlgs": ["ES256"],
                "ExpirationLeeway": 0,
                "NotBeforeLeeway": 0,
                "ClockSkewLeeway": 0,
            })
            .to_string(),
        )
        .unwrap();
        assert!(verify(&strict, &expired).is_err(), "no leeway");
        let e = JwtConfig::parse(
            &serde_json::json!({"JWTValidationPubKeys": [PUB], "JWKSCACert": "x"}).to_string(),
        )
        .unwrap_err();
        assert!(e.contains("JWKSCACert"), "{e}");
        let e = JwtConfig::parse(
            &serde_json::json!({"JWTValidationPubKeys": [PUB], "ClockSkewLeeway": -1}).to_string(),
        )
        .unwrap_err();
        assert!(e.contains("negative ClockSkewLeeway"), "{e}");
    }

    #[test]
    fn method_validation_texts() {
        let m = AclAuthMethod {
            name: "k".into(),
            method_type: "kubernetes".into(),
            ..AclAuthMethod::default()
        };
        assert_eq!(
            validate_method(&m).unwrap_err(),
            "Invalid Auth Method: Type should be one of: [\"jwt\"]"
        );
        let m = AclAuthMethod {
            name: "j".into(),
            method_type: "jwt".into(),
            config: "{}".into(),
            ..AclAuthMethod::default()
        };
        assert!(validate_method(&m).unwrap_err().contains("exactly one of"));
    }
}
