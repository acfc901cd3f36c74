//! DNS packets come from anyone: mutated queries (seeded with real ones for every name form
//! the server answers) never stop the server, and it still answers a valid query afterwards
//! (see `praetor_fuzz`). Each mutated packet's answer, if any, must parse as DNS.

mod support;

use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use support::{catalog, config, query_bytes, start, udp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_dns_packets() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    let seeds: Vec<Vec<u8>> = [
        ("web.service.consul.", RecordType::A, Some(4096)),
        ("_web._tcp.service.consul.", RecordType::SRV, None),
        ("v1.web.service.dc2.consul.", RecordType::AAAA, Some(1232)),
        ("node1.node.consul.", RecordType::TXT, None),
        ("1.0.0.127.in-addr.arpa.", RecordType::PTR, None),
        ("q.query.consul.", RecordType::ANY, Some(512)),
        ("web.connect.consul.", RecordType::SRV, Some(4096)),
    ]
    .into_iter()
    .map(|(name, t, edns)| query_bytes(name, t, edns))
    .collect();
    let ran = tokio::task::spawn_blocking(move || {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("socket");
        sock.set_read_timeout(Some(Duration::from_millis(20)))
            .expect("timeout");
        let seeds: Vec<&[u8]> = seeds.iter().map(Vec::as_slice).collect();
        let mut buf = [0u8; 65535];
        praetor_fuzz::run("dns packets", &seeds, |packet| {
            let _ = sock.send_to(packet, addr);
            // An answer, when there is one, is a DNS message.
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                assert!(
                    Message::from_vec(&buf[..n]).is_ok(),
                    "the server sent something that is not DNS"
                );
            }
        })
    })
    .await
    .expect("fuzz thread");
    assert!(ran > 0);
    let (msg, _) = udp(addr, "web.service.consul.", RecordType::A, None).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    assert!(!msg.answers.is_empty(), "the server still answers");
    drop(server);
}
