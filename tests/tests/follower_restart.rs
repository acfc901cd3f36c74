//! A concurrent writer workload while a follower is SIGKILLed and restarted: afterwards every
//! acknowledged write is present on every server.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use praetor_tests::{Agent, agreed_leader, wait_for};

const JOIN: [&str; 5] = [
    "-server",
    "-bootstrap-expect=3",
    "-retry-join=127.0.1.1",
    "-retry-join=127.0.1.2",
    "-retry-interval=1s",
];

#[test]
fn acknowledged_writes_survive_a_follower_restart() {
    let mut s: Vec<Agent> = (1..=3)
        .map(|i| Agent::start(&format!("w{i}"), &format!("127.0.1.{i}"), &JOIN))
        .collect();
    // A follower: the server after the leader.
    let follower = (agreed_leader(&s, None) + 1) % s.len();

    // Four writers, each through a different server than the follower we kill; bounded in count and time.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let targets: Vec<_> = s
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != follower)
        .map(|(_, a)| a.http())
        .collect();
    let mut writers = Vec::new();
    for w in 0..4 {
        let h = targets[w % targets.len()].clone();
        let acked = acked.clone();
        let stop = stop.clone();
        writers.push(std::thread::spawn(move || {
            let until = Instant::now() + Duration::from_secs(60);
            for n in 0..5_000 {
                if stop.load(Ordering::Relaxed) || Instant::now() > until {
                    break;
                }
                let key = format!("load/{w}/{n}");
                if let Ok(r) = h.try_put(&format!("/v1/kv/{key}"), key.as_bytes())
                    && r.status == 200
                    && r.text() == "true"
                {
                    acked.lock().unwrap().push(key);
                }
            }
        }));
    }
    wait_for("some writes acknowledged", Duration::from_secs(30), || {
        (acked.lock().unwrap().len() > 100).then_some(())
    });
    s[follower].kill();
    let before = acked.lock().unwrap().len();
    wait_for(
        "writes continue with a follower down",
        Duration::from_secs(30),
        || (acked.lock().unwrap().len() > before + 100).then_some(()),
    );
    s[follower].restart();
    wait_for(
        "restarted follower serves stale reads",
        Duration::from_secs(60),
        || {
            s[follower]
                .http()
                .try_get("/v1/kv/load/0/0?stale")
                .ok()
                .filter(|r| r.status == 200)
        },
    );
    let mid = acked.lock().unwrap().len();
    wait_for(
        "writes continue after the restart",
        Duration::from_secs(30),
        || (acked.lock().unwrap().len() > mid + 100).then_some(()),
    );
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 300,
        "only {} writes acknowledged",
        acked.len()
    );

    // Every acknowledged key is on every server (stale reads of the local state).
    for a in &s {
        let h = a.http();
        wait_for(
            "server caught up with every acknowledged write",
            Duration::from_secs(60),
            || {
                let r = h.try_get("/v1/kv/load/?keys&stale").ok()?;
                let keys: std::collections::HashSet<String> =
                    serde_json::from_slice(&r.body).ok()?;
                let missing = acked.iter().filter(|k| !keys.contains(*k)).count();
                (missing == 0).then_some(())
            },
        );
    }
}
