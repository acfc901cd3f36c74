//! Per-call cost of each built-in through wasmtime vs the native policy (with the ratio),
//! instantiation cost, and swap latency. `cargo bench -p praetor-plugin-host`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use praetor_plugin_host::builtin::{ROUTE_PREFER_REGION, ROUTE_RTT};
use praetor_plugin_host::policy;
use praetor_plugin_host::{LoadRequest, PluginHost, PluginHostConfig, SlotSettings};

fn query() -> policy::AddressQuery {
    policy::AddressQuery {
        local_datacenter: "dc1".into(),
        record_datacenter: "dc2".into(),
        enabled: true,
        address: "10.0.1.1".into(),
        port: 8080,
        tagged: vec![
            policy::TaggedAddress::new("lan", "10.0.1.1", 8080),
            policy::TaggedAddress::new("wan", "198.18.0.1", 80),
        ],
        accept: policy::Accept::ANY,
    }
}

fn candidates() -> Vec<policy::Candidate> {
    (1..=5)
        .map(|i| policy::Candidate {
            datacenter: format!("dc{i}"),
            path: if i == 1 {
                policy::PathKind::Local
            } else {
                policy::PathKind::Wan
            },
            rtt_ms: (i != 3).then_some(i as f64 * 7.5),
            labels: vec![(
                "region".into(),
                if i % 2 == 0 { "eu".into() } else { "us".into() },
            )],
            servers: (0..3)
                .map(|s| policy::Server {
                    name: format!("dc{i}-s{s}"),
                    address: format!("10.{i}.0.{s}:8300"),
                    healthy: s != 0,
                })
                .collect(),
            ..policy::Candidate::default()
        })
        .collect()
}

fn route_request() -> policy::RouteRequest {
    let mut cs = candidates();
    cs.retain(|c| c.datacenter == "dc2");
    policy::RouteRequest {
        local_datacenter: "dc1".into(),
        target: "dc2".into(),
        candidates: cs,
    }
}

/// 1,000 intentions: service-to-service L4 rules plus some L7 ones.
fn intentions() -> Vec<policy::Intention> {
    intentions_n(1000)
}

/// `n` intentions of the same shape (50 destinations).
fn intentions_n(n: usize) -> Vec<policy::Intention> {
    (0..n)
        .map(|i| {
            let mut it = policy::Intention::new(
                &format!("id-{i}"),
                &format!("svc-{i}"),
                &format!("dst-{}", i % 50),
                if i % 3 == 0 {
                    policy::Action::Deny
                } else {
                    policy::Action::Allow
                },
            );
            if i % 10 == 0 {
                it.permissions.push(policy::Permission {
                    action: policy::Action::Allow,
                    path_prefix: Some("/api/".into()),
                    methods: vec!["GET".into()],
                    ..policy::Permission::default()
                });
            }
            it
        })
        .collect()
}

fn request() -> policy::Request {
    policy::Request {
        source: policy::Identity::service("svc-421"),
        destination: policy::Identity::service("dst-21"),
        http: None,
    }
}

fn per_call(n: u32, mut f: impl FnMut()) -> Duration {
    for _ in 0..n / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed() / n
}

fn ratio(name: &str, wasm: Duration, native: Duration) {
    println!(
        "RATIO {name:<28} wasm {:>9.1} ns   native {:>8.1} ns   ratio {:>6.1}x",
        wasm.as_nanos() as f64,
        native.as_nanos() as f64,
        wasm.as_nanos() as f64 / native.as_nanos().max(1) as f64
    );
}

