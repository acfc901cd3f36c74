//! Test support: an in-memory fake `Backend`, a server starter, and UDP/TCP DNS clients built on hickory-proto.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use praetor_dns::{
    Backend, DnsConfig, DnsServer, Instance, LookupError, NodeRecord, QueryAnswer, ReverseName,
    address_matches,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// Every network wait in the tests is bounded by this.
pub const DEADLINE: Duration = Duration::from_secs(5);

pub struct Registered {
    pub service: String,
    pub tags: Vec<String>,
    pub instance: Instance,
}

/// A prepared query as the fake backend executes it: a fixed answer.
pub struct FakeQuery {
    /// Name (lowercase) the query is found by.
    pub name: String,
    /// The datacenter the query is defined in (where an execute finds it).
    pub datacenter: String,
    pub answer: QueryAnswer,
}

/// In-memory catalog: datacenters dc1 and dc2; service "broken" and prepared query "broken" fail as
/// Unavailable, and so do reverse lookups when `fail_reverse` is set. Catalog order is registration order.
#[derive(Default)]
pub struct FakeBackend {
    pub services: Vec<Registered>,
    pub nodes: Vec<NodeRecord>,
    pub queries: Vec<FakeQuery>,
    pub calls: AtomicUsize,
    /// Every prepared query executed, as `(datacenter, name)`, the datacenter resolved (None = dc1).
    pub executed: Mutex<Vec<(String, String)>>,
    pub fail_reverse: bool,
}

impl FakeBackend {
    pub fn register(&mut self, service: &str, tags: &[&str], instance: Instance) {
        self.services.push(Registered {
            service: service.to_string(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            instance,
        });
    }

    pub fn add_node(&mut self, node: &str, address: &str, dc: &str) {
        self.add_node_with_meta(node, address, dc, &[]);
    }

    pub fn add_node_with_meta(
        &mut self,
        node: &str,
        address: &str,
        dc: &str,
        meta: &[(&str, &str)],
    ) {
        self.nodes.push(NodeRecord {
            node: node.to_string(),
            address: address.to_string(),
            datacenter: dc.to_string(),
            meta: meta_map(meta),
        });
    }

    /// Defines the prepared query `name` in `dc`, answering `instances` with the query TTL `ttl`.
    pub fn add_query(&mut self, name: &str, dc: &str, instances: Vec<Instance>, ttl: Option<u32>) {
        self.queries.push(FakeQuery {
            name: name.to_string(),
            datacenter: dc.to_string(),
            answer: QueryAnswer { instances, ttl },
        });
    }

    /// The prepared queries executed so far, as `(datacenter, name)`.
    pub fn executed(&self) -> Vec<(String, String)> {
        self.executed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn datacenter(dc: Option<&str>) -> Result<&str, LookupError> {
        match dc.unwrap_or("dc1") {
            dc @ ("dc1" | "dc2") => Ok(dc),
            _ => Err(LookupError::NoPathToDatacenter),
        }
    }
}

#[async_trait::async_trait]
impl Backend for FakeBackend {
    async fn service_instances(
        &self,
        dc: Option<&str>,
        service: &str,
        tag: Option<&str>,
    ) -> Result<Vec<Instance>, LookupError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let dc = Self::datacenter(dc)?;
        if service == "broken" {
            return Err(LookupError::Unavailable("No cluster leader".to_string()));
        }
        Ok(self
            .services
            .iter()
            .filter(|r| r.service == service && r.instance.datacenter == dc)
            .filter(|r| tag.is_none_or(|t| r.tags.iter().any(|x| x == t)))
            .map(|r| r.instance.clone())
            .collect())
    }

    /// The fake's connect set of `web` is the `web-sidecar-proxy` service.
    async fn connect_instances(
        &self,
        dc: Option<&str>,
        service: &str,
    ) -> Result<Vec<Instance>, LookupError> {
        self.service_instances(dc, &format!("{service}-sidecar-proxy"), None)
            .await
    }

    async fn node(&self, dc: Option<&str>, node: &str) -> Result<Option<NodeRecord>, LookupError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let dc = Self::datacenter(dc)?;
        Ok(self
            .nodes
            .iter()
            .find(|n| n.node.eq_ignore_ascii_case(node) && n.datacenter == dc)
            .cloned())
    }

