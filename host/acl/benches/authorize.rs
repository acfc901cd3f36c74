//! Cost of compiling a token's policies and of single authorization lookups.
//! `cargo bench -p praetor-acl`. Target: a lookup (resolution from a cached compiled authorizer
//! plus the check) well under 2 µs.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use praetor_acl::{Authorizer, DefaultPolicy, PolicyAuthorizer, PolicyRules, parse_rules};

/// Ten policies of fifty rules each, over keys, services, nodes and sessions.
fn policies() -> Vec<PolicyRules> {
    (0..10)
        .map(|p| {
            let mut text = String::new();
            for r in 0..50 {
                let level = ["read", "write", "deny", "read", "write"][(p + r) % 5];
                match r % 5 {
                    0 => text.push_str(&format!(
                        "key_prefix \"app/team{p}/svc{r}/\" {{ policy = \"{level}\" }}\n"
                    )),
                    1 => text.push_str(&format!(
                        "key \"app/team{p}/svc{r}/config\" {{ policy = \"{level}\" }}\n"
                    )),
                    2 => text.push_str(&format!(
                        "service \"svc-{p}-{r}\" {{ policy = \"{level}\" }}\n"
                    )),
                    3 => text.push_str(&format!(
                        "service_prefix \"team{p}-{r}-\" {{ policy = \"{level}\" }}\n"
                    )),
                    _ => text.push_str(&format!(
                        "node_prefix \"rack{p}-{r}\" {{ policy = \"{level}\" }}\nsession_prefix \"rack{p}-{r}\" {{ policy = \"{level}\" }}\n"
                    )),
                }
            }
            text.push_str("key_prefix \"\" { policy = \"read\" }\nservice_prefix \"\" { policy = \"read\" }\n");
            parse_rules(&text).expect("bench policy parses")
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let policies = policies();
    let rules: usize = policies
        .iter()
        .map(|p| {
            p.keys.len()
                + p.key_prefixes.len()
                + p.services.len()
                + p.service_prefixes.len()
                + p.node_prefixes.len()
                + p.session_prefixes.len()
        })
        .sum();
    println!("{} policies, {rules} rules", policies.len());

    c.bench_function("compile 10 policies", |b| {
        b.iter(|| Authorizer::new(black_box(&policies), DefaultPolicy::Deny))
    });

    let compiled = Arc::new(PolicyAuthorizer::new(&policies));
    let authz = Authorizer::with_rules(compiled.clone(), DefaultPolicy::Deny);

    c.bench_function("key_read exact", |b| {
        b.iter(|| authz.key_read(black_box("app/team7/svc31/config")))
    });
    c.bench_function("key_read longest prefix", |b| {
        b.iter(|| authz.key_read(black_box("app/team7/svc30/some/deep/key")))
    });
    c.bench_function("key_read catch-all", |b| {
        b.iter(|| authz.key_read(black_box("other/path/that/matches/nothing/specific")))
    });
    c.bench_function("service_read exact", |b| {
        b.iter(|| authz.service_read(black_box("svc-4-22")))
    });
    c.bench_function("service_read prefix", |b| {
        b.iter(|| authz.service_read(black_box("team4-23-api")))
    });
    c.bench_function("service_read_all", |b| b.iter(|| authz.service_read_all()));
    c.bench_function("key_write_prefix", |b| {
        b.iter(|| authz.key_write_prefix(black_box("app/team3/")))
    });
    // A request: take the cached compiled rules, build the token's authorizer, check, and
    // build the error text on denial.
    c.bench_function("resolve cached + service_write_allowed", |b| {
        b.iter(|| {
            let a = Authorizer::with_rules(compiled.clone(), DefaultPolicy::Allow);
            let denied = a
                .enforcer(black_box("6a8c1e0f-2d2b-4b5e-9a0c-1f2e3d4c5b6a"))
                .service_write_allowed(black_box("svc-4-22"));
            black_box(denied.is_ok())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
