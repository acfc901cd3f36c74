//! Cost of answering one DNS request from its bytes, as the UDP threads do: a cache hit (copy, ID and
//! case patch) and a miss (resolve over an in-memory backend, shuffle, limit, encode, cache), for A and
//! SRV questions about a service of three instances. `cargo bench -p praetor-dns`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};
use praetor_dns::{
    Answerer, Backend, DnsConfig, Instance, LookupError, NodeRecord, QueryAnswer, ReverseName,
};

/// Three instances of `web`, a constant stamp.
struct Three;

#[async_trait::async_trait]
impl Backend for Three {
    async fn service_instances(
        &self,
        _: Option<&str>,
        service: &str,
        _: Option<&str>,
    ) -> Result<Vec<Instance>, LookupError> {
        if service != "web" {
            return Ok(Vec::new());
        }
        Ok((1..=3)
            .map(|i| Instance {
                node: format!("node-{i}"),
                node_address: format!("10.0.0.{i}"),
                node_meta: BTreeMap::new(),
                service_address: String::new(),
                port: 8080,
                datacenter: "dc1".into(),
                weight: 1,
            })
            .collect())
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
        Some(1)
    }
}

fn request(qtype: RecordType) -> Vec<u8> {
    let mut msg = Message::query();
    msg.metadata.id = 4242;
    msg.add_query(Query::query(
        Name::from_ascii("web.service.consul.").expect("name"),
        qtype,
    ));
    msg.to_vec().expect("encode")
}

fn answers(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut answerer = Answerer::new(&DnsConfig::default(), Arc::new(Three)).expect("answerer");
    for (qtype, label) in [(RecordType::A, "A"), (RecordType::SRV, "SRV")] {
        let req = request(qtype);
        c.bench_function(&format!("dns miss {label}, 3 instances"), |b| {
            b.iter(|| runtime.block_on(answerer.compute(black_box(&req), false)))
        });
        // The misses above filled every variant of the entry.
        assert!(answerer.cached(&req, false).is_some(), "cache warm");
        c.bench_function(&format!("dns hit {label}, 3 instances"), |b| {
            b.iter(|| {
                let hit = answerer.cached(black_box(&req), false).map(<[u8]>::len);
                // Entries live one second: refill when it passed (a few misses per second of hits).
                hit.or_else(|| {
                    runtime
                        .block_on(answerer.compute(&req, false))
                        .map(|r| r.len())
                })
            })
        });
    }
}

criterion_group!(benches, answers);
criterion_main!(benches);
