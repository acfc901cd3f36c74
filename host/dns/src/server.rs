//! The DNS server handle: binds UDP (one socket per address, read by every receive thread
//! through duplicated descriptors) and TCP on each address, runs the UDP receive threads and
//! the TCP accept tasks over one `Responder`, shuts them down.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{Instrument, info, info_span, warn};

use crate::backend::Backend;
use crate::config::{DnsConfig, domain_labels};
use crate::lookup::Resolver;
use crate::records::{Zone, fqdn};
use crate::respond::Responder;
use crate::{tcp, udp};

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
    /// A UDP receive thread could not be started.
    #[error("failed to start a DNS UDP thread: {0}")]
    Thread(#[source] io::Error),
}

/// A running DNS server. Dropping it without [`DnsServer::shutdown`] also stops it (its UDP threads end
/// within a fraction of a second, its tasks are aborted).
pub struct DnsServer {
    udp: Option<udp::UdpLoops>,
    tcp: Vec<JoinHandle<()>>,
    stop_tcp: watch::Sender<bool>,
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
        let responder = Arc::new(responder(&cfg, backend)?);
        if cfg.bind.is_empty() {
            return Err(DnsError::NoBindAddress);
        }

        let threads = udp::threads_per_address();
        let mut udp_sockets = Vec::with_capacity(cfg.bind.len() * threads);
        let mut listeners = Vec::with_capacity(cfg.bind.len());
        let mut addrs = Vec::with_capacity(cfg.bind.len());
        for addr in &cfg.bind {
            let (udp, tcp, local) = bind_pair(*addr).await?;
            // The other threads read the same socket (a duplicated descriptor): each datagram
            // goes to one of them. Not SO_REUSEPORT: with it, a port-0 bind may be handed a
            // port another reuseport group of the same user holds, and the kernel would then
            // spread that group's queries over both (another process could also join the port).
            for _ in 1..threads {
                udp_sockets.push(udp.try_clone().map_err(|source| DnsError::Bind {
                    protocol: "udp",
                    addr: *addr,
                    source,
                })?);
            }
            udp_sockets.push(udp);
            listeners.push(tcp);
            addrs.push(local);
        }

        let udp = udp::UdpLoops::start(udp_sockets, &responder).map_err(DnsError::Thread)?;
        let (stop_tcp, stopped) = watch::channel(false);
        let tcp = listeners
            .into_iter()
            .zip(&addrs)
            .map(|(listener, addr)| {
                let span = info_span!("dns_tcp_accept", %addr);
                tokio::spawn(
                    tcp::serve(listener, responder.clone(), stopped.clone()).instrument(span),
                )
            })
            .collect();
        let domain = &responder.resolver.zone.domain;
        info!(?addrs, %domain, datacenter = %cfg.datacenter, udp_threads_per_address = threads, "DNS server listening (udp+tcp)");
        Ok(DnsServer {
            udp: Some(udp),
            tcp,
            stop_tcp,
            addrs,
        })
    }

    /// The bound addresses (UDP and TCP share each one), with the ports actually chosen.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.addrs.clone()
    }

    /// Stops accepting queries and waits for the threads and tasks to end; the ports are free afterwards.
    pub async fn shutdown(mut self) {
        self.stop_tcp.send_replace(true);
        for task in std::mem::take(&mut self.tcp) {
            if let Err(error) = task.await {
                warn!(%error, "DNS TCP task ended with an error");
            }
        }
        if let Some(udp) = self.udp.take() {
            udp.shutdown().await;
        }
        info!(addrs = ?self.addrs, "DNS server stopped");
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop_tcp.send_replace(true);
        for task in &self.tcp {
            task.abort();
        }
    }
}

/// The zone and the responder over `backend` that `cfg` describes.
pub(crate) fn responder(cfg: &DnsConfig, backend: Arc<dyn Backend>) -> Result<Responder, DnsError> {
    let labels =
        domain_labels(&cfg.domain).ok_or_else(|| DnsError::InvalidDomain(cfg.domain.clone()))?;
    let domain = labels.join(".");
    let apex = fqdn(&domain).ok_or_else(|| DnsError::InvalidDomain(cfg.domain.clone()))?;
    let zone = Zone {
        domain,
        domain_labels: labels,
        apex,
        datacenter: cfg.datacenter.clone(),
        node_ttl: cfg.node_ttl,
        service_ttl: cfg.service_ttl,
        a_record_limit: cfg.a_record_limit,
    };
    Ok(Responder::new(
        Resolver { zone, backend },
        cfg.udp_answer_limit,
    ))
}

/// Binds UDP and TCP on the same address; for port 0, finds a port free for both.
async fn bind_pair(
    addr: SocketAddr,
) -> Result<(std::net::UdpSocket, TcpListener, SocketAddr), DnsError> {
    let bind_err = |protocol, source| DnsError::Bind {
        protocol,
        addr,
        source,
    };
    let attempts = if addr.port() == 0 { PORT_ATTEMPTS } else { 1 };
    let mut last_error = None;
    for _ in 0..attempts {
        let udp = udp::bind(addr).map_err(|e| bind_err("udp", e))?;
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