/// A quick side-by-side of wasm vs native per call (criterion's groups below give the detail).
fn print_ratios(host: &PluginHost, native_eval: &policy::Evaluator) {
    let (q, cs, rr, req) = (query(), candidates(), route_request(), request());
    let n = 200_000;
    ratio(
        "translate",
        per_call(n, || {
            black_box(host.translate_plugin(black_box(&q)).ok());
        }),
        per_call(n, || {
            black_box(policy::translate(black_box(&q)));
        }),
    );
    ratio(
        "route rank (5 dcs)",
        per_call(n, || {
            black_box(host.rank_plugin("dc1", black_box(&cs)).ok());
        }),
        per_call(n, || {
            black_box(policy::rank("dc1", black_box(&cs)));
        }),
    );
    ratio(
        "route pick",
        per_call(n, || {
            black_box(host.pick_plugin(black_box(&rr)).ok());
        }),
        per_call(n, || {
            black_box(policy::pick(black_box(&rr)));
        }),
    );
    ratio(
        "intention (1,000 loaded)",
        per_call(n, || {
            black_box(host.evaluate_plugin(black_box(&req)).ok());
        }),
        per_call(n, || {
            black_box(native_eval.evaluate(black_box(&req)));
        }),
    );
}

/// A named call on a host.
type Named<'a> = (&'a str, &'a dyn Fn(&PluginHost));

/// Built-ins against the components in `dir`, interleaved (7 rounds, alternating which goes
/// first) so that the machine's drift hits both alike: median and range per call.
fn compare_builds(host: &PluginHost, alt: &PluginHost, dir: &str) {
    let (q, rr, req) = (query(), route_request(), request());
    let n = 50_000;
    let calls: [Named<'_>; 3] = [
        ("translate", &|h| {
            drop(black_box(h.translate_plugin(black_box(&q))))
        }),
        ("route pick", &|h| {
            drop(black_box(h.pick_plugin(black_box(&rr))))
        }),
        ("intention (1,000 loaded)", &|h| {
            drop(black_box(h.evaluate_plugin(black_box(&req))))
        }),
    ];
    for (name, call) in calls {
        let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        for round in 0..7 {
            for i in [round % 2, 1 - round % 2] {
                let h = if i == 0 { host } else { alt };
                times[i].push(per_call(n, || call(h)).as_nanos() as f64);
            }
        }
        let [built_in, other] = times.map(|mut t| {
            t.sort_by(f64::total_cmp);
            (t[t.len() / 2], t[0], t[t.len() - 1])
        });
        println!(
            "COMPARE {name:<26} built-in {:>7.0} ns ({:.0}-{:.0})   {dir} {:>7.0} ns ({:.0}-{:.0})   ratio {:.2}",
            built_in.0,
            built_in.1,
            built_in.2,
            other.0,
            other.1,
            other.2,
            built_in.0 / other.0
        );
    }
}

/// Issue 10's figure: `check` with 10,000 intentions through the slot against the native
/// evaluator (goal: ≤ 3×).
fn print_intentions_10k(host: &PluginHost) {
    let set = intentions_n(10_000);
    host.update_intentions(set.clone(), false)
        .expect("10,000 intentions");
    let native = policy::Evaluator::new(set, false).expect("native");
    let req = request();
    ratio(
        "intention (10,000 loaded)",
        per_call(20_000, || {
            black_box(host.evaluate_plugin(black_box(&req)).ok());
        }),
        per_call(20_000, || {
            black_box(native.evaluate(black_box(&req)));
        }),
    );
    host.update_intentions(intentions(), false)
        .expect("back to 1,000");
}

fn generous(config: PluginHostConfig, slot: &str, pool_size: usize) -> PluginHostConfig {
    config.with_slot(
        slot,
        SlotSettings {
            deadline: Duration::from_millis(100),
            pool_size,
            ..SlotSettings::default()
        },
    )
}

