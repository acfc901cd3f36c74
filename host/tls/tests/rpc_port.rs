//! The multiplexed RPC port end to end on loopback: gRPC and gossip on one port with and without
//! TLS, Consul's verification rules, reload, timeouts, and the per-client limit.

mod common;

use std::time::{Duration, Instant};

use common::{DEADLINE, DOMAIN, Pki, call, closed_within, start, start_on};
use praetor_tls::certgen::CertKind;
use praetor_tls::{MuxLimits, RpcTls, dial_gossip};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const TIMEOUT: Duration = Duration::from_secs(5);

/// Writes `msg` on `a`, reads it on `b`.
async fn pass<A, B>(a: &mut A, b: &mut B, msg: &[u8])
where
    A: tokio::io::AsyncWrite + Unpin,
    B: tokio::io::AsyncRead + Unpin,
{
    a.write_all(msg).await.expect("write");
    a.flush().await.expect("flush");
    let mut buf = vec![0u8; msg.len()];
    tokio::time::timeout(DEADLINE, b.read_exact(&mut buf))
        .await
        .expect("in time")
        .expect("read");
    assert_eq!(buf, msg);
}

/// A bare rustls client trusting the PKI's CA, without a client certificate.
fn client_config(pki: &Pki, alpn: &[u8]) -> std::sync::Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&pki.ca_file).expect("ca");
    for cert in rustls_pki_types::pem::PemObject::pem_slice_iter(&pem) {
        roots.add(cert.expect("pem")).expect("add");
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    if !alpn.is_empty() {
        config.alpn_protocols = vec![alpn.to_vec()];
    }
    std::sync::Arc::new(config)
}

#[tokio::test]
async fn plaintext_grpc_and_gossip_share_the_port() {
    let mut server = start(None, MuxLimits::default()).await;
    let reply = call(None, server.addr, "dc1", "hello").await.expect("call");
    assert_eq!(
        reply, "hello|tls=false|server_dc1=true|any_server=true",
        "TLS off entirely: every peer counts as a server"
    );

    let mut client = dial_gossip(None, server.addr, "dc1", TIMEOUT)
        .await
        .expect("dial");
    let (peer, mut conn) = tokio::time::timeout(DEADLINE, server.gossip.recv())
        .await
        .expect("in time")
        .expect("gossip conn");
    assert!(!peer.tls && peer.cert_der.is_none());
    assert_eq!(conn.peer().remote, peer.remote);
    pass(&mut client, &mut conn, b"ping").await;
    pass(&mut conn, &mut client, b"pong").await;
}

#[tokio::test]
async fn tls_grpc_and_gossip_with_server_identities() {
    let pki = Pki::new();
    let server_tls = pki.rpc_tls(CertKind::Server, "dc1", true, true, true);
    let mut server = start(Some(server_tls), MuxLimits::default()).await;
    let client_tls = pki.rpc_tls(CertKind::Server, "dc1", true, true, true);

    let reply = call(Some(&client_tls), server.addr, "dc1", "hi")
        .await
        .expect("call");
    assert_eq!(reply, "hi|tls=true|server_dc1=true|any_server=true");

    let mut client = dial_gossip(Some(&client_tls), server.addr, "dc1", TIMEOUT)
        .await
        .expect("dial");
    assert!(client.peer().tls);
    assert!(client.peer().is_server_of("dc1", DOMAIN));
    let (peer, mut conn) = tokio::time::timeout(DEADLINE, server.gossip.recv())
        .await
        .expect("in time")
        .expect("gossip conn");
    assert!(peer.tls);
    assert!(peer.is_server_of("dc1", DOMAIN));
    assert!(!peer.is_server_of("dc2", DOMAIN));
    assert_eq!(peer.server_datacenters("consul"), ["dc1"]);
    pass(&mut client, &mut conn, b"over tls").await;
    pass(&mut conn, &mut client, b"and back").await;
}

