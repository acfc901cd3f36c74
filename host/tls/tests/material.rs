//! Loading TLS material: when TLS is off, Consul's errors for missing material, bad files, CA
//! bundles and directories, and the HTTPS acceptor.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use common::{DEADLINE, DOMAIN, Pki};
use praetor_config::TlsSection;
use praetor_tls::certgen::{CaOptions, CertKind, generate_ca};
use praetor_tls::{ALPN_GRPC, HttpsTls, PeerInfo, RpcTls};
use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn err(section: &TlsSection) -> String {
    RpcTls::load(section, DOMAIN)
        .expect_err("refused")
        .to_string()
}

#[test]
fn no_certificate_means_tls_off_unless_verification_is_asked_for() {
    let pki = Pki::new();
    let ca_only = TlsSection {
        ca_file: Some(pki.ca_file.clone()),
        ..TlsSection::default()
    };
    assert!(RpcTls::load(&ca_only, DOMAIN).expect("ok").is_none());
    assert!(
        RpcTls::load(&TlsSection::default(), DOMAIN)
            .expect("ok")
            .is_none()
    );
    assert!(
        HttpsTls::load(&TlsSection::default())
            .expect("ok")
            .is_none()
    );

    let vo = TlsSection {
        verify_outgoing: true,
        ..ca_only.clone()
    };
    assert!(err(&vo).starts_with("VerifyOutgoing requires a Cert and Key pair"));
    let vi = TlsSection {
        verify_incoming: true,
        ..ca_only
    };
    assert!(err(&vi).starts_with("VerifyIncoming requires either a Cert and Key pair"));
}

#[test]
fn verification_without_a_ca_is_refused() {
    let pki = Pki::new();
    let mut s = pki.section(CertKind::Server, "dc1", true, false, false);
    s.ca_file = None;
    assert_eq!(
        err(&s),
        "VerifyIncoming set but no CA certificates were provided"
    );
    s.verify_incoming = false;
    s.verify_outgoing = true;
    assert_eq!(
        err(&s),
        "VerifyOutgoing set but no CA certificates were provided"
    );
    s.verify_outgoing = false;
    let tls = RpcTls::load(&s, DOMAIN).expect("ok").expect("on");
    assert!(!tls.verify_outgoing() && !tls.verify_incoming());
    assert_eq!(tls.server_name("dc2"), "server.dc2.consul");
}

#[test]
fn bad_files_name_the_file() {
    let pki = Pki::new();
    let mut s = pki.section(CertKind::Server, "dc1", false, false, false);
    let garbage = pki.dir.write("garbage.pem", "not pem at all");
    s.cert_file = Some(garbage.clone());
    let e = err(&s);
    assert!(e.contains("garbage.pem"), "{e}");
    let mut s = pki.section(CertKind::Server, "dc1", false, false, false);
    s.ca_file = Some(pki.dir.path().join("missing-ca.pem"));
    assert!(err(&s).starts_with(&format!(
        "Error loading from {}",
        pki.dir.path().join("missing-ca.pem").display()
    )));
    let mut s = pki.section(CertKind::Server, "dc1", false, false, false);
    s.key_file = Some(garbage);
    assert!(err(&s).contains("no private key found"));
    let mut s = pki.section(CertKind::Server, "dc1", false, false, false);
    s.key_file = None;
    assert_eq!(err(&s), "cert_file and key_file must be set together");
    let empty = common::TempDir::new();
    let mut s = pki.section(CertKind::Server, "dc1", true, false, false);
    s.ca_file = None;
    s.ca_path = Some(empty.path().to_path_buf());
    assert_eq!(err(&s), "Error loading from CAPath: no CAs found");
}

#[tokio::test]
async fn ca_bundles_and_directories_trust_every_ca_in_them() {
    // Rotation: the server's certificate comes from a new CA, the dialer trusts old + new.
    let old = Pki::new();
    let new = Pki::new();
    let server = common::start(
        Some(new.rpc_tls(CertKind::Server, "dc1", false, false, false)),
        Default::default(),
    )
    .await;

    let bundle = old.dir.write(
        "bundle.pem",
        &(std::fs::read_to_string(&old.ca_file).expect("old")
            + &std::fs::read_to_string(&new.ca_file).expect("new")),
    );
    // The dialer's own certificate is from the new CA (the server verifies presented ones).
    let mut by_file = new.section(CertKind::Server, "dc1", false, true, true);
    by_file.ca_file = Some(bundle);
    let tls = RpcTls::load(&by_file, DOMAIN).expect("load").expect("on");
    common::call(Some(&tls), server.addr, "dc1", "bundle")
        .await
        .expect("bundle trusts the new CA");

    let dir = common::TempDir::new();
    std::fs::create_dir_all(dir.path().join("nested")).expect("mkdir");
    std::fs::copy(&old.ca_file, dir.path().join("a.pem")).expect("copy");
    std::fs::copy(&new.ca_file, dir.path().join("nested").join("b.crt")).expect("copy");
    let mut by_dir = new.section(CertKind::Server, "dc1", false, true, true);
    by_dir.ca_file = None;
    by_dir.ca_path = Some(dir.path().to_path_buf());
    let tls = RpcTls::load(&by_dir, DOMAIN).expect("load").expect("on");
    common::call(Some(&tls), server.addr, "dc1", "dir")
        .await
        .expect("ca_path trusts the new CA");

    let mut only_old = new.section(CertKind::Server, "dc1", false, true, true);
    only_old.ca_file = Some(old.ca_file.clone());
    let only_old = RpcTls::load(&only_old, DOMAIN).expect("load").expect("on");
    common::call(Some(&only_old), server.addr, "dc1", "x")
        .await
        .expect_err("old CA alone does not");
}

