//! Per-request ACL cost on a server: resolving a secret to its cached compiled identity
//! (the state's ACL index checked, the cache hit) plus one authorization and one denial
//! rendered as Consul's error. `cargo bench -p praetor-rpc --bench acl`. Target (issue 9):
//! at most 2 µs per request.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use praetor_rpc::acl::{AclCache, AclSettings, AgentTokens, resolve_in_store};
use praetor_state::{AclLink, AclPolicy, AclToken, Command, CommandResult, Store};

/// A store with ten policies of twenty KV rules and a token holding all of them.
fn store() -> Store {
    let mut s = Store::new();
    let mut idx = 1;
    let mut apply = |s: &mut Store, cmd: Command| {
        let (r, _) = s.apply(idx, cmd);
        assert_eq!(r, CommandResult::Ok);
        idx += 1;
    };
    apply(&mut s, Command::AclInitBuiltins { now_ms: 1 });
    let mut links = Vec::new();
    for p in 0..10 {
        let rules: String = (0..20)
            .map(|r| format!("key_prefix \"team{p}/svc{r}/\" {{ policy = \"write\" }}\n"))
            .collect();
        let id = format!("{p:08}-0000-4000-8000-000000000000");
        apply(
            &mut s,
            Command::AclPolicySet {
                policy: AclPolicy {
                    id: id.clone(),
                    name: format!("p{p}"),
                    rules,
                    ..AclPolicy::default()
                },
                create: true,
            },
        );
        links.push(AclLink {
            id,
            name: String::new(),
        });
    }
    apply(
        &mut s,
        Command::AclTokenSet {
            token: AclToken {
                accessor_id: "a1111111-0000-4000-8000-000000000000".into(),
                secret_id: "s1111111-0000-4000-8000-000000000000".into(),
                policies: links,
                ..AclToken::default()
            },
            create: true,
        },
    );
    s
}

fn bench(c: &mut Criterion) {
    let store = store();
    let cache = AclCache::default();
    let tokens = AgentTokens::default();
    let settings = AclSettings {
        enabled: true,
        default_policy: praetor_acl::DefaultPolicy::Deny,
        ..AclSettings::default()
    };
    let secret = "s1111111-0000-4000-8000-000000000000";
    c.bench_function("resolve (cached) + key_write allowed", |b| {
        b.iter(|| {
            let id = resolve_in_store(&cache, &tokens, &settings, &store, black_box(secret), "dc1")
                .unwrap();
            black_box(
                id.enforcer()
                    .key_write_allowed("team7/svc13/config")
                    .is_ok(),
            )
        })
    });
    c.bench_function("resolve (cached) + key_write denied", |b| {
        b.iter(|| {
            let id = resolve_in_store(&cache, &tokens, &settings, &store, black_box(secret), "dc1")
                .unwrap();
            black_box(id.enforcer().key_write_allowed("other/key").is_err())
        })
    });
    c.bench_function("resolve (compile, cache miss)", |b| {
        b.iter(|| {
            let fresh = AclCache::default();
            black_box(
                resolve_in_store(&fresh, &tokens, &settings, &store, black_box(secret), "dc1")
                    .is_ok(),
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
