//! The one small HTTP client every command uses to talk to an agent: address resolution, the
//! `dc` / `stale` query parameters, the `X-Consul-Token` header (`-token`, `-token-file`), HTTPS (Consul's `-ca-file`,
//! `-ca-path`, `-client-cert`, `-client-key`, `CONSUL_HTTP_SSL`, `CONSUL_HTTP_SSL_VERIFY`), and
//! Consul's error texts.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig, TlsProvider};

use crate::cli::HttpArgs;

/// Default agent address (Consul's).
pub const DEFAULT_HTTP_ADDR: &str = "http://127.0.0.1:8500";

/// Largest response body read (a big KV recurse or catalog).
const MAX_BODY: u64 = 256 << 20;

/// Why a request failed, rendered like Consul's Go API client.
#[derive(Debug)]
pub enum ClientError {
    /// No HTTP response (connection refused, DNS, timeout, ...).
    Transport {
        method: &'static str,
        url: String,
        message: String,
    },
    /// A non-2xx answer: `Unexpected response code: 500 (No path to datacenter)`.
    Status { code: u16, body: String },
    /// A 2xx answer whose body is not the expected JSON.
    Decode { url: String, message: String },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Transport {
                method,
                url,
                message,
            } => {
                let mut m = method.to_ascii_lowercase();
                if let Some(first) = m.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                write!(f, "{m} \"{url}\": {message}")
            }
            ClientError::Status { code, body } => {
                write!(f, "Unexpected response code: {code} ({body})")
            }
            ClientError::Decode { url, message } => {
                write!(f, "invalid response from \"{url}\": {message}")
            }
        }
    }
}

impl std::error::Error for ClientError {}

/// `-http-addr`, else `PRAETOR_HTTP_ADDR`, else `CONSUL_HTTP_ADDR`, else the default; a bare
/// `host:port` gets `http://`, or `https://` with `ssl` (`CONSUL_HTTP_SSL=true`).
pub fn resolve_addr(
    flag: Option<&str>,
    praetor_env: Option<&str>,
    consul_env: Option<&str>,
    ssl: bool,
) -> String {
    let raw = [flag, praetor_env, consul_env]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|s| !s.is_empty())
        .unwrap_or(DEFAULT_HTTP_ADDR);
    let with_scheme = match raw.split_once("://") {
        Some(("http", rest)) if ssl => format!("https://{rest}"),
        Some(_) => raw.to_string(),
        None if ssl => format!("https://{raw}"),
        None => format!("http://{raw}"),
    };
    with_scheme.trim_end_matches('/').to_string()
}

/// Go's `strconv.ParseBool`, as Consul reads `CONSUL_HTTP_SSL` and `CONSUL_HTTP_SSL_VERIFY`.
pub fn parse_go_bool(v: &str) -> Option<bool> {
    match v.trim() {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Where the CLI's HTTPS trust and identity come from.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub ca_file: Option<PathBuf>,
    pub ca_path: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// `false` only with `CONSUL_HTTP_SSL_VERIFY=false`.
    pub verify: bool,
}

impl Default for TlsFiles {
    fn default() -> Self {
        Self {
            ca_file: None,
            ca_path: None,
            client_cert: None,
            client_key: None,
            verify: true,
        }
    }
}

/// The system's CA bundle (Debian's path), used when neither a CA file nor a CA path is given.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Every certificate in a PEM file; a file without one is an error.
fn read_certs(path: &Path) -> Result<Vec<Certificate<'static>>, String> {
    let pem = read_file(path)?;
    let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate found", path.display()));
    }
    Ok(certs)
}

/// The TLS settings of the client: roots from the CA file and every file of the CA path (else
/// the system bundle), the client certificate and key when both are given.
pub fn tls_config(t: &TlsFiles) -> Result<TlsConfig, String> {
    let mut roots = Vec::new();
    if let Some(f) = &t.ca_file {
        roots.extend(read_certs(f)?);
    }
    if let Some(dir) = &t.ca_path {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for f in files {
            roots.extend(read_certs(&f)?);
        }
    }
    if t.ca_file.is_none() && t.ca_path.is_none() {
        roots = system_roots();
    }
    let client = match (&t.client_cert, &t.client_key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert)?;
            let key = PrivateKey::from_pem(&read_file(key)?)
                .map_err(|e| format!("{}: {e}", key.display()))?;
            Some(ClientCert::new_with_certs(&chain, key))
        }
        (None, None) => None,
        _ => return Err("a client certificate needs both -client-cert and -client-key".into()),
    };
    Ok(build_tls(&roots, client, t.verify))
}

