//! Runs the agent's health checks: TTL deadlines, HTTP, TCP and (when enabled) script checks.
//! Each check gets one task; its results are written to the local state, and a change wakes
//! anti-entropy.

use std::sync::Arc;
use std::time::Duration;

use praetor_config::{CheckDefinition, CheckKind};
use praetor_state::CheckStatus;
use tokio::task::JoinHandle;

use crate::Shared;

/// Consul's default check timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Consul truncates check output at 4 KiB.
const MAX_OUTPUT: usize = 4096;

/// Starts the task that runs one check; dropping/aborting the handle stops it.
pub fn spawn(shared: Arc<Shared>, def: CheckDefinition) -> JoinHandle<()> {
    tokio::spawn(async move {
        match def.kind.clone() {
            CheckKind::Ttl(ttl) => run_ttl(shared, def.id.clone(), ttl).await,
            kind => {
                let interval = def
                    .interval
                    .unwrap_or(Duration::from_secs(10))
                    .max(Duration::from_millis(100));
                let timeout = def
                    .timeout
                    .unwrap_or(DEFAULT_TIMEOUT)
                    .min(interval.max(Duration::from_secs(1)));
                let mut tick = tokio::time::interval(interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let (status, output) = run_once(&shared, &kind, timeout).await;
                    shared.update_check(&def.id, status, truncate(output));
                }
            }
        }
    })
}

/// A TTL check turns critical when no update arrives within its TTL.
async fn run_ttl(shared: Arc<Shared>, id: String, ttl: Duration) {
    let mut rx = shared.ttl_updates.subscribe();
    loop {
        match tokio::time::timeout(ttl, wait_for(&mut rx, &id)).await {
            Ok(true) => continue,
            Ok(false) => return,
            Err(_) => shared.update_check(&id, CheckStatus::Critical, "TTL expired".to_string()),
        }
    }
}

/// Waits until the TTL check `id` is updated; false if the channel closed.
async fn wait_for(rx: &mut tokio::sync::broadcast::Receiver<String>, id: &str) -> bool {
    loop {
        match rx.recv().await {
            Ok(updated) if updated == id => return true,
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return false,
        }
    }
}

async fn run_once(shared: &Shared, kind: &CheckKind, timeout: Duration) -> (CheckStatus, String) {
    match kind {
        CheckKind::Tcp(addr) => {
            match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
                Ok(Ok(_)) => (CheckStatus::Passing, format!("TCP connect {addr}: Success")),
                Ok(Err(e)) => (CheckStatus::Critical, format!("dial tcp {addr}: {e}")),
                Err(_) => (
                    CheckStatus::Critical,
                    format!("dial tcp {addr}: i/o timeout"),
                ),
            }
        }
        CheckKind::Http {
            url,
            method,
            headers,
            tls_skip_verify,
        } => {
            let tls = tls_config(shared, *tls_skip_verify);
            http_check(url, method, headers, tls, timeout).await
        }
        CheckKind::Script(args) => {
            if !shared.config.enable_script_checks {
                return (
                    CheckStatus::Critical,
                    "script checks are disabled (enable_script_checks)".into(),
                );
            }
            script_check(args, timeout).await
        }
        CheckKind::Alias(service) => {
            // Mirrors the local service's own checks.
            let status = shared.local_service_status(service);
            (
                status,
                format!("Alias of service {service}: {}", status.as_str()),
            )
        }
        CheckKind::Ttl(_) => (CheckStatus::Critical, String::new()),
    }
}

/// The system's CA bundle (Debian's path), read once.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

fn pem_certs(path: &std::path::Path) -> Vec<ureq::tls::Certificate<'static>> {
    let Ok(pem) = std::fs::read(path) else {
        return Vec::new();
    };
    ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect()
}

/// The roots HTTPS checks trust: the system's bundle and the agent's configured CA file
/// (Consul uses the agent's TLS settings for its checks).
fn check_roots(shared: &Shared) -> std::sync::Arc<Vec<ureq::tls::Certificate<'static>>> {
    static ROOTS: std::sync::OnceLock<std::sync::Arc<Vec<ureq::tls::Certificate<'static>>>> =
        std::sync::OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut roots = pem_certs(std::path::Path::new(SYSTEM_CA_BUNDLE));
            for section in [&shared.config.tls.internal_rpc, &shared.config.tls.https] {
                if let Some(ca) = &section.ca_file {
                    roots.extend(pem_certs(ca));
                }
            }
            std::sync::Arc::new(roots)
        })
        .clone()
}

