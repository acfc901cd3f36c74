//! Record semantics over real UDP/TCP packets: service A/AAAA/SRV, tags, RFC 2782, node (with meta TXT), addr,
//! reverse (PTR), negative answers.

mod support;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Message, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use support::{answer_data, catalog, config, start, tcp, udp, udp_raw};

/// Asserts NXDOMAIN or NODATA shape: no answers, Consul's SOA alone in the authority section.
fn assert_negative(msg: &Message, rcode: ResponseCode) {
    assert_eq!(msg.metadata.response_code, rcode, "{msg}");
    assert!(msg.metadata.authoritative);
    assert!(msg.answers.is_empty(), "{msg}");
    assert_eq!(msg.authorities.len(), 1, "{msg}");
    let soa = &msg.authorities[0];
    assert_eq!(soa.name.to_string(), "consul.");
    let RData::SOA(s) = &soa.data else {
        panic!("authority is not a SOA: {msg}")
    };
    assert_eq!(s.mname.to_string(), "ns.consul.");
    assert_eq!(s.rname.to_string(), "hostmaster.consul.");
    assert_eq!(
        (s.refresh, s.retry, s.expire, s.minimum),
        (3600, 600, 86400, 0)
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    assert!(
        (i64::from(s.serial) - now).abs() < 120,
        "serial {} is not unix time",
        s.serial
    );
}

#[tokio::test]
async fn service_a_records() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    let (msg, _) = udp(addr, "web.service.consul.", RecordType::A, None).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    assert!(msg.metadata.authoritative);
    assert!(!msg.metadata.truncation);
    // Service address when set, else node address.
    assert_eq!(answer_data(&msg), vec!["10.0.0.1", "10.0.1.2"]);
    assert!(
        msg.answers
            .iter()
            .all(|r| r.ttl == 22 && r.name.to_string() == "web.service.consul.")
    );

    let (msg, _) = udp(addr, "web.service.dc2.consul.", RecordType::A, None).await;
    assert_eq!(answer_data(&msg), vec!["10.2.0.1"]);
    let (msg, _) = udp(addr, "web.service.dc1.dc.consul.", RecordType::A, None).await;
    assert_eq!(answer_data(&msg), vec!["10.0.0.1", "10.0.1.2"]);
    // Case-insensitive, answer owner keeps the question's spelling.
    let (msg, _) = udp(addr, "WEB.Service.CONSUL.", RecordType::A, None).await;
    assert_eq!(answer_data(&msg), vec!["10.0.0.1", "10.0.1.2"]);
    let msg = tcp(addr, "web.service.consul.", RecordType::A).await;
    assert_eq!(answer_data(&msg), vec!["10.0.0.1", "10.0.1.2"]);
    server.shutdown().await;
}

#[tokio::test]
async fn service_aaaa_records_and_family_nodata() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    let (msg, _) = udp(addr, "v6only.service.consul.", RecordType::AAAA, None).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    assert_eq!(answer_data(&msg), vec!["2001:db8::6"]);
    assert_eq!(msg.answers[0].record_type(), RecordType::AAAA);
    // The service exists but has no IPv4 address: NODATA.
    let (msg, _) = udp(addr, "v6only.service.consul.", RecordType::A, None).await;
    assert_negative(&msg, ResponseCode::NoError);
    let (msg, _) = udp(addr, "web.service.consul.", RecordType::AAAA, None).await;
    assert_negative(&msg, ResponseCode::NoError);
    server.shutdown().await;
}

