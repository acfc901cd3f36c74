//! `PeerInfo`: who is at the other end of an RPC-port connection (address, TLS, the
//! chain-verified certificate), and whether that peer may act as a server.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls_pki_types::{CertificateDer, ServerName};
use webpki::EndEntityCert;

/// The peer of a connection. tonic puts it in every request's extensions
/// (`request.extensions().get::<PeerInfo>()`); `GossipIncoming` and `DialedConn` carry it too.
///
/// Server authorization rule (`is_server_of`, `is_any_server`):
/// * TLS off entirely on this node (`local_tls == false`: no certificate and key for the RPC
///   port): nobody has an identity, every peer counts as a server (a plaintext cluster).
/// * TLS on: only a peer that presented a certificate — chain-verified against the CAs during
///   the handshake — valid for `server.<dc>.<domain>` counts. A plaintext peer, a TLS peer
///   without a certificate, a client certificate (`client.<dc>.<domain>`) or another
///   datacenter's server certificate does not.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// The remote socket address.
    pub remote: SocketAddr,
    /// The connection is TLS.
    pub tls: bool,
    /// The peer's end-entity certificate (DER), verified against the CAs during the handshake.
    pub cert_der: Option<Arc<[u8]>>,
    /// This node has TLS material for the RPC port (see the rule above).
    pub local_tls: bool,
}

impl PeerInfo {
    /// The peer may act as a server of datacenter `dc` (see the type's rule).
    pub fn is_server_of(&self, dc: &str, domain: &str) -> bool {
        if !self.local_tls {
            return true;
        }
        let Some(der) = &self.cert_der else {
            return false;
        };
        let Ok(name) = ServerName::try_from(crate::server_name(dc, domain)) else {
            return false;
        };
        let der = CertificateDer::from(&der[..]);
        let Ok(cert) = EndEntityCert::try_from(&der) else {
            return false;
        };
        cert.verify_is_valid_for_subject_name(&name).is_ok()
    }

    /// The peer holds a certificate for `server.<some dc>.<domain>` (see the type's rule).
    pub fn is_any_server(&self, domain: &str) -> bool {
        if !self.local_tls {
            return true;
        }
        !self.server_datacenters(domain).is_empty()
    }

    /// The datacenters `dc` for which the certificate has a `server.<dc>.<domain>` DNS name.
    pub fn server_datacenters(&self, domain: &str) -> Vec<String> {
        let suffix = format!(".{}", domain.trim_end_matches('.').to_ascii_lowercase());
        self.dns_names()
            .into_iter()
            .filter_map(|name| {
                let lower = name.to_ascii_lowercase();
                let dc = lower
                    .strip_prefix("server.")?
                    .strip_suffix(suffix.as_str())?;
                (!dc.is_empty() && !dc.contains('.')).then(|| dc.to_string())
            })
            .collect()
    }

    /// The DNS subject alternative names of the peer's certificate (empty without one).
    pub fn dns_names(&self) -> Vec<String> {
        let Some(der) = &self.cert_der else {
            return Vec::new();
        };
        let der = CertificateDer::from(&der[..]);
        match EndEntityCert::try_from(&der) {
            Ok(cert) => cert.valid_dns_names().map(str::to_string).collect(),
            Err(_) => Vec::new(),
        }
    }
}