/// ureq's TLS for a check: rustls with ring (the project's one provider), the check roots,
/// verification off with `tls_skip_verify`.
fn tls_config(shared: &Shared, skip_verify: bool) -> ureq::tls::TlsConfig {
    tls_with_roots(&check_roots(shared), skip_verify)
}

fn tls_with_roots(
    roots: &[ureq::tls::Certificate<'static>],
    skip_verify: bool,
) -> ureq::tls::TlsConfig {
    ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .root_certs(ureq::tls::RootCerts::new_with_certs(roots))
        .disable_verification(skip_verify)
        .build()
}

async fn http_check(
    url: &str,
    method: &str,
    headers: &std::collections::BTreeMap<String, Vec<String>>,
    tls: ureq::tls::TlsConfig,
    timeout: Duration,
) -> (CheckStatus, String) {
    let (url, method, headers) = (url.to_string(), method.to_string(), headers.clone());
    let res = tokio::task::spawn_blocking(move || {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .tls_config(tls)
            .build()
            .new_agent();
        let method = if method.is_empty() {
            "GET".to_string()
        } else {
            method.to_uppercase()
        };
        let mut req = http::Request::builder().method(method.as_str()).uri(&url);
        for (k, vs) in &headers {
            for v in vs {
                req = req.header(k, v);
            }
        }
        let req = req.body(()).map_err(|e| e.to_string())?;
        let mut resp = agent.run(req).map_err(|e| e.to_string())?;
        let code = resp.status();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        Ok::<_, String>((code, body, format!("HTTP {method} {url}")))
    })
    .await;
    match res {
        Ok(Ok((code, body, what))) => {
            let out = format!("{what}: {code} Output: {body}");
            let status = if code.is_success() {
                CheckStatus::Passing
            } else if code.as_u16() == 429 {
                CheckStatus::Warning
            } else {
                CheckStatus::Critical
            };
            (status, out)
        }
        Ok(Err(e)) => (CheckStatus::Critical, e),
        Err(e) => (CheckStatus::Critical, e.to_string()),
    }
}

async fn script_check(args: &[String], timeout: Duration) -> (CheckStatus, String) {
    let Some((prog, rest)) = args.split_first() else {
        return (CheckStatus::Critical, "empty script check".into());
    };
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(rest)
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    match tokio::time::timeout(timeout, cmd.output()).await {
        Ok(Ok(out)) => {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            let status = match out.status.code() {
                Some(0) => CheckStatus::Passing,
                Some(1) => CheckStatus::Warning,
                _ => CheckStatus::Critical,
            };
            (status, text)
        }
        Ok(Err(e)) => (CheckStatus::Critical, format!("Check failed to start: {e}")),
        Err(_) => (
            CheckStatus::Critical,
            format!("Timed out ({timeout:?}) running check"),
        ),
    }
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_OUTPUT {
        let mut cut = MAX_OUTPUT;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str(" ... (captured 4096 of output)");
    }
    s
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// An HTTPS server on loopback with a self-signed certificate for 127.0.0.1 that answers
    /// every request `200 ok`; returns its port and certificate.
    async fn https_server() -> (u16, Vec<u8>) {
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        let cert = ck.cert.der().to_vec();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(cert.clone())], key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(mut tls) = acceptor.accept(tcp).await {
                        let mut buf = [0u8; 1024];
                        let _ = tls.read(&mut buf).await;
                        let _ = tls
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                            .await;
                        let _ = tls.shutdown().await;
                    }
                });
            }
        });
        (port, cert)
    }

    #[tokio::test]
    async fn https_checks_verify_or_skip_and_never_panic() {
        let (port, cert) = https_server().await;
        let url = format!("https://127.0.0.1:{port}/health");
        let headers = Default::default();
        let t = Duration::from_secs(5);
        // Unknown issuer: critical with the reason.
        let (status, out) = http_check(&url, "GET", &headers, tls_with_roots(&[], false), t).await;
        assert_eq!(status, CheckStatus::Critical, "{out}");
        // tls_skip_verify: passing.
        let (status, out) = http_check(&url, "GET", &headers, tls_with_roots(&[], true), t).await;
        assert_eq!(status, CheckStatus::Passing, "{out}");
        // The CA among the roots: passing with verification.
        let roots = vec![ureq::tls::Certificate::from_der(&cert).to_owned()];
        let (status, out) =
            http_check(&url, "GET", &headers, tls_with_roots(&roots, false), t).await;
        assert_eq!(status, CheckStatus::Passing, "{out}");
        assert!(out.contains("200"), "{out}");
    }
}