#[tokio::test]
async fn srv_records_with_additionals() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    let (msg, _) = udp(addr, "web.service.consul.", RecordType::SRV, None).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    // node1 answers with its node address -> node target; node2's service has its own IP -> addr target.
    assert_eq!(
        answer_data(&msg),
        vec![
            "1 1 8080 node1.node.dc1.consul.",
            "1 1 8081 0a000102.addr.dc1.consul."
        ]
    );
    let mut extra: Vec<String> = msg
        .additionals
        .iter()
        .map(|r| format!("{} {} {}", r.name, r.record_type(), r.data))
        .collect();
    extra.sort();
    // node1's meta rides along as TXT owned by its node name (node2 has none).
    assert_eq!(
        extra,
        vec![
            "0a000102.addr.dc1.consul. A 10.0.1.2",
            "node1.node.dc1.consul. A 10.0.0.1",
            "node1.node.dc1.consul. TXT a`=b=c``d",
            "node1.node.dc1.consul. TXT env=prod"
        ]
    );
    assert!(
        msg.additionals
            .iter()
            .filter(|r| r.record_type() == RecordType::TXT)
            .all(|r| r.ttl == 22),
        "SRV meta TXT uses the service TTL"
    );
    // Remote datacenter targets name that datacenter.
    let (msg, _) = udp(addr, "web.service.dc2.consul.", RecordType::SRV, None).await;
    assert_eq!(answer_data(&msg), vec!["1 1 80 remote1.node.dc2.consul."]);
    assert_eq!(msg.additionals.len(), 1);
    // IPv6 additional is an AAAA.
    let (msg, _) = udp(addr, "v6only.service.consul.", RecordType::SRV, None).await;
    assert_eq!(msg.additionals[0].record_type(), RecordType::AAAA);
    server.shutdown().await;
}

#[tokio::test]
async fn tag_filter() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    let (msg, _) = udp(addr, "v1.web.service.consul.", RecordType::A, None).await;
    assert_eq!(answer_data(&msg), vec!["10.0.0.1"]);
    let (msg, _) = udp(addr, "v2.web.service.consul.", RecordType::SRV, None).await;
    assert_eq!(
        answer_data(&msg),
        vec!["1 1 8081 0a000102.addr.dc1.consul."]
    );
    let (msg, _) = udp(addr, "v3.web.service.consul.", RecordType::A, None).await;
    assert_negative(&msg, ResponseCode::NXDomain);
    server.shutdown().await;
}

#[tokio::test]
async fn rfc2782_forms() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    let all = vec![
        "1 1 8080 node1.node.dc1.consul.",
        "1 1 8081 0a000102.addr.dc1.consul.",
    ];
    let (msg, _) = udp(addr, "_web._tcp.service.consul.", RecordType::SRV, None).await;
    assert_eq!(answer_data(&msg), all);
    let (msg, _) = udp(addr, "_web._udp.service.dc1.consul.", RecordType::SRV, None).await;
    assert_eq!(answer_data(&msg), all);
    let (msg, _) = udp(addr, "_web._v1.service.consul.", RecordType::SRV, None).await;
    assert_eq!(answer_data(&msg), vec!["1 1 8080 node1.node.dc1.consul."]);
    // Without the "service" label: SRV only.
    let (msg, _) = udp(addr, "_web._tcp.consul.", RecordType::SRV, None).await;
    assert_eq!(answer_data(&msg), all);
    let (msg, _) = udp(addr, "_web._tcp.consul.", RecordType::A, None).await;
    assert_negative(&msg, ResponseCode::NXDomain);
    server.shutdown().await;
}

#[tokio::test]
async fn node_lookup() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    for name in ["node1.node.consul.", "NODE1.node.dc1.consul."] {
        let (msg, _) = udp(addr, name, RecordType::A, None).await;
        assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
        assert!(msg.metadata.authoritative);
        assert_eq!(answer_data(&msg), vec!["10.0.0.1"]);
        assert_eq!(msg.answers[0].ttl, 11);
    }
    let (msg, _) = udp(addr, "remote1.node.dc2.consul.", RecordType::A, None).await;
    assert_eq!(answer_data(&msg), vec!["10.2.0.1"]);
    let (msg, _) = udp(addr, "node6.node.consul.", RecordType::AAAA, None).await;
    assert_eq!(answer_data(&msg), vec!["2001:db8::6"]);
    let (msg, _) = udp(addr, "node1.node.consul.", RecordType::AAAA, None).await;
    assert_negative(&msg, ResponseCode::NoError);
    let (msg, _) = udp(addr, "ext.node.consul.", RecordType::A, None).await;
    assert_eq!(msg.answers.len(), 1);
    assert_eq!(msg.answers[0].record_type(), RecordType::CNAME);
    assert_eq!(msg.answers[0].data.to_string(), "db.example.com.");
    let (msg, _) = udp(addr, "missing.node.consul.", RecordType::A, None).await;
    assert_negative(&msg, ResponseCode::NXDomain);
    server.shutdown().await;
}

