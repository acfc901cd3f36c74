//! The DNS server handle: binds UDP+TCP on each address, runs hickory's `Server`, shuts it down.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::Server;
use tokio::net::{TcpListener, UdpSocket};
use tracing::{info, warn};

use crate::backend::Backend;
use crate::config::{DnsConfig, domain_labels};
use crate::handler::ConsulDns;
use crate::lookup::Resolver;
use crate::records::{Zone, fqdn};

/// Idle TCP connections are closed after this long without a request.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Outgoing response queue per TCP connection.
const TCP_RESPONSE_BUFFER: usize = 64;
/// Attempts at finding a port free for both UDP and TCP when binding port 0.
const PORT_ATTEMPTS: usize = 16;

/// Errors starting the DNS server.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// `domain` is empty or not a valid DNS name.
    #[error("invalid DNS domain {0:?}")]
    InvalidDomain(String),
    /// `bind` is empty.
    #[error("no DNS bind address configured")]
    NoBindAddress,
    /// A socket could not be bound.
    #[error("failed to bind DNS {protocol} on {addr}: {source}")]
    Bind {
        /// "udp" or "tcp".
        protocol: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// A running DNS server. Dropping it without [`DnsServer::shutdown`] also stops it (its tasks are aborted).
pub struct DnsServer {
    server: Server<ConsulDns>,
    addrs: Vec<SocketAddr>,
}

impl std::fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsServer")
            .field("addrs", &self.addrs)
            .finish()
    }
}

impl DnsServer {
    /// Binds UDP and TCP on every `cfg.bind` address and starts answering. Must run inside a tokio runtime.
    pub async fn start(cfg: DnsConfig, backend: Arc<dyn Backend>) -> Result<DnsServer, DnsError> {
        let labels = domain_labels(&cfg.domain)
            .ok_or_else(|| DnsError::InvalidDomain(cfg.domain.clone()))?;
        let domain = labels.join(".");
        let apex = fqdn(&domain).ok_or_else(|| DnsError::InvalidDomain(cfg.domain.clone()))?;
        if cfg.bind.is_empty() {
            return Err(DnsError::NoBindAddress);
        }

        let mut sockets = Vec::with_capacity(cfg.bind.len());
        for addr in &cfg.bind {
            sockets.push(bind_pair(*addr).await?);
        }

        let zone = Zone {
            domain: domain.clone(),
            domain_labels: labels,
            apex,
            datacenter: cfg.datacenter.clone(),
            node_ttl: cfg.node_ttl,
            service_ttl: cfg.service_ttl,
            a_record_limit: cfg.a_record_limit,
        };
        let handler = ConsulDns {
            resolver: Resolver { zone, backend },
            udp_answer_limit: cfg.udp_answer_limit,
        };
        let mut server = Server::new(handler);
        let mut addrs = Vec::with_capacity(sockets.len());
        for (udp, tcp, addr) in sockets {
            server.register_socket(udp);
            server.register_listener(tcp, TCP_IDLE_TIMEOUT, TCP_RESPONSE_BUFFER);
            addrs.push(addr);
        }
        info!(?addrs, %domain, datacenter = %cfg.datacenter, "DNS server listening (udp+tcp)");
        Ok(DnsServer { server, addrs })
    }

    /// The bound addresses (UDP and TCP share each one), with the ports actually chosen.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.addrs.clone()
    }

    /// Stops accepting queries and waits for the listener tasks to end; the ports are free afterwards.
    pub async fn shutdown(mut self) {
        if let Err(error) = self.server.shutdown_gracefully().await {
            warn!(%error, "DNS server stopped with an error");
        }
        info!(addrs = ?self.addrs, "DNS server stopped");
    }
}

/// Binds UDP and TCP on the same address; for port 0, finds a port free for both.
async fn bind_pair(addr: SocketAddr) -> Result<(UdpSocket, TcpListener, SocketAddr), DnsError> {
    let bind_err = |protocol, source| DnsError::Bind {
        protocol,
        addr,
        source,
    };
    let attempts = if addr.port() == 0 { PORT_ATTEMPTS } else { 1 };
    let mut last_error = None;
    for _ in 0..attempts {
        let udp = UdpSocket::bind(addr)
            .await
            .map_err(|e| bind_err("udp", e))?;
        let local = udp.local_addr().map_err(|e| bind_err("udp", e))?;
        match TcpListener::bind(local).await {
            Ok(tcp) => return Ok((udp, tcp, local)),
            Err(error) if addr.port() == 0 && error.kind() == io::ErrorKind::AddrInUse => {
                last_error = Some(error)
            }
            Err(error) => return Err(bind_err("tcp", error)),
        }
    }
    let error = last_error.unwrap_or_else(|| io::Error::from(io::ErrorKind::AddrInUse));
    Err(bind_err("tcp", error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    fn assert_send<T: Send>(_: T) {}

    #[tokio::test]
    async fn handle_and_futures_are_send() {
        let backend: Arc<dyn Backend> = Arc::new(NoBackend);
        let cfg = DnsConfig {
            bind: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
            ..DnsConfig::default()
        };
        assert_send(DnsServer::start(cfg.clone(), backend.clone()));
        let server = DnsServer::start(cfg, backend).await.expect("start");
        assert_send_sync(&server);
        assert_send(server.shutdown());
    }

    struct NoBackend;

    #[async_trait::async_trait]
    impl Backend for NoBackend {
        async fn service_instances(
            &self,
            _: Option<&str>,
            _: &str,
            _: Option<&str>,
        ) -> Result<Vec<crate::Instance>, crate::LookupError> {
            Ok(Vec::new())
        }
        async fn connect_instances(
            &self,
            _: Option<&str>,
            _: &str,
        ) -> Result<Vec<crate::Instance>, crate::LookupError> {
            Ok(Vec::new())
        }
        async fn node(
            &self,
            _: Option<&str>,
            _: &str,
        ) -> Result<Option<crate::NodeRecord>, crate::LookupError> {
            Ok(None)
        }
        async fn prepared_query(
            &self,
            _: Option<&str>,
            _: &str,
        ) -> Result<Option<crate::QueryAnswer>, crate::LookupError> {
            Ok(None)
        }
        async fn reverse(
            &self,
            _: std::net::IpAddr,
        ) -> Result<Option<crate::ReverseName>, crate::LookupError> {
            Ok(None)
        }
    }
}