    async fn prepared_query(
        &self,
        dc: Option<&str>,
        name: &str,
    ) -> Result<Option<QueryAnswer>, LookupError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let dc = Self::datacenter(dc)?;
        self.executed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((dc.to_string(), name.to_string()));
        if name == "broken" {
            return Err(LookupError::Unavailable("No cluster leader".to_string()));
        }
        Ok(self
            .queries
            .iter()
            .find(|q| q.name == name && q.datacenter == dc)
            .map(|q| q.answer.clone()))
    }

    /// The fake catalog never changes once the server runs: one stamp for ever, so every test also
    /// exercises the answer cache.
    fn answer_stamp(&self) -> Option<u64> {
        Some(1)
    }

    /// The `Backend::reverse` contract over the fake catalog: local (dc1) nodes by primary address first,
    /// then instances by their own service address.
    async fn reverse(&self, ip: IpAddr) -> Result<Option<ReverseName>, LookupError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail_reverse {
            return Err(LookupError::Unavailable("No cluster leader".to_string()));
        }
        let node = self
            .nodes
            .iter()
            .find(|n| n.datacenter == "dc1" && address_matches(&n.address, ip));
        if let Some(n) = node {
            return Ok(Some(ReverseName::Node {
                node: n.node.clone(),
                datacenter: n.datacenter.clone(),
            }));
        }
        Ok(self
            .services
            .iter()
            .find(|r| {
                r.instance.datacenter == "dc1" && address_matches(&r.instance.service_address, ip)
            })
            .map(|r| ReverseName::Service {
                service: r.service.clone(),
                datacenter: r.instance.datacenter.clone(),
            }))
    }
}

pub fn meta_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// node1's meta: served as TXT for `node1.node` and next to SRV answers that name node1.
pub const NODE1_META: &[(&str, &str)] = &[("env", "prod"), ("a=b", "c`d")];

/// An instance with weight 1; `svc_addr` empty means "node address".
pub fn instance(node: &str, node_addr: &str, svc_addr: &str, port: u16, dc: &str) -> Instance {
    Instance {
        node: node.to_string(),
        node_address: node_addr.to_string(),
        node_meta: BTreeMap::new(),
        service_address: svc_addr.to_string(),
        port,
        datacenter: dc.to_string(),
        weight: 1,
    }
}

/// The catalog most tests use.
pub fn catalog() -> FakeBackend {
    let mut b = FakeBackend::default();
    let mut node1_web = instance("node1", "10.0.0.1", "", 8080, "dc1");
    node1_web.node_meta = meta_map(NODE1_META);
    b.register("web", &["v1"], node1_web);
    b.register(
        "web",
        &["v2"],
        instance("node2", "10.0.0.2", "10.0.1.2", 8081, "dc1"),
    );
    b.register("web", &[], instance("remote1", "10.2.0.1", "", 80, "dc2"));
    b.register(
        "v6only",
        &[],
        instance("node6", "2001:db8::6", "", 90, "dc1"),
    );
    b.register(
        "consul",
        &[],
        instance("server1", "127.0.1.1", "", 8300, "dc1"),
    );
    for i in 0..40u16 {
        let node = format!("big-{i}");
        b.register(
            "big",
            &[],
            instance(&node, &format!("10.1.0.{}", i + 1), "", 9000 + i, "dc1"),
        );
    }
    for i in 0..10u16 {
        let node = format!("many-{i}");
        b.register(
            "many",
            &[],
            instance(&node, &format!("10.3.0.{}", i + 1), "", 7000, "dc1"),
        );
    }
    // A service whose own address is a node's: reverse lookups name the node.
    b.register(
        "shadow",
        &[],
        instance("node2", "10.0.0.2", "10.0.0.1", 5000, "dc1"),
    );
    b.register(
        "v6svc",
        &[],
        instance("node2", "10.0.0.2", "2001:db8::99", 5001, "dc1"),
    );
    add_queries(&mut b);
    b.add_node_with_meta("node1", "10.0.0.1", "dc1", NODE1_META);
    b.add_node("node6", "2001:db8::6", "dc1");
    b.add_node("ext", "db.example.com", "dc1");
    b.add_node("remote1", "10.2.0.1", "dc2");
    b.add_node("MixedCase", "10.0.0.50", "dc1");
    b.add_node_with_meta(
        "meta6",
        "2001:db8::7",
        "dc1",
        &[("rfc1035-spf", "v=spf1 -all")],
    );
    let big: Vec<(String, String)> = (0..12)
        .map(|i| (format!("key{i:02}"), "v".repeat(60)))
        .collect();
    let big: Vec<(&str, &str)> = big.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    b.add_node_with_meta("bigmeta", "10.0.0.60", "dc1", &big);
    b
}