#[tokio::test]
async fn addr_lookup_without_backend() {
    let backend = Arc::new(catalog());
    let (server, addr) = start(config(), backend.clone()).await;
    let calls = backend.calls();
    let (msg, _) = udp(addr, "0a000001.addr.dc1.consul.", RecordType::A, None).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    assert_eq!(answer_data(&msg), vec!["10.0.0.1"]);
    assert_eq!(msg.answers[0].name.to_string(), "0a000001.addr.dc1.consul.");
    let (msg, _) = udp(
        addr,
        "20010db8000000000000000000000001.addr.dc1.consul.",
        RecordType::AAAA,
        None,
    )
    .await;
    assert_eq!(answer_data(&msg), vec!["2001:db8::1"]);
    let (msg, _) = udp(addr, "0a000001.addr.dc1.consul.", RecordType::AAAA, None).await;
    assert_negative(&msg, ResponseCode::NoError);
    let (msg, _) = udp(addr, "0a0001.addr.dc1.consul.", RecordType::A, None).await;
    assert_negative(&msg, ResponseCode::NXDomain);
    assert_eq!(
        backend.calls(),
        calls,
        "addr lookups must not reach the backend"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn nxdomain_carries_soa() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    for name in [
        "bogus.consul.",
        "nope.service.consul.",
        "web.service.dc9.consul.",
        "node1.node.dc9.consul.",
        "web.connect.consul.",
        "service.consul.",
    ] {
        let (msg, _) = udp(addr, name, RecordType::A, None).await;
        assert_negative(&msg, ResponseCode::NXDomain);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn nodata_for_other_types() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    for (name, qtype) in [
        ("web.service.consul.", RecordType::TXT),
        ("web.service.consul.", RecordType::MX),
        ("consul.", RecordType::A),
    ] {
        let (msg, _) = udp(addr, name, qtype, None).await;
        assert_negative(&msg, ResponseCode::NoError);
    }
    server.shutdown().await;
}

/// Asserts Consul's empty node answer: NOERROR, authoritative, nothing in any section (no SOA).
fn assert_empty(msg: &Message) {
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError, "{msg}");
    assert!(msg.metadata.authoritative);
    assert!(msg.answers.is_empty(), "{msg}");
    assert!(msg.authorities.is_empty(), "{msg}");
    assert!(msg.additionals.is_empty(), "{msg}");
}

/// `(owner, ttl, text)` of every TXT record in `records`.
fn txt(records: &[Record]) -> Vec<(String, u32, String)> {
    records
        .iter()
        .filter(|r| r.record_type() == RecordType::TXT)
        .map(|r| (r.name.to_string(), r.ttl, r.data.to_string()))
        .collect()
}

#[tokio::test]
async fn node_other_types_empty_without_soa() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    // Consul answers only ANY, A, AAAA and TXT for nodes; anything else is an empty NOERROR, even for an
    // unknown node (no lookup is made).
    for (name, qtype) in [
        ("node1.node.consul.", RecordType::SRV),
        ("node1.node.consul.", RecordType::MX),
        ("ext.node.consul.", RecordType::CNAME),
        ("missing.node.consul.", RecordType::SRV),
    ] {
        let (msg, _) = udp(addr, name, qtype, None).await;
        assert_empty(&msg);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn node_txt_answer() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    let (msg, _) = udp(addr, "Node1.node.dc1.consul.", RecordType::TXT, None).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    assert!(msg.metadata.authoritative);
    // One record per pair, sorted by key, RFC 1464-escaped, owned by the question name with node_ttl.
    assert_eq!(
        txt(&msg.answers),
        vec![
            (
                "Node1.node.dc1.consul.".to_string(),
                11,
                "a`=b=c``d".to_string()
            ),
            (
                "Node1.node.dc1.consul.".to_string(),
                11,
                "env=prod".to_string()
            ),
        ]
    );
    assert_eq!(msg.answers.len(), 2, "TXT queries get no address records");
    assert!(msg.additionals.is_empty() && msg.authorities.is_empty());
    // rfc1035- keys give the bare value.
    let msg = tcp(addr, "meta6.node.consul.", RecordType::TXT).await;
    assert_eq!(answer_data(&msg), vec!["v=spf1 -all"]);
    server.shutdown().await;
}

#[tokio::test]
async fn node_txt_without_meta_is_empty() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    for name in ["node6.node.consul.", "ext.node.consul."] {
        let (msg, _) = udp(addr, name, RecordType::TXT, None).await;
        assert_empty(&msg);
    }
    // An unknown node is still NXDOMAIN.
    let (msg, _) = udp(addr, "missing.node.consul.", RecordType::TXT, None).await;
    assert_negative(&msg, ResponseCode::NXDomain);
    server.shutdown().await;
}

