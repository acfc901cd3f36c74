//! `HttpsTls`: the HTTPS API's server configuration (`tls.https`; ALPN `h2`, `http/1.1`),
//! reloadable like `RpcTls`. The agent accepts TCP itself and calls `acceptor().accept(tcp)`.

use std::sync::Arc;

use arc_swap::ArcSwap;
use praetor_config::TlsSection;
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::ALPN_HTTPS;
use crate::error::TlsError;
use crate::material::Material;
use crate::verify::{ClientAuth, server_config};

/// TLS for the HTTPS API. Cheap to clone; clones share reloads.
#[derive(Clone)]
pub struct HttpsTls {
    current: Arc<ArcSwap<ServerConfig>>,
}

impl std::fmt::Debug for HttpsTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpsTls").finish_non_exhaustive()
    }
}

fn build(section: &TlsSection) -> Result<Option<Arc<ServerConfig>>, TlsError> {
    let material = Material::load(section)?;
    let Some((chain, key)) = material.identity else {
        if section.verify_incoming {
            return Err(TlsError::VerifyIncomingNoCert);
        }
        return Ok(None);
    };
    let auth = if section.verify_incoming {
        ClientAuth::Required
    } else {
        ClientAuth::Optional
    };
    server_config(
        section.tls_min_version,
        material.roots.as_ref(),
        auth,
        chain,
        key,
        &ALPN_HTTPS,
    )
    .map(Some)
}

impl HttpsTls {
    /// Loads `tls.https`; `Ok(None)` without a certificate and key. With `verify_incoming`,
    /// clients must present a certificate from the CAs; otherwise one is optional (verified if
    /// presented, when CAs are configured).
    pub fn load(section: &TlsSection) -> Result<Option<HttpsTls>, TlsError> {
        Ok(build(section)?.map(|config| HttpsTls {
            current: Arc::new(ArcSwap::new(config)),
        }))
    }

    /// Re-reads the section; on error the previous configuration stays.
    pub fn reload(&self, section: &TlsSection) -> Result<(), TlsError> {
        let config = build(section)?.ok_or(TlsError::ReloadWithoutCert)?;
        self.current.store(config);
        Ok(())
    }

    /// An acceptor with the current configuration (take one per connection to see reloads).
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.load_full())
    }
}