#[tokio::test]
async fn verify_server_hostname_refuses_clients_and_other_datacenters_as_servers() {
    let pki = Pki::new();
    let dialer = pki.rpc_tls(CertKind::Server, "dc1", true, true, true);

    // Outgoing: the dialer accepts only a certificate for server.dc1.consul.
    for (kind, dc) in [(CertKind::Client, "dc1"), (CertKind::Server, "dc2")] {
        let impostor = pki.rpc_tls(kind, dc, false, false, false);
        let server = start(Some(impostor), MuxLimits::default()).await;
        let err = call(Some(&dialer), server.addr, "dc1", "x")
            .await
            .expect_err("impostor refused");
        assert!(!err.contains("server_dc1"), "{err}");
        let err = dial_gossip(Some(&dialer), server.addr, "dc1", TIMEOUT)
            .await
            .expect_err("impostor refused");
        assert!(err.to_string().contains("not valid for name"), "{err}");
    }

    // Incoming: a client certificate or a dc2 server certificate gets through TLS (same CA)
    // but does not count as a server of dc1.
    let server = start(
        Some(pki.rpc_tls(CertKind::Server, "dc1", true, true, true)),
        MuxLimits::default(),
    )
    .await;
    let client = pki.rpc_tls(CertKind::Client, "dc1", false, true, false);
    let reply = call(Some(&client), server.addr, "dc1", "c")
        .await
        .expect("call");
    assert_eq!(reply, "c|tls=true|server_dc1=false|any_server=false");
    let other_dc = pki.rpc_tls(CertKind::Server, "dc2", false, true, false);
    let reply = call(Some(&other_dc), server.addr, "dc1", "o")
        .await
        .expect("call");
    assert_eq!(reply, "o|tls=true|server_dc1=false|any_server=true");

    // Without verify_server_hostname the chain is still checked, the name is not.
    let chain_only = pki.rpc_tls(CertKind::Server, "dc1", false, true, false);
    let impostor = start(
        Some(pki.rpc_tls(CertKind::Client, "dc1", false, false, false)),
        MuxLimits::default(),
    )
    .await;
    call(Some(&chain_only), impostor.addr, "dc1", "x")
        .await
        .expect("chain-only verification accepts any cert of the CA");
}

#[tokio::test]
async fn verify_incoming_refuses_plaintext_and_foreign_certificates() {
    let pki = Pki::new();
    let server = start(
        Some(pki.rpc_tls(CertKind::Server, "dc1", true, true, true)),
        MuxLimits::default(),
    )
    .await;

    // Plaintext gRPC and gossip.
    call(None, server.addr, "dc1", "x")
        .await
        .expect_err("plaintext gRPC refused");
    let mut gossip = dial_gossip(None, server.addr, "dc1", TIMEOUT)
        .await
        .expect("tcp");
    let mut buf = [0u8; 1];
    let n = tokio::time::timeout(DEADLINE, gossip.read(&mut buf))
        .await
        .expect("closed in time");
    assert!(matches!(n, Ok(0) | Err(_)), "plaintext gossip closed");

    // A certificate from another CA.
    let foreign = Pki::new();
    let stranger = foreign.rpc_tls(CertKind::Server, "dc1", false, true, false);
    call(Some(&stranger), server.addr, "dc1", "x")
        .await
        .expect_err("foreign client cert refused");

    // With verify_incoming off: plaintext is served, TLS without a client certificate too, but a
    // certificate that is presented must still chain to the CA.
    let lenient = start(
        Some(pki.rpc_tls(CertKind::Server, "dc1", false, false, false)),
        MuxLimits::default(),
    )
    .await;
    let reply = call(None, lenient.addr, "dc1", "p")
        .await
        .expect("plaintext allowed");
    assert_eq!(
        reply, "p|tls=false|server_dc1=false|any_server=false",
        "plaintext is no server while TLS is on"
    );
    let foreign_trusting_pki = {
        // A dialer with a cert from the foreign CA that trusts our CA: the handshake reaches
        // the server's verification of the client chain, which fails.
        let mut s = foreign.section(CertKind::Server, "dc1", false, true, false);
        s.ca_file = Some(pki.ca_file.clone());
        RpcTls::load(&s, DOMAIN).expect("load").expect("on")
    };
    call(Some(&foreign_trusting_pki), lenient.addr, "dc1", "x")
        .await
        .expect_err("presented foreign certificate refused");
}

