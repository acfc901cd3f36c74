//! The answer cache over real sockets, with a backend whose data and stamp change: hits skip the
//! backend, a new stamp is seen by the very next query, hits carry the request's ID and case, and an
//! answer computed across a change is never served under the new stamp.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use praetor_dns::{
    Backend, DnsServer, Instance, LookupError, NodeRecord, QueryAnswer, ReverseName,
};
use support::{config, query_bytes, udp_raw};

/// One service, `web`, whose instances and stamp the test changes.
#[derive(Default)]
struct Changing {
    web: Mutex<Vec<Instance>>,
    stamp: AtomicU64,
    /// Backend calls made.
    calls: AtomicUsize,
    /// The next lookup reads the data, then a write lands (new data, new stamp) before it returns.
    write_during_next_lookup: Mutex<Option<Vec<Instance>>>,
    /// `answer_stamp` answers None (caching off).
    no_stamp: AtomicBool,
}

impl Changing {
    fn set(&self, web: Vec<Instance>) {
        *self.web.lock().unwrap_or_else(PoisonError::into_inner) = web;
        self.stamp.fetch_add(1, Ordering::SeqCst);
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

fn inst(i: u8) -> Instance {
    Instance {
        node: format!("node{i}"),
        node_address: format!("10.0.0.{i}"),
        node_meta: BTreeMap::new(),
        service_address: String::new(),
        port: 80,
        datacenter: "dc1".into(),
        weight: 1,
    }
}

#[async_trait::async_trait]
impl Backend for Changing {
    async fn service_instances(
        &self,
        dc: Option<&str>,
        service: &str,
        _tag: Option<&str>,
    ) -> Result<Vec<Instance>, LookupError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if dc.is_some() {
            return Err(LookupError::NoPathToDatacenter);
        }
        if service != "web" {
            return Ok(Vec::new());
        }
        let read = self
            .web
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let write = self
            .write_during_next_lookup
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(new) = write {
            self.set(new);
        }
        Ok(read)
    }

    async fn connect_instances(
        &self,
        _: Option<&str>,
        _: &str,
    ) -> Result<Vec<Instance>, LookupError> {
        Ok(Vec::new())
    }

    async fn node(&self, _: Option<&str>, _: &str) -> Result<Option<NodeRecord>, LookupError> {
        Ok(None)
    }

    async fn prepared_query(
        &self,
        _: Option<&str>,
        _: &str,
    ) -> Result<Option<QueryAnswer>, LookupError> {
        Ok(None)
    }

    async fn reverse(&self, _: IpAddr) -> Result<Option<ReverseName>, LookupError> {
        Ok(None)
    }

    fn answer_stamp(&self) -> Option<u64> {
        if self.no_stamp.load(Ordering::SeqCst) {
            return None;
        }
        Some(self.stamp.load(Ordering::SeqCst))
    }
}

async fn start(backend: Arc<Changing>) -> (DnsServer, std::net::SocketAddr) {
    let server = DnsServer::start(config(), backend)
        .await
        .expect("dns server starts");
    let addr = server.local_addrs()[0];
    (server, addr)
}

/// The A records of one UDP query of `name` with `id`, and the reply's ID, question and owner names.
async fn ask(addr: std::net::SocketAddr, name: &str, id: u16) -> Reply {
    let mut bytes = query_bytes(name, RecordType::A, None);
    bytes[..2].copy_from_slice(&id.to_be_bytes());
    let (msg, _) = udp_raw(addr, &bytes).await;
    let mut ips: Vec<String> = msg.answers.iter().map(|r| r.data.to_string()).collect();
    let order = ips.clone();
    ips.sort();
    Reply {
        id: msg.metadata.id,
        rcode: msg.metadata.response_code,
        question: msg.queries[0].name().to_string(),
        owners: msg.answers.iter().map(|r| r.name.to_string()).collect(),
        ips,
        order,
    }
}

struct Reply {
    id: u16,
    rcode: ResponseCode,
    question: String,
    owners: Vec<String>,
    /// Answer data, sorted.
    ips: Vec<String>,
    /// Answer data, as sent.
    order: Vec<String>,
}

#[tokio::test]
async fn hits_skip_the_backend_until_the_stamp_changes() {
    let backend = Arc::new(Changing::default());
    backend.set(vec![inst(1)]);
    let (server, addr) = start(backend.clone()).await;

    let first = ask(addr, "web.service.consul.", 1).await;
    assert_eq!(first.ips, vec!["10.0.0.1"]);
    let calls = backend.calls();
    for id in 2..20 {
        let r = ask(addr, "web.service.consul.", id).await;
        assert_eq!(r.ips, vec!["10.0.0.1"]);
        assert_eq!(r.id, id);
    }
    assert_eq!(
        backend.calls(),
        calls,
        "cache hits must not reach the backend"
    );

    // A write: the very next query sees it.
    backend.set(vec![inst(1), inst(2)]);
    let r = ask(addr, "web.service.consul.", 20).await;
    assert_eq!(r.ips, vec!["10.0.0.1", "10.0.0.2"]);
    assert_eq!(backend.calls(), calls + 1);

    // Caching off: every query reaches the backend.
    backend.no_stamp.store(true, Ordering::SeqCst);
    let calls = backend.calls();
    for id in 0..3 {
        ask(addr, "web.service.consul.", id).await;
    }
    assert_eq!(backend.calls(), calls + 3);
    server.shutdown().await;
}

#[tokio::test]
async fn hits_carry_the_request_id_and_case() {
    let backend = Arc::new(Changing::default());
    backend.set(vec![inst(1)]);
    let (server, addr) = start(backend.clone()).await;
    let first = ask(addr, "web.service.consul.", 0x1111).await;
    assert_eq!(first.owners, vec!["web.service.consul."]);
    let calls = backend.calls();
    let r = ask(addr, "WEB.Service.CoNsUl.", 0x2222).await;
    assert_eq!(
        backend.calls(),
        calls,
        "a different case is the same question"
    );
    assert_eq!(r.id, 0x2222);
    assert_eq!(r.question, "WEB.Service.CoNsUl.");
    assert_eq!(r.owners, vec!["WEB.Service.CoNsUl."]);
    assert_eq!(r.ips, vec!["10.0.0.1"]);
    server.shutdown().await;
}

#[tokio::test]
async fn shuffled_answers_cached_in_several_orders() {
    let backend = Arc::new(Changing::default());
    backend.set((1..=6).map(inst).collect());
    let (server, addr) = start(backend.clone()).await;
    let mut orders = HashSet::new();
    for id in 0..40 {
        let r = ask(addr, "web.service.consul.", id).await;
        // No EDNS: Consul's udp_answer_limit of 3.
        assert_eq!(r.order.len(), 3);
        orders.insert(r.order);
    }
    assert!(orders.len() > 1, "40 queries all returned the same order");
    let calls = backend.calls();
    assert!(calls < 40, "{calls} backend calls for 40 queries");
    server.shutdown().await;
}

#[tokio::test]
async fn answer_computed_across_a_write_is_not_served_under_the_new_stamp() {
    let backend = Arc::new(Changing::default());
    backend.set(vec![inst(1)]);
    let (server, addr) = start(backend.clone()).await;
    // The lookup reads the old data, then a write lands before the answer is cached.
    *backend
        .write_during_next_lookup
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(vec![inst(2)]);
    let r = ask(addr, "web.service.consul.", 1).await;
    assert_eq!(r.ips, vec!["10.0.0.1"], "the answer as read");
    let calls = backend.calls();
    let r = ask(addr, "web.service.consul.", 2).await;
    assert_eq!(
        r.ips,
        vec!["10.0.0.2"],
        "the old answer was served after the write"
    );
    assert_eq!(backend.calls(), calls + 1);
    // And that one is cached.
    let r = ask(addr, "web.service.consul.", 3).await;
    assert_eq!(r.ips, vec!["10.0.0.2"]);
    assert_eq!(backend.calls(), calls + 1);
    server.shutdown().await;
}

#[tokio::test]
async fn negative_answers_cached_and_errors_not() {
    let backend = Arc::new(Changing::default());
    let (server, addr) = start(backend.clone()).await;
    let r = ask(addr, "nope.service.consul.", 1).await;
    assert_eq!(r.rcode, ResponseCode::NXDomain);
    let calls = backend.calls();
    let r = ask(addr, "nope.service.consul.", 2).await;
    assert_eq!(r.rcode, ResponseCode::NXDomain);
    assert_eq!(backend.calls(), calls);
    // Another datacenter: never cached.
    for id in 0..2 {
        let r = ask(addr, "web.service.dc9.consul.", id).await;
        assert_eq!(r.rcode, ResponseCode::NXDomain);
    }
    assert_eq!(backend.calls(), calls + 2);
    server.shutdown().await;
}
