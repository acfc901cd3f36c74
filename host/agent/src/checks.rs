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
            ..
        } => http_check(url, method, headers, timeout).await,
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

async fn http_check(
    url: &str,
    method: &str,
    headers: &std::collections::BTreeMap<String, Vec<String>>,
    timeout: Duration,
) -> (CheckStatus, String) {
    let (url, method, headers) = (url.to_string(), method.to_string(), headers.clone());
    let res = tokio::task::spawn_blocking(move || {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
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