fn benches(c: &mut Criterion) {
    // A 100 ms budget: these measure cost, not the deadline (a preempted call must not fail).
    let mut config = PluginHostConfig::default();
    for slot in ["translator", "router", "intentions"] {
        config = generous(config, slot, 4);
    }
    let host = PluginHost::new(config).expect("plugin host");
    let set = intentions();
    host.update_intentions(set.clone(), false)
        .expect("intentions");
    let native_eval = policy::Evaluator::new(set, false).expect("native intentions");
    assert!(host.evaluate_plugin(&request()).expect("evaluate").allowed);

    print_ratios(&host, &native_eval);
    print_intentions_10k(&host);
    // Optionally compare another build of the built-ins (e.g. a different opt-level):
    // PRAETOR_BENCH_COMPONENTS=<dir with route_rtt.wasm, translate_wan_addrs.wasm, intentions_consul.wasm>.
    if let Ok(dir) = std::env::var("PRAETOR_BENCH_COMPONENTS") {
        let alt = PluginHost::new(PluginHostConfig::default()).expect("plugin host");
        for (slot, file) in [
            ("router", "route_rtt.wasm"),
            ("translator", "translate_wan_addrs.wasm"),
            ("intentions", "intentions_consul.wasm"),
        ] {
            let path = std::path::Path::new(&dir).join(file);
            let bytes = std::fs::read(&path).expect("component");
            alt.load_blocking(slot, LoadRequest::new(bytes, "{}"))
                .expect("load");
        }
        alt.update_intentions(intentions(), false)
            .expect("intentions");
        compare_builds(&host, &alt, &dir);
    }

    let (q, cs, rr, req) = (query(), candidates(), route_request(), request());
    let mut g = c.benchmark_group("call");
    g.bench_function("translate/wasm", |b| {
        b.iter(|| host.translate_plugin(black_box(&q)))
    });
    g.bench_function("translate/native", |b| {
        b.iter(|| policy::translate(black_box(&q)))
    });
    g.bench_function("rank/wasm", |b| {
        b.iter(|| host.rank_plugin("dc1", black_box(&cs)))
    });
    g.bench_function("rank/native", |b| {
        b.iter(|| policy::rank("dc1", black_box(&cs)))
    });
    g.bench_function("pick/wasm", |b| b.iter(|| host.pick_plugin(black_box(&rr))));
    g.bench_function("pick/native", |b| b.iter(|| policy::pick(black_box(&rr))));
    g.bench_function("intention-1000/wasm", |b| {
        b.iter(|| host.evaluate_plugin(black_box(&req)))
    });
    g.bench_function("intention-1000/native", |b| {
        b.iter(|| native_eval.evaluate(black_box(&req)))
    });
    g.finish();

    // Instantiation: with no warm pool every call builds a fresh Store + instance + configure.
    let cold =
        PluginHost::new(generous(PluginHostConfig::default(), "translator", 0)).expect("host");
    let mut g = c.benchmark_group("instantiate");
    g.bench_function("translate/fresh-instance-per-call", |b| {
        b.iter(|| cold.translate_plugin(black_box(&q)))
    });
    g.finish();

    // Swap: load (compile + type-check + canary configure + atomic swap) of the router.
    let mut g = c.benchmark_group("swap");
    g.sample_size(10);
    let mut flip = false;
    g.bench_function("load-router (compile+check+canary+swap)", |b| {
        b.iter(|| {
            flip = !flip;
            let (bytes, cfg) = if flip {
                (ROUTE_PREFER_REGION.bytes, r#"{"prefer":{"region":"eu"}}"#)
            } else {
                (ROUTE_RTT.bytes, "{}")
            };
            host.load_blocking("router", LoadRequest::new(bytes.to_vec(), cfg))
                .expect("load")
        })
    });
    g.finish();
    // Intention-set update (1,000 intentions) pushed to the plugin and the warm pool.
    let mut g = c.benchmark_group("update");
    g.sample_size(10);
    let set = intentions();
    g.bench_function("update_intentions-1000", |b| {
        b.iter(|| host.update_intentions(set.clone(), false).expect("update"))
    });
    g.finish();
}

criterion_group!(plugins, benches);
criterion_main!(plugins);
