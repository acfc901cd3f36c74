//! Hot swap under concurrent calls: no call fails, and the new behaviour is visible as soon as
//! `load` returns.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use praetor_policy as policy;

use super::host;
use crate::LoadRequest;
use crate::builtin::{ROUTE_PREFER_REGION, ROUTE_RTT};

fn candidates() -> Vec<policy::Candidate> {
    let c = |dc: &str, rtt: f64, region: &str| policy::Candidate {
        datacenter: dc.into(),
        rtt_ms: Some(rtt),
        labels: vec![("region".into(), region.into())],
        servers: vec![policy::Server {
            name: format!("{dc}-1"),
            address: "10.0.0.1:8300".into(),
            healthy: true,
        }],
        ..policy::Candidate::default()
    };
    vec![
        c("dc1", 0.0, "us"),
        c("dc2", 10.0, "us"),
        c("dc3", 50.0, "eu"),
    ]
}

#[test]
fn swap_100_times_under_concurrent_calls() {
    // Four busy threads (three callers, one compiling) share two cores here: a caller can be
    // descheduled for longer than the default 5 ms wall-clock budget (and, with other suites
    // running beside it, once longer than 500 ms), which would be a (correctly counted) timeout
    // rather than a swap failure. This test is about swaps.
    let settings = crate::SlotSettings {
        deadline: Duration::from_secs(10),
        ..crate::SlotSettings::default()
    };
    let host = super::host_with(crate::PluginHostConfig::default().with_slot("router", settings));
    let cs = Arc::new(candidates());
    let by_rtt = vec!["dc1".to_owned(), "dc2".into(), "dc3".into()];
    let prefer_eu = vec!["dc1".to_owned(), "dc3".into(), "dc2".into()];
    assert_eq!(host.rank_plugin("dc1", &cs).unwrap(), by_rtt);

    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let (host, cs, stop, calls) = (host.clone(), cs.clone(), stop.clone(), calls.clone());
            let (a, b) = (by_rtt.clone(), prefer_eu.clone());
            std::thread::spawn(move || -> Result<(), String> {
                while !stop.load(Ordering::Relaxed) {
                    let got = host.rank_plugin("dc1", &cs)?;
                    if got != a && got != b {
                        return Err(format!("unexpected order {got:?}"));
                    }
                    calls.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();
    // Let the workers get going before the first swap.
    assert!(super::wait_for(Duration::from_secs(10), || calls
        .load(Ordering::Relaxed)
        > 100));

    for i in 0..100 {
        let (bytes, config, want) = if i % 2 == 0 {
            (
                ROUTE_PREFER_REGION.bytes,
                r#"{"prefer": {"region": "eu"}}"#,
                &prefer_eu,
            )
        } else {
            (ROUTE_RTT.bytes, "{}", &by_rtt)
        };
        host.load_blocking("router", LoadRequest::new(bytes.to_vec(), config))
            .unwrap();
        assert_eq!(&host.rank_plugin("dc1", &cs).unwrap(), want, "swap {i}");
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join()
            .expect("worker thread")
            .expect("every concurrent call succeeded");
    }
    let info = host.info("router").unwrap();
    assert_eq!(info.failures, 0);
    assert!(calls.load(Ordering::Relaxed) > 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_load_and_calls_from_tokio_workers() {
    let host = host();
    let info = host
        .load(
            "router",
            ROUTE_PREFER_REGION.bytes.to_vec(),
            r#"{"prefer": {"region": "eu"}}"#,
        )
        .await
        .unwrap();
    assert_eq!(info.component, "custom");
    // A guest touching stdio from a tokio worker thread traps instead of panicking the host.
    host.load(
        "translator",
        crate::testdata::read(crate::testdata::HOSTILE_TRAP),
        "{}",
    )
    .await
    .unwrap();
    let q = policy::AddressQuery::default();
    let h = host.clone();
    let answer = tokio::spawn(async move { h.translate(&q) }).await.unwrap();
    assert_eq!(answer, policy::translate(&policy::AddressQuery::default()));
    assert_eq!(
        host.rank_plugin("dc1", &candidates()).unwrap(),
        ["dc1", "dc3", "dc2"]
    );
    let args = policy::parse_args("provider=static addrs=10.0.0.9").unwrap();
    assert_eq!(host.discover("static", args).await.unwrap(), ["10.0.0.9"]);
}