/// The prepared queries of `catalog()`. Their instances are what the query answered, in its order.
fn add_queries(b: &mut FakeBackend) {
    let mut node1_db = instance("node1", "10.0.0.1", "", 5432, "dc1");
    node1_db.node_meta = meta_map(NODE1_META);
    let node2_db = instance("node2", "10.0.0.2", "10.0.1.2", 5433, "dc1");
    // No TTL of its own: the service TTL applies.
    b.add_query(
        "geo-db",
        "dc1",
        vec![node1_db.clone(), node2_db.clone()],
        None,
    );
    b.add_query("ttl-db", "dc1", vec![node1_db.clone(), node2_db], Some(300));
    // `DNS.TTL` set to "0s" (or unparseable): 0, not the service TTL.
    b.add_query("zero-ttl", "dc1", vec![node1_db.clone()], Some(0));
    b.add_query("my.db", "dc1", vec![node1_db.clone()], None);
    // Nothing passed here, failover found instances in dc2.
    let mut remote = instance("remote1", "10.2.0.1", "", 5432, "dc2");
    remote.weight = 7;
    b.add_query("failover-db", "dc1", vec![remote.clone()], None);
    // A query defined in dc2 only.
    b.add_query("remote-db", "dc2", vec![remote], Some(60));
    // The same node, address and port twice (e.g. two service IDs): answered once.
    b.add_query("dup-db", "dc1", vec![node1_db.clone(), node1_db], None);
    b.add_query("empty", "dc1", Vec::new(), Some(30));
}

pub fn config() -> DnsConfig {
    DnsConfig {
        bind: vec!["127.0.0.1:0".parse().expect("addr")],
        domain: "consul.".to_string(),
        datacenter: "dc1".to_string(),
        node_ttl: 11,
        service_ttl: 22,
        a_record_limit: 0,
        udp_answer_limit: 3,
    }
}

/// Starts a server on 127.0.0.1 port 0 over `backend`.
pub async fn start(cfg: DnsConfig, backend: Arc<FakeBackend>) -> (DnsServer, SocketAddr) {
    let server = DnsServer::start(cfg, backend)
        .await
        .expect("dns server starts");
    let addr = server.local_addrs()[0];
    (server, addr)
}

pub fn query_bytes(name: &str, qtype: RecordType, edns: Option<u16>) -> Vec<u8> {
    let mut msg = Message::query();
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(Name::from_ascii(name).expect("name"), qtype));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        msg.set_edns(e);
    }
    msg.to_vec().expect("encode query")
}

/// Sends `bytes` over UDP and returns the decoded reply and its size on the wire.
pub async fn udp_raw(addr: SocketAddr, bytes: &[u8]) -> (Message, usize) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind client");
    socket.send_to(bytes, addr).await.expect("send");
    let mut buf = vec![0u8; 65535];
    let (len, _) = tokio::time::timeout(DEADLINE, socket.recv_from(&mut buf))
        .await
        .expect("udp reply before deadline")
        .expect("recv");
    let reply = Message::from_vec(&buf[..len]).expect("decode reply");
    (reply, len)
}

pub async fn udp(
    addr: SocketAddr,
    name: &str,
    qtype: RecordType,
    edns: Option<u16>,
) -> (Message, usize) {
    let bytes = query_bytes(name, qtype, edns);
    let (reply, len) = udp_raw(addr, &bytes).await;
    assert_eq!(reply.metadata.message_type, MessageType::Response);
    assert_eq!(reply.metadata.op_code, OpCode::Query);
    (reply, len)
}

/// One query over a fresh TCP connection (2-byte length framing).
pub async fn tcp(addr: SocketAddr, name: &str, qtype: RecordType) -> Message {
    let bytes = query_bytes(name, qtype, None);
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let len = u16::try_from(bytes.len()).expect("small query");
        stream
            .write_all(&len.to_be_bytes())
            .await
            .expect("write len");
        stream.write_all(&bytes).await.expect("write query");
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await.expect("read len");
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut buf).await.expect("read reply");
        Message::from_vec(&buf).expect("decode reply")
    };
    tokio::time::timeout(DEADLINE, exchange)
        .await
        .expect("tcp reply before deadline")
}

/// Answer data as strings, sorted (e.g. "10.0.0.1", "1 1 80 a.node.dc1.consul.").
pub fn answer_data(msg: &Message) -> Vec<String> {
    let mut v: Vec<String> = msg.answers.iter().map(|r| r.data.to_string()).collect();
    v.sort();
    v
}