#[tokio::test]
async fn node_address_with_txt_additional() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    let (msg, _) = udp(addr, "node1.node.consul.", RecordType::A, None).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    assert_eq!(answer_data(&msg), vec!["10.0.0.1"]);
    assert!(msg.authorities.is_empty());
    assert_eq!(
        txt(&msg.additionals),
        vec![
            (
                "node1.node.consul.".to_string(),
                11,
                "a`=b=c``d".to_string()
            ),
            ("node1.node.consul.".to_string(), 11, "env=prod".to_string()),
        ]
    );
    let (msg, _) = udp(addr, "meta6.node.consul.", RecordType::AAAA, None).await;
    assert_eq!(answer_data(&msg), vec!["2001:db8::7"]);
    assert_eq!(txt(&msg.additionals).len(), 1);
    // No meta, no additionals.
    let (msg, _) = udp(addr, "node6.node.consul.", RecordType::AAAA, None).await;
    assert_eq!(answer_data(&msg), vec!["2001:db8::6"]);
    assert!(msg.additionals.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn node_any_answers_address_and_txt() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    let msg = tcp(addr, "node1.node.consul.", RecordType::ANY).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    let types: Vec<RecordType> = msg.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(types, vec![RecordType::A, RecordType::TXT, RecordType::TXT]);
    assert_eq!(answer_data(&msg), vec!["10.0.0.1", "a`=b=c``d", "env=prod"]);
    assert!(msg.additionals.is_empty());
    server.shutdown().await;
}

/// Asserts a PTR answer: exactly one record, owned by the question, TTL 0, authoritative.
fn assert_ptr(msg: &Message, owner: &str, target: &str) {
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError, "{msg}");
    assert!(msg.metadata.authoritative);
    assert_eq!(msg.answers.len(), 1, "{msg}");
    let ptr = &msg.answers[0];
    assert_eq!(ptr.record_type(), RecordType::PTR);
    assert_eq!(ptr.name.to_string(), owner);
    assert_eq!(ptr.ttl, 0);
    assert_eq!(ptr.data.to_string(), target);
}

#[tokio::test]
async fn ptr_of_node_address() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    // The service "shadow" (on node2) also has 10.0.0.1 as its own address: the node wins.
    for qtype in [RecordType::PTR, RecordType::ANY, RecordType::A] {
        let (msg, _) = udp(addr, "1.0.0.10.in-addr.arpa.", qtype, None).await;
        assert_ptr(&msg, "1.0.0.10.in-addr.arpa.", "node1.node.dc1.consul.");
        assert!(msg.authorities.is_empty() && msg.additionals.is_empty());
    }
    // The node name keeps its case; the owner keeps the question's spelling.
    let msg = tcp(addr, "50.0.0.10.IN-ADDR.ARPA.", RecordType::PTR).await;
    assert_ptr(
        &msg,
        "50.0.0.10.IN-ADDR.ARPA.",
        "MixedCase.node.dc1.consul.",
    );
    server.shutdown().await;
}