#[tokio::test]
async fn reload_swaps_the_certificate_and_a_bad_reload_keeps_the_old_one() {
    let pki = Pki::new();
    let first = pki.section(CertKind::Server, "dc1", true, true, true);
    let server_tls = RpcTls::load(&first, DOMAIN).expect("load").expect("on");
    let mut server = start(Some(server_tls.clone()), MuxLimits::default()).await;
    let dialer = pki.rpc_tls(CertKind::Server, "dc1", true, true, true);

    let mut old = dial_gossip(Some(&dialer), server.addr, "dc1", TIMEOUT)
        .await
        .expect("dial");
    let (_, mut old_server_side) = server.gossip.recv().await.expect("conn");
    let before = old.peer().cert_der.clone().expect("cert");
    assert_eq!(&before[..], &server_tls.certificate_der()[..]);

    let second = pki.section(CertKind::Server, "dc1", true, true, true);
    server_tls.reload(&second).expect("reload");
    let new = dial_gossip(Some(&dialer), server.addr, "dc1", TIMEOUT)
        .await
        .expect("dial");
    let after = new.peer().cert_der.clone().expect("cert");
    assert_ne!(before, after, "a new connection sees the new certificate");
    assert_eq!(&after[..], &server_tls.certificate_der()[..]);
    pass(
        &mut old,
        &mut old_server_side,
        b"old connection still works",
    )
    .await;

    // Broken reloads: a missing key file, and a key that does not match the certificate.
    let mut missing = second.clone();
    missing.key_file = Some(pki.dir.path().join("nope.pem"));
    let err = server_tls.reload(&missing).expect_err("missing file");
    assert!(err.to_string().starts_with("Error loading from "), "{err}");
    let third = pki.section(CertKind::Server, "dc1", true, true, true);
    let mut mismatched = second.clone();
    mismatched.key_file = third.key_file.clone();
    let err = server_tls.reload(&mismatched).expect_err("mismatch");
    assert!(
        err.to_string().starts_with("Failed to load cert/key pair"),
        "{err}"
    );
    let mut off = second.clone();
    off.cert_file = None;
    off.key_file = None;
    server_tls
        .reload(&off)
        .expect_err("TLS cannot be turned off");
    let still = dial_gossip(Some(&dialer), server.addr, "dc1", TIMEOUT)
        .await
        .expect("dial");
    assert_eq!(
        still.peer().cert_der.clone().expect("cert"),
        after,
        "old material kept"
    );
}

#[tokio::test]
async fn garbage_and_silent_connections_are_closed_without_blocking_others() {
    let pki = Pki::new();
    let limits = MuxLimits {
        handshake_timeout: Duration::from_millis(400),
        max_conns_per_client: 100,
    };
    let server_tls = pki.rpc_tls(CertKind::Server, "dc1", false, true, true);
    let server = start(Some(server_tls), limits).await;
    let dialer = pki.rpc_tls(CertKind::Server, "dc1", true, true, true);

    let started = Instant::now();
    let mut silent = TcpStream::connect(server.addr).await.expect("connect");
    let mut half_tls = TcpStream::connect(server.addr).await.expect("connect");
    half_tls
        .write_all(&[0x16, 0x03, 0x01])
        .await
        .expect("write");
    let mut half_preface = TcpStream::connect(server.addr).await.expect("connect");
    half_preface.write_all(b"PRI * HTTP").await.expect("write");
    // TLS done with ALPN h2, then silence: the HTTP/2 preface is awaited under the deadline.
    let mut tls_silent = {
        let tcp = TcpStream::connect(server.addr).await.expect("connect");
        let config = client_config(&pki, b"h2");
        let name = rustls_pki_types::ServerName::try_from("server.dc1.consul").expect("name");
        tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .expect("handshake")
    };
    let mut garbage = TcpStream::connect(server.addr).await.expect("connect");
    garbage
        .write_all(b"GET / HTTP/1.1\r\n\r\n")
        .await
        .expect("write");

    // Served while the stalled ones are pending.
    let reply = call(Some(&dialer), server.addr, "dc1", "meanwhile")
        .await
        .expect("call");
    assert!(reply.starts_with("meanwhile|tls=true"));
    let reply = call(None, server.addr, "dc1", "plain").await.expect("call");
    assert!(reply.starts_with("plain|tls=false"));

    assert!(
        closed_within(&mut garbage, DEADLINE).await,
        "garbage closed"
    );
    for stalled in [&mut silent, &mut half_tls, &mut half_preface] {
        assert!(
            closed_within(stalled, DEADLINE).await,
            "stalled connection closed"
        );
    }
    let mut buf = [0u8; 1];
    let n = tokio::time::timeout(DEADLINE, tls_silent.read(&mut buf))
        .await
        .expect("silent TLS connection closed in time");
    assert!(matches!(n, Ok(0) | Err(_)));
    assert!(
        started.elapsed() >= limits.handshake_timeout,
        "closed by the deadline, not before"
    );
}

