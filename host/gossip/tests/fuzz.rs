//! Gossip datagrams come from anyone who can reach the port: mutated datagrams (seeded with
//! real ones a pool sent) never stop a pool. After the barrage the pool still answers
//! commands and still sees its peer alive (see `praetor_fuzz`).

use std::collections::BTreeMap;
use std::time::Duration;

mod common;

use common::{sees_alive, start, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_gossip_datagrams() {
    let a = start("a", None).await;
    let b = start("b", None).await;
    b.join(&[a.local_addr()], Duration::from_secs(5))
        .await
        .expect("b joins a");
    wait_until("a and b see each other", || {
        sees_alive(&a, &["a", "b"]) && sees_alive(&b, &["a", "b"])
    })
    .await;

    // Real datagrams: what `a` sends to a new address it is asked to join.
    let spy = std::net::UdpSocket::bind("127.0.0.1:0").expect("spy socket");
    spy.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let spy_addr = spy.local_addr().expect("addr");
    let joiner = {
        let a = a.clone();
        tokio::spawn(async move { a.join(&[spy_addr], Duration::from_secs(2)).await })
    };
    let target = a.local_addr();
    let ran = tokio::task::spawn_blocking(move || {
        let mut seeds = Vec::new();
        let mut buf = [0u8; 2048];
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while seeds.len() < 8 && std::time::Instant::now() < deadline {
            if let Ok((n, _)) = spy.recv_from(&mut buf) {
                seeds.push(buf[..n].to_vec());
            }
        }
        assert!(!seeds.is_empty(), "pool a sent nothing to the spy");
        let seeds: Vec<&[u8]> = seeds.iter().map(Vec::as_slice).collect();
        let mut sent = 0u64;
        praetor_fuzz::run("gossip datagrams", &seeds, |d| {
            let _ = spy.send_to(d, target);
            sent += 1;
            // Paced, so that the pool reads them instead of the kernel dropping them.
            if sent.is_multiple_of(32) {
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    })
    .await
    .expect("fuzz thread");
    assert!(ran > 0);
    let _ = joiner.await;

    // The pool task is alive (it answers a command) and the membership is intact.
    a.set_tags(BTreeMap::from([("role".to_string(), "node".to_string())]))
        .await
        .expect("pool a still answers after the barrage");
    // Without a gossip key anyone may announce members (as with serf), so the mutated
    // datagrams may add names; what matters is that a and b still see each other alive.
    let alive = |p: &praetor_gossip::Pool, name: &str| {
        p.members()
            .iter()
            .any(|m| m.name == name && m.status == praetor_gossip::MemberStatus::Alive)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !(alive(&a, "b") && alive(&b, "a")) {
        assert!(
            std::time::Instant::now() < deadline,
            "a and b no longer see each other alive: a sees {:?}, b sees {:?}",
            a.members(),
            b.members()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = a.stats();
    assert!(
        stats.malformed > 0,
        "the mutated datagrams reached the decoder and were counted: {stats:?}"
    );
}