#[tokio::test]
async fn ptr_of_service_address() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    // web on node2 has its own address 10.0.1.2; node2 itself is not at that address.
    let (msg, _) = udp(addr, "2.1.0.10.in-addr.arpa.", RecordType::PTR, None).await;
    assert_ptr(&msg, "2.1.0.10.in-addr.arpa.", "web.service.dc1.consul.");
    server.shutdown().await;
}

#[tokio::test]
async fn ptr_ipv6() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    let node6 = "6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.";
    let (msg, _) = udp(addr, node6, RecordType::PTR, None).await;
    assert_ptr(&msg, node6, "node6.node.dc1.consul.");
    let service = "9.9.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6.arpa.";
    let (msg, _) = udp(addr, service, RecordType::PTR, None).await;
    assert_ptr(&msg, service, "v6svc.service.dc1.consul.");
    server.shutdown().await;
}

#[tokio::test]
async fn ptr_soa_question_adds_soa() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    let (msg, _) = udp(addr, "1.0.0.10.in-addr.arpa.", RecordType::SOA, None).await;
    assert_ptr(&msg, "1.0.0.10.in-addr.arpa.", "node1.node.dc1.consul.");
    assert_eq!(msg.authorities.len(), 1);
    assert_eq!(msg.authorities[0].record_type(), RecordType::SOA);
    assert_eq!(msg.authorities[0].name.to_string(), "consul.");
    server.shutdown().await;
}

#[tokio::test]
async fn ptr_not_found_is_nxdomain_with_soa() {
    let backend = Arc::new(catalog());
    let (server, addr) = start(config(), backend.clone()).await;
    for name in [
        // Nobody has this address.
        "9.9.9.10.in-addr.arpa.",
        // remote1 (10.2.0.1) lives in dc2: reverse lookups only search the local datacenter.
        "1.0.2.10.in-addr.arpa.",
        // node2's address: node2 is not a catalog node here and its instances have addresses of their own.
        "2.0.0.10.in-addr.arpa.",
    ] {
        let (msg, _) = udp(addr, name, RecordType::PTR, None).await;
        assert_negative(&msg, ResponseCode::NXDomain);
    }
    // Names under arpa. that are no address: NXDOMAIN without a lookup.
    let calls = backend.calls();
    for name in [
        "4.3.2.1.blah.arpa.",
        "257.3.2.1.in-addr.arpa.",
        "2.1.in-addr.arpa.",
        "in-addr.arpa.",
        "arpa.",
        "1.0.0.2.ip6.arpa.",
    ] {
        let (msg, _) = udp(addr, name, RecordType::PTR, None).await;
        assert_negative(&msg, ResponseCode::NXDomain);
    }
    assert_eq!(
        backend.calls(),
        calls,
        "invalid reverse names reach no backend"
    );
    // An SOA question that finds nothing: still one SOA.
    let (msg, _) = udp(addr, "9.9.9.10.in-addr.arpa.", RecordType::SOA, None).await;
    assert_negative(&msg, ResponseCode::NXDomain);
    server.shutdown().await;
}

#[tokio::test]
async fn ptr_backend_failure_is_nxdomain() {
    let mut backend = catalog();
    backend.fail_reverse = true;
    let (server, addr) = start(config(), Arc::new(backend)).await;
    let (msg, _) = udp(addr, "1.0.0.10.in-addr.arpa.", RecordType::PTR, None).await;
    assert_negative(&msg, ResponseCode::NXDomain);
    server.shutdown().await;
}

