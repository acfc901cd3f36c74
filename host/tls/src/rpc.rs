//! `RpcTls`: the RPC port's TLS material and rules, built into rustls configurations and held
//! behind an `ArcSwap` so that `reload` swaps them for new connections (open ones keep theirs).

use std::sync::Arc;

use arc_swap::ArcSwap;
use praetor_config::TlsSection;
use rustls::{ClientConfig, ServerConfig};
use rustls_pki_types::CertificateDer;

use crate::error::TlsError;
use crate::material::Material;
use crate::verify::{ClientAuth, client_config, server_config};
use crate::{ALPN_GOSSIP, ALPN_GRPC};

/// What an outgoing connection carries (selects the client configuration's ALPN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proto {
    Grpc,
    Gossip,
}

impl Proto {
    /// The ALPN protocol ID that selects it.
    pub(crate) fn alpn(self) -> &'static [u8] {
        match self {
            Proto::Grpc => ALPN_GRPC,
            Proto::Gossip => ALPN_GOSSIP,
        }
    }

    /// The protocol a negotiated ALPN ID selects.
    pub(crate) fn from_alpn(id: &[u8]) -> Option<Proto> {
        [Proto::Grpc, Proto::Gossip]
            .into_iter()
            .find(|p| p.alpn() == id)
    }
}

/// One loaded generation of the material.
pub(crate) struct Built {
    pub section: TlsSection,
    pub server: Arc<ServerConfig>,
    /// `None` unless `verify_outgoing`: outgoing connections are then plaintext.
    pub client_grpc: Option<Arc<ClientConfig>>,
    pub client_gossip: Option<Arc<ClientConfig>>,
    /// The agent's own certificate (leaf).
    pub leaf: CertificateDer<'static>,
}

struct Inner {
    /// Without a trailing dot.
    domain: String,
    current: ArcSwap<Built>,
}

/// TLS for the RPC port (server and client side). Cheap to clone; clones share reloads.
#[derive(Clone)]
pub struct RpcTls {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RpcTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcTls")
            .field("domain", &self.inner.domain)
            .field("section", &self.inner.current.load().section)
            .finish()
    }
}

fn build(section: &TlsSection) -> Result<Option<Built>, TlsError> {
    let material = Material::load(section)?;
    let Some((chain, key)) = material.identity else {
        if section.verify_incoming {
            return Err(TlsError::VerifyIncomingNoCert);
        }
        if section.verify_outgoing || section.verify_server_hostname {
            return Err(TlsError::VerifyOutgoingNoCert);
        }
        return Ok(None);
    };
    let leaf = chain
        .first()
        .cloned()
        .ok_or_else(|| TlsError::KeyPair("no certificate in cert_file".into()))?;
    let roots = material.roots.as_ref();
    if section.verify_incoming && roots.is_none() {
        return Err(TlsError::VerifyIncomingNoCa);
    }
    let auth = if section.verify_incoming {
        ClientAuth::Required
    } else {
        ClientAuth::Optional
    };
    let min = section.tls_min_version;
    let server = server_config(
        min,
        roots,
        auth,
        chain.clone(),
        key.clone_key(),
        &[Proto::Grpc.alpn(), Proto::Gossip.alpn()],
    )?;
    let outgoing = section.verify_outgoing || section.verify_server_hostname;
    let (client_grpc, client_gossip) = if outgoing {
        let roots = roots.ok_or(TlsError::VerifyOutgoingNoCa)?;
        let vsh = section.verify_server_hostname;
        (
            Some(client_config(
                min,
                roots,
                vsh,
                chain.clone(),
                key.clone_key(),
                Proto::Grpc.alpn(),
            )?),
            Some(client_config(
                min,
                roots,
                vsh,
                chain,
                key,
                Proto::Gossip.alpn(),
            )?),
        )
    } else {
        (None, None)
    };
    Ok(Some(Built {
        section: section.clone(),
        server,
        client_grpc,
        client_gossip,
        leaf,
    }))
}

impl RpcTls {
    /// Loads the section's files. `Ok(None)` when the section has no certificate and key (TLS
    /// off); an error when it asks for verification without the material for it.
    /// `domain` (`consul` or `consul.`) makes the server names `server.<dc>.<domain>`.
    pub fn load(section: &TlsSection, domain: &str) -> Result<Option<RpcTls>, TlsError> {
        let Some(built) = build(section)? else {
            return Ok(None);
        };
        Ok(Some(RpcTls {
            inner: Arc::new(Inner {
                domain: domain.trim_end_matches('.').to_string(),
                current: ArcSwap::from_pointee(built),
            }),
        }))
    }

    /// Re-reads the files (and flags) of `section`; new connections use the result, open ones
    /// keep theirs. On any error the previous material stays in use. TLS cannot be turned off
    /// this way (a section without certificate and key is an error).
    pub fn reload(&self, section: &TlsSection) -> Result<(), TlsError> {
        let built = build(section)?.ok_or(TlsError::ReloadWithoutCert)?;
        self.inner.current.store(Arc::new(built));
        tracing::info!("Reloaded TLS material for the RPC port");
        Ok(())
    }

    /// The domain, without a trailing dot.
    pub fn domain(&self) -> &str {
        &self.inner.domain
    }

    /// `server.<dc>.<domain>` for the given datacenter.
    pub fn server_name(&self, datacenter: &str) -> String {
        crate::server_name(datacenter, &self.inner.domain)
    }

    /// Plaintext is refused and client certificates are required.
    pub fn verify_incoming(&self) -> bool {
        self.inner.current.load().section.verify_incoming
    }

    /// Outgoing connections use TLS (and verify the server's chain).
    pub fn verify_outgoing(&self) -> bool {
        let built = self.inner.current.load();
        built.section.verify_outgoing || built.section.verify_server_hostname
    }

    /// Servers must present a certificate for `server.<dc>.<domain>`.
    pub fn verify_server_hostname(&self) -> bool {
        self.inner.current.load().section.verify_server_hostname
    }

    /// The agent's current certificate (DER), e.g. to report or compare after a reload.
    pub fn certificate_der(&self) -> Vec<u8> {
        self.inner.current.load().leaf.as_ref().to_vec()
    }

    pub(crate) fn snapshot(&self) -> Arc<Built> {
        self.inner.current.load_full()
    }

    /// The client configuration for the next outgoing connection, `None` when outgoing TLS is off.
    pub(crate) fn client_config(&self, proto: Proto) -> Option<Arc<ClientConfig>> {
        let built = self.inner.current.load();
        match proto {
            Proto::Grpc => built.client_grpc.clone(),
            Proto::Gossip => built.client_gossip.clone(),
        }
    }
}