/// Like Go's system pool: whatever the system bundle holds, nothing if it is missing.
fn system_roots() -> Vec<Certificate<'static>> {
    read_certs(Path::new(SYSTEM_CA_BUNDLE)).unwrap_or_default()
}

/// ureq's TLS settings: rustls with ring (the project's one provider) and only these roots.
fn build_tls(
    roots: &[Certificate<'static>],
    client: Option<ClientCert>,
    verify: bool,
) -> TlsConfig {
    TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .root_certs(RootCerts::new_with_certs(roots))
        .client_cert(client)
        .disable_verification(!verify)
        .build()
}

/// The first non-empty value: flag, then `PRAETOR_*`, then `CONSUL_*` environment variable.
pub fn first_set(candidates: &[Option<String>]) -> Option<String> {
    candidates
        .iter()
        .flatten()
        .map(|s| s.trim())
        .find(|s| !s.is_empty())
        .map(str::to_string)
}

/// Where the ACL token may come from: a file holding it, or the token itself.
#[derive(Debug, Clone)]
pub enum TokenSource {
    File(Option<String>),
    Value(Option<String>),
}

/// The token of the first source that gives a non-empty one (Consul's order: `-token-file`,
/// `-token`, `CONSUL_HTTP_TOKEN_FILE`, `CONSUL_HTTP_TOKEN`); file contents are trimmed, an
/// unreadable file is an error.
pub fn resolve_token(sources: &[TokenSource]) -> Result<Option<String>, String> {
    for source in sources {
        match source {
            TokenSource::File(Some(path)) if !path.trim().is_empty() => {
                let data = std::fs::read_to_string(path)
                    .map_err(|e| format!("Error loading token file {path} : {e}"))?;
                if !data.trim().is_empty() {
                    return Ok(Some(data.trim().to_string()));
                }
            }
            TokenSource::Value(v) => {
                if let Some(t) = first_set(std::slice::from_ref(v)) {
                    return Ok(Some(t));
                }
            }
            TokenSource::File(_) => {}
        }
    }
    Ok(None)
}

/// Percent-encodes a URL path, keeping `/` (for KV keys).
pub fn escape_path(s: &str) -> String {
    escape(s, true)
}

/// Percent-encodes one path segment (node names, addresses, IDs).
pub fn escape_segment(s: &str) -> String {
    escape(s, false)
}

fn escape(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        if unreserved || (keep_slash && b == b'/') || matches!(b, b':' | b'@') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A client bound to one agent address and the common query options.
pub struct Client {
    base: String,
    token: Option<String>,
    datacenter: Option<String>,
    stale: bool,
    agent: ureq::Agent,
}

impl Client {
    /// Builds a client from the command's HTTP flags and the environment. TLS files that
    /// cannot be loaded end the command, as Consul's CLI does.
    pub fn from_args(http: &HttpArgs) -> Client {
        let env = |name: &str| std::env::var(name).ok();
        let flag_env = |flag: &Option<String>, name: &str| {
            first_set(&[
                flag.clone(),
                env(&format!("PRAETOR_{name}")),
                env(&format!("CONSUL_{name}")),
            ])
        };
        let ssl = env("CONSUL_HTTP_SSL").and_then(|v| parse_go_bool(&v)) == Some(true);
        let base = resolve_addr(
            http.http_addr.as_deref(),
            env("PRAETOR_HTTP_ADDR").as_deref(),
            env("CONSUL_HTTP_ADDR").as_deref(),
            ssl,
        );
        let token = resolve_token(&[
            TokenSource::File(http.token_file.clone()),
            TokenSource::Value(http.token.clone()),
            TokenSource::File(env("PRAETOR_HTTP_TOKEN_FILE")),
            TokenSource::File(env("CONSUL_HTTP_TOKEN_FILE")),
            TokenSource::Value(env("PRAETOR_HTTP_TOKEN")),
            TokenSource::Value(env("CONSUL_HTTP_TOKEN")),
        ])
        .unwrap_or_else(|e| {
            eprintln!("Error connecting to Consul agent: {e}");
            std::process::exit(1);
        });
        let tls = TlsFiles {
            ca_file: flag_env(&http.ca_file, "CACERT").map(PathBuf::from),
            ca_path: flag_env(&http.ca_path, "CAPATH").map(PathBuf::from),
            client_cert: flag_env(&http.client_cert, "CLIENT_CERT").map(PathBuf::from),
            client_key: flag_env(&http.client_key, "CLIENT_KEY").map(PathBuf::from),
            verify: env("CONSUL_HTTP_SSL_VERIFY").and_then(|v| parse_go_bool(&v)) != Some(false),
        };
        Client::with_tls(base, token, http.datacenter.clone(), http.stale, &tls).unwrap_or_else(
            |e| {
                eprintln!("Error connecting to Consul agent: {e}");
                std::process::exit(1);
            },
        )
    }

    /// A client with the default trust (the system CA bundle) and no client certificate.
    #[cfg(test)]
    pub fn new(
        base: String,
        token: Option<String>,
        datacenter: Option<String>,
        stale: bool,
    ) -> Client {
        let tls = build_tls(&system_roots(), None, true);
        Self::with_config(base, token, datacenter, stale, tls)
    }

    /// A client with the given TLS files.
    pub fn with_tls(
        base: String,
        token: Option<String>,
        datacenter: Option<String>,
        stale: bool,
        tls: &TlsFiles,
    ) -> Result<Client, String> {
        let tls = tls_config(tls)?;
        Ok(Self::with_config(base, token, datacenter, stale, tls))
    }

    fn with_config(
        base: String,
        token: Option<String>,
        datacenter: Option<String>,
        stale: bool,
        tls: TlsConfig,
    ) -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .tls_config(tls)
            .build();
        Client {
            base,
            token,
            datacenter: datacenter.filter(|d| !d.is_empty()),
            stale,
            agent: ureq::Agent::new_with_config(config),
        }
    }

    /// The full URL of `path` (already escaped) with the common and extra query parameters.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> String {
        let mut params: Vec<(String, String)> = Vec::new();
        if let Some(dc) = &self.datacenter {
            params.push(("dc".into(), dc.clone()));
        }
        if self.stale {
            params.push(("stale".into(), String::new()));
        }
        params.extend(query.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut url = format!("{}{path}", self.base);
        for (i, (k, v)) in params.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&escape_segment(k));
            url.push('=');
            url.push_str(&escape_segment(v));
        }
        url
    }

    fn send(
        &self,
        method: &'static str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let url = self.url(path, query);
        tracing::debug!(method, %url, "HTTP request");
        let transport = |e: ureq::Error| ClientError::Transport {
            method,
            url: url.clone(),
            message: e.to_string(),
        };
        let result = match method {
            "GET" => self.with_token(self.agent.get(&url)).call(),
            "DELETE" => {
                let req = self.with_token(self.agent.delete(&url));
                match body {
                    // Consul's keyring removal sends its key in a DELETE body.
                    Some(b) => req.force_send_body().send(b),
                    None => req.call(),
                }
            }
            "POST" => {
                let req = self.with_token(self.agent.post(&url));
                match body {
                    Some(b) => req.send(b),
                    None => req.send_empty(),
                }
            }
            _ => {
                let req = self.with_token(self.agent.put(&url));
                match body {
                    Some(b) => req.send(b),
                    None => req.send_empty(),
                }
            }
        };
        let mut response = result.map_err(transport)?;
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(transport)?;
        Ok((status, bytes))
    }

    fn with_token<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(t) => req.header("X-Consul-Token", t),
            None => req,
        }
    }

    fn check(status: u16, body: Vec<u8>) -> Result<Vec<u8>, ClientError> {
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            Err(ClientError::Status {
                code: status,
                body: String::from_utf8_lossy(&body).trim().to_string(),
            })
        }
    }

    /// GET; non-2xx is an error.
    pub fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Vec<u8>, ClientError> {
        let (status, body) = self.send("GET", path, query, None)?;
        Self::check(status, body)
    }

    /// GET whose body is read as it arrives (`monitor`); non-2xx is an error.
    pub fn get_stream(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<impl std::io::Read + use<>, ClientError> {
        let url = self.url(path, query);
        let transport = |e: ureq::Error| ClientError::Transport {
            method: "GET",
            url: url.clone(),
            message: e.to_string(),
        };
        let mut response = self
            .with_token(self.agent.get(&url))
            .call()
            .map_err(transport)?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let body = response
                .body_mut()
                .with_config()
                .limit(MAX_BODY)
                .read_to_vec()
                .map_err(transport)?;
            return Err(Self::check(status, body)
                .err()
                .unwrap_or(ClientError::Status {
                    code: status,
                    body: String::new(),
                }));
        }
        Ok(response.into_body().into_reader())
    }

    /// GET; 404 is `None` (Consul's "no such key"), other non-2xx an error.
    pub fn get_optional(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Option<Vec<u8>>, ClientError> {
        let (status, body) = self.send("GET", path, query, None)?;
        if status == 404 {
            return Ok(None);
        }
        Self::check(status, body).map(Some)
    }

    /// GET and decode JSON.
    pub fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ClientError> {
        let body = self.get(path, query)?;
        self.decode(path, &body)
    }

    /// Decodes a JSON body received from `path`.
    pub fn decode<T: DeserializeOwned>(&self, path: &str, body: &[u8]) -> Result<T, ClientError> {
        serde_json::from_slice(body).map_err(|e| ClientError::Decode {
            url: format!("{}{path}", self.base),
            message: e.to_string(),
        })
    }

    /// PUT with an optional body; non-2xx is an error.
    pub fn put(
        &self,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Vec<u8>, ClientError> {
        let (status, bytes) = self.send("PUT", path, query, body)?;
        Self::check(status, bytes)
    }

    /// DELETE; non-2xx is an error.
    pub fn delete(&self, path: &str, query: &[(&str, &str)]) -> Result<Vec<u8>, ClientError> {
        self.delete_with_body(path, query, None)
    }

    /// DELETE with an optional body; non-2xx is an error.
    pub fn delete_with_body(
        &self,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Vec<u8>, ClientError> {
        let (status, bytes) = self.send("DELETE", path, query, body)?;
        Self::check(status, bytes)
    }

    /// POST with an optional body; non-2xx is an error.
    pub fn post(
        &self,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Vec<u8>, ClientError> {
        let (status, bytes) = self.send("POST", path, query, body)?;
        Self::check(status, bytes)
    }
}

/// A `true` / `false` JSON body (KV writes, CAS deletes).
pub fn parse_bool_body(body: &[u8]) -> bool {
    String::from_utf8_lossy(body).trim() == "true"
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn address_precedence_and_scheme() {
        assert_eq!(
            resolve_addr(None, None, None, false),
            "http://127.0.0.1:8500"
        );
        assert_eq!(
            resolve_addr(None, None, Some("10.0.0.1:8500"), false),
            "http://10.0.0.1:8500"
        );
        assert_eq!(
            resolve_addr(None, Some("127.0.9.1:18500"), Some("10.0.0.1:8500"), false),
            "http://127.0.9.1:18500"
        );
        assert_eq!(
            resolve_addr(Some("https://x:8501/"), Some("y:1"), None, false),
            "https://x:8501"
        );
        // CONSUL_HTTP_SSL=true: https for a bare address and for an http:// one.
        assert_eq!(
            resolve_addr(None, None, Some("10.0.0.1:8501"), true),
            "https://10.0.0.1:8501"
        );
        assert_eq!(
            resolve_addr(Some("http://x:8501"), None, None, true),
            "https://x:8501"
        );
        assert_eq!(parse_go_bool("True"), Some(true));
        assert_eq!(parse_go_bool("0"), Some(false));
        assert_eq!(parse_go_bool("yes"), None);
    }

    #[test]
    fn token_precedence() {
        let s = |v: &str| Some(v.to_string());
        assert_eq!(first_set(&[None, s("p"), s("c")]), s("p"));
        assert_eq!(first_set(&[s("f"), s("p"), s("c")]), s("f"));
        assert_eq!(first_set(&[None, s(""), s("c")]), s("c"));
        assert_eq!(first_set(&[None, None, None]), None);
    }

    #[test]
    fn token_files_come_first_and_are_trimmed() {
        let dir = std::env::temp_dir().join(format!("praetor-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("token");
        std::fs::write(&file, "  from-file\n").expect("write");
        let empty = dir.join("empty");
        std::fs::write(&empty, "\n").expect("write");
        let path = |p: &std::path::Path| Some(p.display().to_string());
        let s = |v: &str| Some(v.to_string());
        use TokenSource::{File, Value};
        assert_eq!(
            resolve_token(&[File(path(&file)), Value(s("flag"))]),
            Ok(s("from-file"))
        );
        assert_eq!(
            resolve_token(&[File(None), Value(s("flag")), File(path(&file))]),
            Ok(s("flag"))
        );
        // An empty file is skipped, as Go keeps the token it already has.
        assert_eq!(
            resolve_token(&[File(path(&empty)), Value(None), Value(s("env"))]),
            Ok(s("env"))
        );
        assert_eq!(resolve_token(&[File(None), Value(s(""))]), Ok(None));
        let missing = dir.join("missing");
        let err = resolve_token(&[File(path(&missing))]).unwrap_err();
        assert!(
            err.starts_with(&format!(
                "Error loading token file {} : ",
                missing.display()
            )),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn urls_carry_dc_stale_and_escaped_values() {
        let c = Client::new(
            "http://127.0.0.1:8500".into(),
            None,
            Some("dc2".into()),
            true,
        );
        assert_eq!(
            c.url(
                &format!("/v1/kv/{}", escape_path("a b/c")),
                &[("recurse", "")]
            ),
            "http://127.0.0.1:8500/v1/kv/a%20b/c?dc=dc2&stale=&recurse="
        );
        assert_eq!(escape_segment("node/1"), "node%2F1");
        assert_eq!(escape_segment("10.0.0.1:8301"), "10.0.0.1:8301");
    }

    #[test]
    fn status_errors_render_like_consul() {
        let e = ClientError::Status {
            code: 500,
            body: "No path to datacenter".into(),
        };
        assert_eq!(
            e.to_string(),
            "Unexpected response code: 500 (No path to datacenter)"
        );
    }

    /// One canned HTTP response on a loopback socket; joining the handle gives the requests.
    fn serve_once(response: &str) -> (String, std::thread::JoinHandle<Vec<String>>) {
        test_server::serve(vec![response.to_string()])
    }

    const EMPTY_OK: &str = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

    #[test]
    fn post_and_delete_carry_bodies() {
        let (addr, server) = serve_once(EMPTY_OK);
        let c = Client::new(format!("http://{addr}"), None, None, false);
        c.post("/v1/operator/keyring", &[], Some(br#"{"Key":"k1"}"#))
            .expect("post");
        let req = server.join().expect("server thread").remove(0);
        assert!(
            req.starts_with("POST /v1/operator/keyring HTTP/1.1"),
            "{req}"
        );
        assert!(req.ends_with(r#"{"Key":"k1"}"#), "{req}");

        let (addr, server) = serve_once(EMPTY_OK);
        let c = Client::new(format!("http://{addr}"), None, None, false);
        c.delete_with_body(
            "/v1/operator/keyring",
            &[("relay-factor", "2")],
            Some(br#"{"Key":"k2"}"#),
        )
        .expect("delete");
        let req = server.join().expect("server thread").remove(0);
        assert!(
            req.starts_with("DELETE /v1/operator/keyring?relay-factor=2 HTTP/1.1"),
            "{req}"
        );
        assert!(req.ends_with(r#"{"Key":"k2"}"#), "{req}");
    }

    #[test]
    fn sends_token_and_reports_error_bodies() {
        let (addr, server) = serve_once(
            "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 21\r\nConnection: close\r\n\r\nNo path to datacenter",
        );
        let c = Client::new(format!("http://{addr}"), Some("secret".into()), None, false);
        let err = c.get("/v1/agent/self", &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unexpected response code: 500 (No path to datacenter)"
        );
        let head = server.join().expect("server thread").remove(0);
        assert!(head.starts_with("GET /v1/agent/self HTTP/1.1"), "{head}");
        assert!(
            head.to_ascii_lowercase().contains("x-consul-token: secret"),
            "{head}"
        );
    }

    #[test]
    fn not_found_is_none_for_optional_gets() {
        let (addr, server) =
            serve_once("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let c = Client::new(format!("http://{addr}"), None, None, false);
        assert!(matches!(c.get_optional("/v1/kv/missing", &[]), Ok(None)));
        server.join().expect("server thread").remove(0);
    }

    #[test]
    fn connection_errors_name_the_url() {
        // Bind then drop to get a port nobody listens on.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind")
            .port();
        let c = Client::new(format!("http://127.0.0.1:{port}"), None, None, false);
        let err = c.get("/v1/agent/self", &[]).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("Get \"http://127.0.0.1:{port}/v1/agent/self\": ")),
            "{err}"
        );
    }
}

/// A canned-response HTTP server on loopback, for the commands' tests.
#[cfg(test)]
pub(crate) mod test_server {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::thread::JoinHandle;

    /// Answers one canned response per connection, in order; returns the address and the
    /// requests (head and a body of `Content-Length` bytes) it saw.
    pub(crate) fn serve(responses: Vec<String>) -> (String, JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let handle = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for response in responses {
                let (mut stream, _) = listener.accept().expect("accept");
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !complete(&buf) {
                    let n = stream.read(&mut chunk).expect("read");
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                stream.write_all(response.as_bytes()).expect("write");
                seen.push(String::from_utf8_lossy(&buf).into_owned());
            }
            seen
        });
        (addr, handle)
    }

    /// Whether `buf` holds a whole request: a head and `Content-Length` bytes of body.
    fn complete(buf: &[u8]) -> bool {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            return false;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        buf.len() >= end + 4 + length
    }
}
