//! Leaf signing cost (EC P-256, what a server does per CSR) and the whole issue (key + CSR +
//! sign, what an agent and a server do together). `cargo bench -p praetor-ca`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use praetor_ca::{CaConfig, LeafPolicy, SpiffeId};

const CLUSTER: &str = "11111111-2222-3333-4444-555555555555";
const NOW: i64 = 1_800_000_000;

fn benches(c: &mut Criterion) {
    let root = praetor_ca::new_root(CLUSTER, &CaConfig::default(), NOW).expect("root");
    let signer = root.signer();
    let td = praetor_ca::trust_domain(CLUSTER);
    let policy = LeafPolicy {
        trust_domain: td.clone(),
        datacenter: "dc1".into(),
    };
    let spiffe = SpiffeId::Service {
        trust_domain: td,
        namespace: "default".into(),
        datacenter: "dc1".into(),
        service: "web".into(),
    };
    let key = praetor_ca::generate_leaf_key().expect("key");
    let csr = praetor_ca::leaf_csr(&spiffe, &[], &key).expect("csr");
    let ttl = Duration::from_secs(72 * 3600);
    let mut g = c.benchmark_group("leaf");
    g.bench_function("sign (server, P-256)", |b| {
        b.iter(|| {
            praetor_ca::sign_leaf(&signer, black_box(&csr), &policy, ttl, 7, NOW).expect("sign")
        })
    });
    g.bench_function("issue (key + CSR + sign)", |b| {
        b.iter(|| {
            praetor_ca::issue_leaf(&signer, &policy, black_box(&spiffe), &[], ttl, 7, NOW)
                .expect("issue")
        })
    });
    g.finish();
}

criterion_group!(sign, benches);
criterion_main!(sign);
