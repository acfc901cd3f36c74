//! `discovery-host`: DNS resolution, file reads and HTTP GETs for join providers, each denied
//! unless the slot's grants allow it. The same functions serve the native `dns`/`file`
//! fallbacks.

use std::io::Read;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

use crate::bindings::join::praetor::plugins::discovery_host;
use crate::settings::Grants;
use crate::store::HostState;

/// Largest file or HTTP body handed to a plugin.
pub(crate) const MAX_BODY: u64 = 1 << 20;
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
const DNS_TIMEOUT: Duration = Duration::from_secs(2);
const DNS_ATTEMPTS: usize = 2;

impl discovery_host::Host for HostState {
    fn resolve(&mut self, name: String, kind: String) -> Result<Vec<String>, String> {
        if !self.ctx.grants.dns {
            return Err("denied: dns".to_owned());
        }
        resolve(&name, &kind)
    }

    fn read_file(&mut self, path: String) -> Result<String, String> {
        read_file(&self.ctx.grants, &path)
    }

    fn http_get(&mut self, url: String) -> Result<String, String> {
        http_get(&self.ctx.grants, &url)
    }
}

/// Resolves `name` ("A", "AAAA" through the system resolver, "SRV" over UDP to the first
/// nameserver of /etc/resolv.conf). A/AAAA answers are IPs, SRV answers "target:port".
pub(crate) fn resolve(name: &str, kind: &str) -> Result<Vec<String>, String> {
    match kind.to_ascii_uppercase().as_str() {
        "A" => resolve_ip(name, true),
        "AAAA" => resolve_ip(name, false),
        "SRV" => resolve_srv(system_nameserver(), name),
        other => Err(format!(
            "unsupported record type {other:?} (A, AAAA or SRV)"
        )),
    }
}

fn resolve_ip(name: &str, v4: bool) -> Result<Vec<String>, String> {
    let addrs = (name, 0)
        .to_socket_addrs()
        .map_err(|e| format!("{name}: {e}"))?;
    let mut out: Vec<String> = Vec::new();
    for a in addrs {
        let ip = a.ip();
        if ip.is_ipv4() == v4 {
            let s = ip.to_string();
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    if out.is_empty() {
        let kind = if v4 { "A" } else { "AAAA" };
        return Err(format!("{name}: no {kind} records"));
    }
    Ok(out)
}

/// The first `nameserver` of /etc/resolv.conf, or 127.0.0.1:53.
fn system_nameserver() -> SocketAddr {
    let fallback = SocketAddr::from(([127, 0, 0, 1], 53));
    let Ok(text) = std::fs::read_to_string("/etc/resolv.conf") else {
        return fallback;
    };
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.trim().split('%').next()?.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .next()
        .unwrap_or(fallback)
}

/// Asks `server` for the SRV records of `name`.
pub(crate) fn resolve_srv(server: SocketAddr, name: &str) -> Result<Vec<String>, String> {
    let qname = Name::from_ascii(name).map_err(|e| format!("{name}: {e}"))?;
    let mut query = Message::query();
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(qname, RecordType::SRV));
    let id = query.metadata.id;
    let packet = query.to_vec().map_err(|e| format!("{name}: {e}"))?;
    let bind: SocketAddr = if server.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let socket = UdpSocket::bind(bind).map_err(|e| format!("dns socket: {e}"))?;
    socket
        .set_read_timeout(Some(DNS_TIMEOUT))
        .map_err(|e| format!("dns socket: {e}"))?;
    let mut buf = vec![0u8; 4096];
    let mut last_error = format!("{name}: no answer from {server}");
    for _ in 0..DNS_ATTEMPTS {
        if let Err(e) = socket.send_to(&packet, server) {
            last_error = format!("{name}: {e}");
            continue;
        }
        let (len, from) = match socket.recv_from(&mut buf) {
            Ok(r) => r,
            Err(e) => {
                last_error = format!("{name}: {server}: {e}");
                continue;
            }
        };
        if from != server {
            continue;
        }
        let Ok(answer) = Message::from_vec(&buf[..len]) else {
            last_error = format!("{name}: malformed answer from {server}");
            continue;
        };
        if answer.metadata.id != id {
            continue;
        }
        if answer.metadata.response_code != ResponseCode::NoError {
            return Err(format!("{name}: {}", answer.metadata.response_code));
        }
        return Ok(answer
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::SRV(srv) => {
                    let target = srv.target.to_ascii();
                    let target = target.trim_end_matches('.');
                    Some(format!("{target}:{}", srv.port))
                }
                _ => None,
            })
            .collect());
    }
    Err(last_error)
}

fn canonical_grants(grants: &Grants) -> Vec<PathBuf> {
    grants
        .read_paths
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect()
}

/// Reads `path` if its canonical form lies under a granted directory (at most 1 MiB).
pub(crate) fn read_file(grants: &Grants, path: &str) -> Result<String, String> {
    let denied = || format!("denied: {path}");
    let allowed = canonical_grants(grants);
    if allowed.is_empty() {
        return Err(denied());
    }
    let canonical = match std::fs::canonicalize(path) {
        Ok(c) => c,
        // Report I/O errors only inside the grants, so nothing leaks about other paths.
        Err(e) if allowed.iter().any(|a| Path::new(path).starts_with(a)) => {
            return Err(e.to_string());
        }
        Err(_) => return Err(denied()),
    };
    if !allowed.iter().any(|a| canonical.starts_with(a)) {
        return Err(denied());
    }
    read_limited(&canonical)
}

/// Reads a whole UTF-8 file of at most 1 MiB (the native `file` provider uses it unchecked).
pub(crate) fn read_limited(path: &Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut text = String::new();
    let read = file
        .take(MAX_BODY + 1)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    if read as u64 > MAX_BODY {
        return Err(format!("{}: larger than {MAX_BODY} bytes", path.display()));
    }
    Ok(text)
}

/// GETs `url` (plain http) if its host is granted; body at most 1 MiB, 5 s overall.
pub(crate) fn http_get(grants: &Grants, url: &str) -> Result<String, String> {
    let uri: ureq::http::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    let host = uri.host().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty()
        || !grants
            .http_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host))
    {
        return Err(format!("denied: {host}"));
    }
    if uri.scheme_str() != Some("http") {
        return Err(format!("{url}: only http:// URLs are supported"));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(HTTP_TIMEOUT))
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| e.to_string())?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("status {}", status.as_u16()));
    }
    response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_string()
        .map_err(|e| e.to_string())
}