#[tokio::test]
async fn connections_per_client_ip_are_limited() {
    let limits = MuxLimits {
        handshake_timeout: Duration::from_secs(5),
        max_conns_per_client: 2,
    };
    let mut server = start_on("127.0.9.1", None, limits).await;
    let from = |ip: &str| {
        let socket = TcpSocket::new_v4().expect("socket");
        socket
            .bind(format!("{ip}:0").parse().expect("addr"))
            .expect("bind");
        socket
    };
    let open_gossip = |ip: &'static str| {
        let addr = server.addr;
        async move {
            let mut s = from(ip).connect(addr).await.expect("connect");
            s.write_all(&[praetor_tls::GOSSIP_MAGIC])
                .await
                .expect("write");
            s
        }
    };

    let _a1 = open_gossip("127.0.9.2").await;
    let _a2 = open_gossip("127.0.9.2").await;
    let (_, held1) = server.gossip.recv().await.expect("1st");
    let (_, _held2) = server.gossip.recv().await.expect("2nd");

    let mut over = open_gossip("127.0.9.2").await;
    assert!(
        closed_within(&mut over, DEADLINE).await,
        "3rd connection from the same IP closed"
    );

    let _b = open_gossip("127.0.9.3").await;
    let (peer, _held3) = tokio::time::timeout(DEADLINE, server.gossip.recv())
        .await
        .expect("other IP served")
        .expect("conn");
    assert_eq!(peer.remote.ip().to_string(), "127.0.9.3");

    drop(held1);
    let _a3 = open_gossip("127.0.9.2").await;
    let (peer, _held4) = tokio::time::timeout(DEADLINE, server.gossip.recv())
        .await
        .expect("a freed slot is reused")
        .expect("conn");
    assert_eq!(peer.remote.ip().to_string(), "127.0.9.2");
}

#[tokio::test]
async fn unknown_alpn_is_discarded() {
    let pki = Pki::new();
    let server = start(
        Some(pki.rpc_tls(CertKind::Server, "dc1", false, false, false)),
        MuxLimits::default(),
    )
    .await;
    let name = rustls_pki_types::ServerName::try_from("server.dc1.consul").expect("name");
    // Offers only an ALPN the server does not speak: the handshake fails.
    let tcp = TcpStream::connect(server.addr).await.expect("tcp");
    let res = tokio_rustls::TlsConnector::from(client_config(&pki, b"consul/rpc-multi"))
        .connect(name.clone(), tcp)
        .await;
    assert!(res.is_err(), "no common ALPN protocol");
    // Offers no ALPN at all: the handshake completes, then the server closes the connection.
    let tcp = TcpStream::connect(server.addr).await.expect("tcp");
    let mut tls = tokio_rustls::TlsConnector::from(client_config(&pki, b""))
        .connect(name, tcp)
        .await
        .expect("handshake");
    let mut buf = [0u8; 1];
    let n = tokio::time::timeout(DEADLINE, tls.read(&mut buf))
        .await
        .expect("closed in time");
    assert!(matches!(n, Ok(0) | Err(_)));
}
