//! Consul's verification rules as rustls configurations: the ring provider, the server side
//! (client certificates required with `verify_incoming`, else optional but verified when
//! presented), and the client side (`verify_server_hostname`: the server's certificate must be
//! valid for the SNI name `server.<dc>.<domain>`; otherwise chain-only verification).

use std::sync::{Arc, OnceLock};

use praetor_config::TlsVersion;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_cert_signed_by_trust_anchor};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme,
    SupportedProtocolVersion,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::error::TlsError;

/// The one crypto provider: ring.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The protocol versions offered and accepted with `tls_min_version = min`.
pub(crate) fn protocol_versions(min: TlsVersion) -> &'static [&'static SupportedProtocolVersion] {
    static TLS13_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
    static TLS12_AND_13: &[&SupportedProtocolVersion] =
        &[&rustls::version::TLS13, &rustls::version::TLS12];
    match min {
        TlsVersion::Tls12 => TLS12_AND_13,
        TlsVersion::Tls13 => TLS13_ONLY,
    }
}

fn config_error(e: impl std::fmt::Display) -> TlsError {
    TlsError::Config(e.to_string())
}

/// Who may connect to a TLS listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    /// A certificate chaining to the roots is required (`verify_incoming`).
    Required,
    /// A certificate is optional; one that is presented must chain to the roots.
    Optional,
}

