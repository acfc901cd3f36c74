//! RTT probes over real UDP on loopback: samples carry the peer's payload, and the send-delay
//! test hook shows up in the measured round trips.

mod common;

use std::time::Duration;

use common::*;
use praetor_gossip::{MAX_PROBE_PAYLOAD, Pool};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pools_exchange_payloads_and_measure_rtts() {
    // Encrypted, so probes are shown to travel in the sealed envelope too.
    let key = Some([7u8; 32]);
    let a = start("a", key).await;
    let b = start("b", key).await;
    a.set_probe_payload(b"coordinate of a".to_vec());
    b.set_probe_payload(b"coordinate of b".to_vec());
    // Too large: refused, the previous payload stays.
    b.set_probe_payload(vec![0; MAX_PROBE_PAYLOAD + 1]);
    let mut rx_a = a.subscribe_rtt();
    let mut rx_b = b.subscribe_rtt();
    form(&[&a, &b]).await;

    let s = sample_from(&mut rx_a, "b").await;
    assert_eq!(s.payload, b"coordinate of b");
    assert!(s.rtt < Duration::from_secs(1), "{s:?}");
    let s = sample_from(&mut rx_b, "a").await;
    assert_eq!(s.payload, b"coordinate of a");

    // A new payload is used from then on.
    b.set_probe_payload(b"moved".to_vec());
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let s = sample_from(&mut rx_a, "b").await;
        if s.payload == b"moved" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "payload not updated"
        );
    }
    assert_eq!(a.stats().decrypt_failures, 0);
    shutdown_all(&[&a, &b]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_delay_on_one_side_shows_in_both_sides_rtts() {
    let delay = Duration::from_millis(40);
    let mut cfg = config("slow", None);
    cfg.send_delay = delay;
    let slow = Pool::start(cfg).await.unwrap();
    let fast = start("fast", None).await;
    let mut rx_slow = slow.subscribe_rtt();
    let mut rx_fast = fast.subscribe_rtt();
    form(&[&slow, &fast]).await;
    for _ in 0..3 {
        let s = sample_from(&mut rx_slow, "fast").await;
        assert!(s.rtt >= delay, "slow -> fast {s:?}");
        let s = sample_from(&mut rx_fast, "slow").await;
        assert!(s.rtt >= delay, "fast -> slow {s:?}");
    }
    // Undelayed pools measure much less on loopback (the best of a few, against scheduling noise).
    let x = start("x", None).await;
    let y = start("y", None).await;
    let mut rx_x = x.subscribe_rtt();
    form(&[&x, &y]).await;
    let mut best = Duration::MAX;
    for _ in 0..5 {
        best = best.min(sample_from(&mut rx_x, "y").await.rtt);
    }
    assert!(best < delay, "{best:?}");
    shutdown_all(&[&slow, &fast, &x, &y]).await;
}