#[tokio::test]
async fn backend_failure_is_servfail() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    let (msg, _) = udp(addr, "broken.service.consul.", RecordType::A, None).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::ServFail);
    assert!(msg.answers.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn outside_domain_refused() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    for name in ["example.com.", "web.service.consul.example.", "."] {
        let (msg, _) = udp(addr, name, RecordType::A, None).await;
        assert_eq!(msg.metadata.response_code, ResponseCode::Refused, "{name}");
        assert!(!msg.metadata.authoritative);
        assert!(msg.answers.is_empty() && msg.authorities.is_empty());
    }
    server.shutdown().await;
}

#[tokio::test]
async fn apex_soa_and_ns() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    let (msg, _) = udp(addr, "consul.", RecordType::SOA, None).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    assert!(msg.metadata.authoritative);
    assert_eq!(msg.answers.len(), 1);
    assert_eq!(msg.answers[0].record_type(), RecordType::SOA);
    assert_eq!(msg.authorities.len(), 1);
    assert_eq!(
        msg.authorities[0].data.to_string(),
        "server1.node.dc1.consul."
    );

    let (msg, _) = udp(addr, "Consul.", RecordType::NS, None).await;
    assert_eq!(answer_data(&msg), vec!["server1.node.dc1.consul."]);
    assert_eq!(msg.answers[0].name.to_string(), "consul.");
    assert_eq!(msg.additionals.len(), 1);
    assert_eq!(
        msg.additionals[0].name.to_string(),
        "server1.node.dc1.consul."
    );
    assert_eq!(msg.additionals[0].data.to_string(), "127.0.1.1");
    server.shutdown().await;
}

#[tokio::test]
async fn non_query_opcode_not_implemented() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    let mut msg = Message::new(4242, hickory_proto::op::MessageType::Query, OpCode::Notify);
    msg.add_query(Query::query(
        Name::from_ascii("consul.").expect("name"),
        RecordType::SOA,
    ));
    let (reply, _) = udp_raw(addr, &msg.to_vec().expect("encode")).await;
    assert_eq!(reply.metadata.id, 4242);
    assert_eq!(reply.metadata.response_code, ResponseCode::NotImp);
    server.shutdown().await;
}

#[tokio::test]
async fn custom_domain() {
    let mut cfg = config();
    cfg.domain = "My.Domain".to_string();
    let (server, addr) = start(cfg, Arc::new(catalog())).await;
    let (msg, _) = udp(addr, "web.service.my.domain.", RecordType::SRV, None).await;
    assert_eq!(
        answer_data(&msg),
        vec![
            "1 1 8080 node1.node.dc1.my.domain.",
            "1 1 8081 0a000102.addr.dc1.my.domain."
        ]
    );
    let (msg, _) = udp(addr, "web.service.consul.", RecordType::A, None).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::Refused);
    let (msg, _) = udp(addr, "nope.my.domain.", RecordType::A, None).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(msg.authorities[0].name.to_string(), "my.domain.");
    server.shutdown().await;
}