/// A server configuration: the agent's chain and key, client verification, ALPN, and the
/// protocol versions from `min` up.
pub(crate) fn server_config(
    min: TlsVersion,
    roots: Option<&Arc<RootCertStore>>,
    auth: ClientAuth,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, TlsError> {
    let verifier = match (roots, auth) {
        (Some(roots), ClientAuth::Required) => {
            WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
                .build()
                .map_err(config_error)?
        }
        (Some(roots), ClientAuth::Optional) => {
            WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
                .allow_unauthenticated()
                .build()
                .map_err(config_error)?
        }
        (None, ClientAuth::Required) => return Err(TlsError::VerifyIncomingNoCa),
        // No CA: client certificates cannot be verified, so none is asked for.
        (None, ClientAuth::Optional) => WebPkiClientVerifier::no_client_auth(),
    };
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(protocol_versions(min))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::KeyPair(e.to_string()))?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A client configuration presenting the agent's chain, with one ALPN protocol and the
/// protocol versions from `min` up.
pub(crate) fn client_config(
    min: TlsVersion,
    roots: &Arc<RootCertStore>,
    verify_server_hostname: bool,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    alpn: &[u8],
) -> Result<Arc<ClientConfig>, TlsError> {
    let verifier: Arc<dyn ServerCertVerifier> = if verify_server_hostname {
        WebPkiServerVerifier::builder_with_provider(roots.clone(), provider())
            .build()
            .map_err(config_error)?
    } else {
        Arc::new(ChainOnlyVerifier {
            roots: roots.clone(),
            algorithms: provider().signature_verification_algorithms,
        })
    };
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(protocol_versions(min))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(chain, key)
        .map_err(|e| TlsError::KeyPair(e.to_string()))?;
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(Arc::new(config))
}

/// Verifies the server's chain (signatures, validity, server-auth usage) against the roots and
/// checks no name: Consul's `verify_outgoing` without `verify_server_hostname`. Built on
/// rustls' chain-only helper rather than by swallowing `NotValidForName` from the stock
/// verifier, so no check is skipped by accident.
#[derive(Debug)]
struct ChainOnlyVerifier {
    roots: Arc<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.algorithms.all,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certgen::{CaOptions, CertKind, CertOptions, generate_ca, generate_cert};
    use rustls::{ClientConnection, Connection, ProtocolVersion, ServerConnection};
    use rustls_pki_types::pem::PemObject;

    /// A server certificate for `server.dc1.consul` and the roots that trust it.
    fn identity() -> (
        Arc<RootCertStore>,
        Vec<CertificateDer<'static>>,
        PrivateKeyDer<'static>,
    ) {
        let ca = generate_ca(&CaOptions::default()).expect("ca");
        let cert = generate_cert(
            &ca.cert_pem,
            &ca.key_pem,
            &CertOptions::new(CertKind::Server),
        )
        .expect("cert");
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(ca.cert_pem.as_bytes()).expect("ca pem"))
            .expect("root");
        let chain = vec![CertificateDer::from_pem_slice(cert.cert_pem.as_bytes()).expect("pem")];
        let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).expect("key");
        (Arc::new(roots), chain, key)
    }

    /// A client offering exactly `versions`, verifying the server against `roots`.
    fn client(
        roots: &Arc<RootCertStore>,
        versions: &[&'static SupportedProtocolVersion],
    ) -> Arc<ClientConfig> {
        let config = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(versions)
            .expect("versions")
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        Arc::new(config)
    }

    /// Moves everything `from` has to send into `to`.
    fn transfer(from: &mut Connection, to: &mut Connection) -> Result<bool, rustls::Error> {
        let mut buf = Vec::new();
        while from.wants_write() {
            from.write_tls(&mut buf).expect("write_tls");
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            to.read_tls(&mut rd).expect("read_tls");
            to.process_new_packets()?;
        }
        Ok(!buf.is_empty())
    }

    /// An in-memory handshake; the negotiated version, or the first side's error.
    fn handshake(
        server: Arc<ServerConfig>,
        client: Arc<ClientConfig>,
    ) -> Result<ProtocolVersion, rustls::Error> {
        let name = ServerName::try_from("server.dc1.consul").expect("name");
        let mut c = Connection::from(ClientConnection::new(client, name)?);
        let mut s = Connection::from(ServerConnection::new(server)?);
        while c.is_handshaking() || s.is_handshaking() {
            let sent = transfer(&mut c, &mut s)?;
            let answered = transfer(&mut s, &mut c)?;
            assert!(sent || answered, "handshake stalled");
        }
        Ok(c.protocol_version().expect("negotiated"))
    }

    #[test]
    fn tls_min_version_limits_the_server() {
        let (roots, chain, key) = identity();
        let tls13 = server_config(
            TlsVersion::Tls13,
            None,
            ClientAuth::Optional,
            chain,
            key,
            &[],
        )
        .expect("server config");
        let tls12_only = client(&roots, &[&rustls::version::TLS12]);
        let err = handshake(tls13.clone(), tls12_only.clone()).unwrap_err();
        assert!(
            matches!(err, rustls::Error::PeerIncompatible(_)),
            "TLS 1.2-only client must be refused: {err:?}"
        );
        let any = client(&roots, rustls::DEFAULT_VERSIONS);
        assert_eq!(handshake(tls13, any), Ok(ProtocolVersion::TLSv1_3));

        // The default (TLSv1_2) still accepts a TLS 1.2-only client.
        let (roots12, chain, key) = identity();
        let tls12 = server_config(
            TlsVersion::Tls12,
            None,
            ClientAuth::Optional,
            chain,
            key,
            &[],
        )
        .expect("server config");
        let tls12_only = client(&roots12, &[&rustls::version::TLS12]);
        assert_eq!(handshake(tls12, tls12_only), Ok(ProtocolVersion::TLSv1_2));
    }

    #[test]
    fn tls_min_version_limits_the_client() {
        let (roots, chain, key) = identity();
        let client13 = client_config(
            TlsVersion::Tls13,
            &roots,
            true,
            chain.clone(),
            key.clone_key(),
            b"h2",
        )
        .expect("client config");
        // A server that speaks TLS 1.2 only.
        let server12 = Arc::new(
            ServerConfig::builder_with_provider(provider())
                .with_protocol_versions(&[&rustls::version::TLS12])
                .expect("versions")
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .expect("cert"),
        );
        assert!(handshake(server12, client13).is_err());
        assert_eq!(
            protocol_versions(TlsVersion::Tls13),
            &[&rustls::version::TLS13]
        );
        assert_eq!(protocol_versions(TlsVersion::Tls12).len(), 2);
    }
}