#[test]
fn peer_rule_without_local_tls_and_for_plaintext_peers() {
    let remote: SocketAddr = "127.0.9.9:1".parse().expect("addr");
    let off = PeerInfo {
        remote,
        tls: false,
        cert_der: None,
        local_tls: false,
    };
    assert!(off.is_server_of("dc1", DOMAIN) && off.is_any_server(DOMAIN));
    let plaintext_while_on = PeerInfo {
        local_tls: true,
        ..off.clone()
    };
    assert!(!plaintext_while_on.is_server_of("dc1", DOMAIN));
    let garbage_cert = PeerInfo {
        tls: true,
        cert_der: Some(Arc::from(&b"junk"[..])),
        local_tls: true,
        remote,
    };
    assert!(!garbage_cert.is_server_of("dc1", DOMAIN) && !garbage_cert.is_any_server(DOMAIN));
    assert!(garbage_cert.dns_names().is_empty());
}

async fn https_client(
    pki: &Pki,
    addr: SocketAddr,
    client_cert: bool,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&pki.ca_file)?;
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots
            .add(cert.map_err(std::io::Error::other)?)
            .map_err(std::io::Error::other)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_root_certificates(roots);
    let mut config = if client_cert {
        let (cert, key) = pki.issue(CertKind::Client, "dc1");
        let chain = rustls_pki_types::CertificateDer::pem_file_iter(cert)
            .map_err(std::io::Error::other)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(std::io::Error::other)?;
        let key =
            rustls_pki_types::PrivateKeyDer::from_pem_file(key).map_err(std::io::Error::other)?;
        builder
            .with_client_auth_cert(chain, key)
            .map_err(std::io::Error::other)?
    } else {
        builder.with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name =
        rustls_pki_types::ServerName::try_from("localhost").map_err(std::io::Error::other)?;
    let mut stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await?;
    // A round trip proves the server accepted us (TLS 1.3 reports client-cert refusals late).
    stream.write_all(b"ping").await?;
    let mut buf = [0u8; 4];
    stream.read_exact(&mut buf).await?;
    Ok(stream)
}

#[tokio::test]
async fn https_acceptor_negotiates_http_and_enforces_verify_incoming() {
    for verify_incoming in [false, true] {
        let pki = Pki::new();
        let https: HttpsTls =
            HttpsTls::load(&pki.section(CertKind::Server, "dc1", verify_incoming, false, false))
                .expect("load")
                .expect("on");
        let listener = tokio::net::TcpListener::bind("127.0.9.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let acceptor = https.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.acceptor();
                tokio::spawn(async move {
                    if let Ok(mut tls) = acceptor.accept(tcp).await {
                        let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
                        let mut buf = [0u8; 4];
                        if tls.read_exact(&mut buf).await.is_ok()
                            && alpn.as_deref() == Some(&b"http/1.1"[..])
                        {
                            let _ = tls.write_all(b"pong").await;
                        }
                    }
                });
            }
        });
        let with_cert = tokio::time::timeout(DEADLINE, https_client(&pki, addr, true))
            .await
            .expect("in time");
        assert!(
            with_cert.is_ok(),
            "client certificate accepted: {with_cert:?}"
        );
        let without = tokio::time::timeout(DEADLINE, https_client(&pki, addr, false))
            .await
            .expect("in time");
        assert_eq!(
            without.is_ok(),
            !verify_incoming,
            "verify_incoming={verify_incoming}"
        );
    }
    assert_eq!(praetor_tls::ALPN_HTTPS[0], ALPN_GRPC);
}

#[test]
fn generated_ca_is_usable_as_a_root() {
    let ca = generate_ca(&CaOptions::default()).expect("ca");
    let der =
        rustls_pki_types::CertificateDer::from_pem_slice(ca.cert_pem.as_bytes()).expect("pem");
    let mut store = rustls::RootCertStore::empty();
    store.add(der).expect("a valid trust anchor");
}