/// `(owner, type, ttl, data)` of every additional record, sorted.
fn additionals(msg: &Message) -> Vec<String> {
    let mut v: Vec<String> = msg
        .additionals
        .iter()
        .map(|r| format!("{} {} {} {}", r.name, r.record_type(), r.ttl, r.data))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn prepared_query_a_records() {
    let backend = Arc::new(catalog());
    let (server, addr) = start(config(), backend.clone()).await;
    let (msg, _) = udp(addr, "geo-db.query.consul.", RecordType::A, None).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    assert!(msg.metadata.authoritative);
    // Service address when set, else node address; the service TTL when the query sets none.
    assert_eq!(answer_data(&msg), vec!["10.0.0.1", "10.0.1.2"]);
    assert!(
        msg.answers
            .iter()
            .all(|r| r.ttl == 22 && r.name.to_string() == "geo-db.query.consul.")
    );
    assert!(msg.authorities.is_empty() && msg.additionals.is_empty());
    // Case-insensitive, the owner keeps the question's spelling; the local datacenter named explicitly.
    let (msg, _) = udp(addr, "Geo-DB.Query.dc1.CONSUL.", RecordType::A, None).await;
    assert_eq!(answer_data(&msg), vec!["10.0.0.1", "10.0.1.2"]);
    assert_eq!(msg.answers[0].name.to_string(), "Geo-DB.Query.dc1.CONSUL.");
    let msg = tcp(addr, "geo-db.query.consul.", RecordType::ANY).await;
    assert_eq!(answer_data(&msg), vec!["10.0.0.1", "10.0.1.2"]);
    // A dotted query name reaches the backend whole.
    let (msg, _) = udp(addr, "My.DB.query.consul.", RecordType::A, None).await;
    assert_eq!(answer_data(&msg), vec!["10.0.0.1"]);
    assert_eq!(
        backend.executed(),
        vec![
            ("dc1".to_string(), "geo-db".to_string()),
            ("dc1".to_string(), "geo-db".to_string()),
            ("dc1".to_string(), "geo-db".to_string()),
            ("dc1".to_string(), "my.db".to_string()),
        ]
    );
    // No IPv6 address among the instances: NODATA; nor any record of other types.
    for qtype in [RecordType::AAAA, RecordType::TXT] {
        let (msg, _) = udp(addr, "geo-db.query.consul.", qtype, None).await;
        assert_negative(&msg, ResponseCode::NoError);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn prepared_query_srv_with_additionals() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    let (msg, _) = udp(addr, "geo-db.query.consul.", RecordType::SRV, None).await;
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    // node1 answers with its node address -> node target; node2's service has its own IP -> addr target.
    assert_eq!(
        answer_data(&msg),
        vec![
            "1 1 5432 node1.node.dc1.consul.",
            "1 1 5433 0a000102.addr.dc1.consul."
        ]
    );
    assert!(msg.answers.iter().all(|r| r.ttl == 22));
    assert_eq!(
        additionals(&msg),
        vec![
            "0a000102.addr.dc1.consul. A 22 10.0.1.2",
            "node1.node.dc1.consul. A 22 10.0.0.1",
            "node1.node.dc1.consul. TXT 22 a`=b=c``d",
            "node1.node.dc1.consul. TXT 22 env=prod"
        ]
    );
    // RFC 2782: `_<name>._<proto>.query`, with or without a datacenter.
    for name in [
        "_geo-db._tcp.query.consul.",
        "_Geo-DB._udp.query.dc1.consul.",
    ] {
        let (rfc, _) = udp(addr, name, RecordType::SRV, None).await;
        assert_eq!(answer_data(&rfc), answer_data(&msg), "{name}");
        assert_eq!(rfc.answers[0].name.to_string(), name);
    }
    let (msg, _) = udp(addr, "_my.db._tcp.query.consul.", RecordType::SRV, None).await;
    assert_eq!(answer_data(&msg), vec!["1 1 5432 node1.node.dc1.consul."]);
    server.shutdown().await;
}

#[tokio::test]
async fn prepared_query_ttl_from_query() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    let (msg, _) = udp(addr, "ttl-db.query.consul.", RecordType::A, None).await;
    assert_eq!(answer_data(&msg), vec!["10.0.0.1", "10.0.1.2"]);
    assert!(msg.answers.iter().all(|r| r.ttl == 300), "{msg}");
    let msg = tcp(addr, "ttl-db.query.consul.", RecordType::SRV).await;
    assert_eq!(msg.answers.len(), 2);
    assert!(msg.answers.iter().all(|r| r.ttl == 300), "{msg}");
    assert_eq!(msg.additionals.len(), 4);
    assert!(msg.additionals.iter().all(|r| r.ttl == 300), "{msg}");
    // A query TTL of 0 is 0, not the service TTL.
    let (msg, _) = udp(addr, "zero-ttl.query.consul.", RecordType::A, None).await;
    assert_eq!(answer_data(&msg), vec!["10.0.0.1"]);
    assert_eq!(msg.answers[0].ttl, 0);
    server.shutdown().await;
}

#[tokio::test]
async fn prepared_query_datacenters() {
    let backend = Arc::new(catalog());
    let (server, addr) = start(config(), backend.clone()).await;
    // Failover answered from dc2: targets name dc2, the weight is the instance's.
    let (msg, _) = udp(addr, "failover-db.query.consul.", RecordType::SRV, None).await;
    assert_eq!(answer_data(&msg), vec!["1 7 5432 remote1.node.dc2.consul."]);
    assert_eq!(
        additionals(&msg),
        vec!["remote1.node.dc2.consul. A 22 10.2.0.1"]
    );
    // A query of another datacenter is executed there.
    let (msg, _) = udp(addr, "remote-db.query.dc2.consul.", RecordType::A, None).await;
    assert_eq!(answer_data(&msg), vec!["10.2.0.1"]);
    assert_eq!(msg.answers[0].ttl, 60);
    assert_eq!(
        backend.executed().last(),
        Some(&("dc2".to_string(), "remote-db".to_string()))
    );
    // ...and is not found locally.
    let (msg, _) = udp(addr, "remote-db.query.consul.", RecordType::A, None).await;
    assert_negative(&msg, ResponseCode::NXDomain);
    // No path to the datacenter: NXDOMAIN, as for services.
    let (msg, _) = udp(addr, "geo-db.query.dc9.consul.", RecordType::A, None).await;
    assert_negative(&msg, ResponseCode::NXDomain);
    server.shutdown().await;
}

#[tokio::test]
async fn prepared_query_answers_deduplicated_in_query_order() {
    let mut cfg = config();
    cfg.a_record_limit = 1;
    let (server, addr) = start(cfg, Arc::new(catalog())).await;
    let (msg, _) = udp(addr, "dup-db.query.consul.", RecordType::A, None).await;
    assert_eq!(answer_data(&msg), vec!["10.0.0.1"]);
    let (msg, _) = udp(addr, "dup-db.query.consul.", RecordType::SRV, None).await;
    assert_eq!(answer_data(&msg), vec!["1 1 5432 node1.node.dc1.consul."]);
    assert_eq!(msg.additionals.len(), 3, "{msg}");
    // The query's order (shuffled or nearest first, server side) is kept: the first instance always
    // wins the single A record.
    for _ in 0..8 {
        let (msg, _) = udp(addr, "geo-db.query.consul.", RecordType::A, None).await;
        assert_eq!(answer_data(&msg), vec!["10.0.0.1"]);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn prepared_query_not_found_is_nxdomain_with_soa() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    for qtype in [RecordType::A, RecordType::SRV] {
        let (msg, _) = udp(addr, "missing.query.consul.", qtype, None).await;
        assert_negative(&msg, ResponseCode::NXDomain);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn prepared_query_without_nodes_is_nxdomain_with_soa() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    for qtype in [RecordType::A, RecordType::SRV, RecordType::TXT] {
        let (msg, _) = udp(addr, "empty.query.consul.", qtype, None).await;
        assert_negative(&msg, ResponseCode::NXDomain);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn prepared_query_backend_failure_is_servfail() {
    let (server, addr) = start(config(), Arc::new(catalog())).await;
    for qtype in [RecordType::A, RecordType::SRV] {
        let (msg, _) = udp(addr, "broken.query.consul.", qtype, None).await;
        assert_eq!(msg.metadata.response_code, ResponseCode::ServFail);
        assert!(msg.answers.is_empty() && msg.authorities.is_empty());
    }
    server.shutdown().await;
}

#[tokio::test]
async fn prepared_query_invalid_names_are_nxdomain_without_lookup() {
    let backend = Arc::new(catalog());
    let (server, addr) = start(config(), backend.clone()).await;
    for name in [
        "query.consul.",
        "geo-db.query.dc1.extra.consul.",
        "geo-db.query.dc1.dc.consul.",
        "_._tcp.query.consul.",
    ] {
        let (msg, _) = udp(addr, name, RecordType::A, None).await;
        assert_negative(&msg, ResponseCode::NXDomain);
    }
    assert_eq!(backend.calls(), 0, "invalid query names reach no backend");
    server.shutdown().await;
}
