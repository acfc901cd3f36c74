//! Gossip encryption and the keyring over real UDP on loopback: same-key pools converge,
//! wrong-key and plaintext pools are kept out (and counted), keys rotate without flapping,
//! serf's keyring errors, and the keyring file.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use praetor_gossip::{GossipError, KeyOp, MemberEvent, Pool};
use tokio::net::UdpSocket;

const K1: [u8; 32] = [0x11; 32];
const K2: [u8; 32] = [0x22; 32];
const K3: [u8; 32] = [0x33; 32];
const OP_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pools_with_the_same_key_converge_and_send_only_ciphertext() {
    let a = start("alpha-node", Some(K1)).await;
    let b = start("bravo-node", Some(K1)).await;
    let c = start("charlie-node", Some(K1)).await;
    form(&[&a, &b, &c]).await;
    for p in [&a, &b, &c] {
        assert_eq!(p.keys(), (Some(K1), vec![K1]));
        let s = p.stats();
        assert_eq!((s.decrypt_failures, s.malformed), (0, 0), "{s:?}");
    }

    // What a pool puts on the wire: the encrypted envelope, no readable member name.
    let sniffer = UdpSocket::bind(loopback()).await.unwrap();
    let lonely = start("lonely-node", Some(K1)).await;
    let _ = lonely
        .join(&[sniffer.local_addr().unwrap()], Duration::from_millis(50))
        .await;
    let mut buf = [0u8; 2048];
    let (len, _) = tokio::time::timeout(WAIT, sniffer.recv_from(&mut buf))
        .await
        .expect("an announce arrives")
        .unwrap();
    let datagram = &buf[..len];
    assert_eq!(datagram[..2], [1, 0x80], "version, encrypted");
    assert!(len <= 1400);
    let name = b"lonely-node";
    assert!(
        !datagram.windows(name.len()).any(|w| w == name),
        "the member name must not travel in clear"
    );
    shutdown_all(&[&a, &b, &c, &lonely]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_with_another_key_cannot_join_and_is_counted() {
    let a = start("a", Some(K1)).await;
    let b = start("b", Some(K1)).await;
    form(&[&a, &b]).await;
    let before = a.stats();
    let intruder = start("intruder", Some(K2)).await;
    let result = intruder
        .join(&[a.local_addr()], Duration::from_millis(800))
        .await;
    assert!(
        matches!(result, Err(GossipError::JoinFailed { .. })),
        "{result:?}"
    );
    let after = a.stats();
    assert!(
        after.decrypt_failures > before.decrypt_failures,
        "{before:?} -> {after:?}"
    );
    assert_eq!(after.malformed, before.malformed);
    assert!(sees_alive(&a, &["a", "b"]));
    assert!(sees_alive(&b, &["a", "b"]));
    assert_eq!(intruder.members().len(), 1);
    shutdown_all(&[&a, &b, &intruder]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_and_encrypted_pools_do_not_mix() {
    let enc = start("enc", Some(K1)).await;
    let plain = start("plain", None).await;

    let before = enc.stats();
    let result = plain
        .join(&[enc.local_addr()], Duration::from_millis(600))
        .await;
    assert!(matches!(result, Err(GossipError::JoinFailed { .. })));
    let after = enc.stats();
    assert!(after.malformed > before.malformed, "plaintext is dropped");
    assert_eq!(after.decrypt_failures, before.decrypt_failures);

    let before = plain.stats();
    let other = start("enc2", Some(K1)).await;
    let result = other
        .join(&[plain.local_addr()], Duration::from_millis(600))
        .await;
    assert!(matches!(result, Err(GossipError::JoinFailed { .. })));
    assert!(
        plain.stats().malformed > before.malformed,
        "ciphertext is dropped"
    );
    for p in [&enc, &plain, &other] {
        assert_eq!(p.members().len(), 1, "{} stays alone", p.name());
    }
    match plain.key_op(KeyOp::List, OP_TIMEOUT).await {
        Err(GossipError::Keyring(msg)) => {
            assert_eq!(msg, "Keyring is empty (encryption not enabled)")
        }
        other => panic!("expected a keyring error, got {other:?}"),
    }
    match plain.key_op(KeyOp::Install(K2), OP_TIMEOUT).await {
        Err(GossipError::Keyring(msg)) => {
            assert_eq!(msg, "No keyring to modify (encryption not enabled)")
        }
        other => panic!("expected a keyring error, got {other:?}"),
    }
    assert_eq!(plain.keys(), (None, vec![]));
    shutdown_all(&[&enc, &plain, &other]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_across_three_pools_without_any_member_flapping() {
    let a = start("a", Some(K1)).await;
    let b = start("b", Some(K1)).await;
    let c = start("c", Some(K1)).await;
    form(&[&a, &b, &c]).await;
    let incarnations: Vec<Vec<u64>> = [&a, &b, &c]
        .iter()
        .map(|p| p.members().iter().map(|m| m.incarnation).collect())
        .collect();
    let mut events: Vec<_> = [&a, &b, &c].iter().map(|p| p.subscribe()).collect();
    let mut rtts: Vec<_> = [&a, &b, &c].iter().map(|p| p.subscribe_rtt()).collect();

    let installed = a.key_op(KeyOp::Install(K2), OP_TIMEOUT).await.unwrap();
    assert_eq!((installed.num_nodes, installed.num_resp), (3, 3));
    assert!(installed.messages.is_empty(), "{:?}", installed.messages);
    assert_eq!(installed.keys, BTreeMap::from([(K1, 3), (K2, 3)]));
    assert_eq!(installed.primary_keys, BTreeMap::from([(K1, 3)]));
    for p in [&a, &b, &c] {
        assert_eq!(p.keys(), (Some(K1), vec![K1, K2]), "{}", p.name());
    }

    // Issued from another member: every operation works from anywhere.
    let used = b.key_op(KeyOp::Use(K2), OP_TIMEOUT).await.unwrap();
    assert_eq!((used.num_nodes, used.num_resp), (3, 3));
    assert!(used.messages.is_empty(), "{:?}", used.messages);
    assert_eq!(used.primary_keys, BTreeMap::from([(K2, 3)]));

    let removed = c.key_op(KeyOp::Remove(K1), OP_TIMEOUT).await.unwrap();
    assert_eq!((removed.num_nodes, removed.num_resp), (3, 3));
    assert!(removed.messages.is_empty(), "{:?}", removed.messages);
    assert_eq!(removed.keys, BTreeMap::from([(K2, 3)]));
    for p in [&a, &b, &c] {
        assert_eq!(p.keys(), (Some(K2), vec![K2]), "{}", p.name());
    }

    // Traffic keeps flowing with the new key: each pool measures fresh round trips.
    for (p, rx) in [&a, &b, &c].iter().zip(rtts.iter_mut()) {
        let mut samples = 0;
        wait_until(
            &format!("{} to measure RTTs after the rotation", p.name()),
            || {
                while rx.try_recv().is_ok() {
                    samples += 1;
                }
                samples >= 6
            },
        )
        .await;
    }
    for (p, rx) in [&a, &b, &c].iter().zip(events.iter_mut()) {
        let seen = drain(rx);
        assert!(
            !seen.iter().any(|e| matches!(
                e,
                MemberEvent::Failed(_) | MemberEvent::Left(_) | MemberEvent::Join(_)
            )),
            "{} saw membership change during the rotation: {seen:?}",
            p.name()
        );
        assert!(sees_alive(p, &["a", "b", "c"]));
    }
    let after: Vec<Vec<u64>> = [&a, &b, &c]
        .iter()
        .map(|p| p.members().iter().map(|m| m.incarnation).collect())
        .collect();
    assert_eq!(after, incarnations, "nobody was declared down and rejoined");

    // The old key is out: a pool holding only K1 cannot join any more; one with K2 can.
    let stale = start("stale", Some(K1)).await;
    assert!(
        stale
            .join(&[a.local_addr()], Duration::from_millis(600))
            .await
            .is_err()
    );
    let fresh = start("fresh", Some(K2)).await;
    fresh.join(&[a.local_addr()], WAIT).await.unwrap();
    wait_until("the K2 newcomer to see everyone", || {
        sees_alive(&fresh, &["a", "b", "c", "fresh"])
    })
    .await;
    shutdown_all(&[&a, &b, &c, &stale, &fresh]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyring_errors_follow_serf() {
    let a = start("a", Some(K1)).await;
    let b = start("b", Some(K1)).await;
    form(&[&a, &b]).await;

    let out = a.key_op(KeyOp::Remove(K1), OP_TIMEOUT).await.unwrap();
    assert_eq!((out.num_nodes, out.num_resp), (2, 2));
    for name in ["a", "b"] {
        assert_eq!(
            out.messages[name],
            "Removing the primary key is not allowed"
        );
    }
    let out = b.key_op(KeyOp::Use(K3), OP_TIMEOUT).await.unwrap();
    for name in ["a", "b"] {
        assert_eq!(out.messages[name], "Requested key is not in the keyring");
    }
    assert_eq!(out.primary_keys, BTreeMap::from([(K1, 2)]));

    // Removing a key that is not installed is fine (idempotent), and so is a second install.
    let out = a.key_op(KeyOp::Remove(K3), OP_TIMEOUT).await.unwrap();
    assert!(out.messages.is_empty());
    a.key_op(KeyOp::Install(K2), OP_TIMEOUT).await.unwrap();
    let out = a.key_op(KeyOp::Install(K2), OP_TIMEOUT).await.unwrap();
    assert!(out.messages.is_empty());
    let list = b.key_op(KeyOp::List, OP_TIMEOUT).await.unwrap();
    assert_eq!(list.keys, BTreeMap::from([(K1, 2), (K2, 2)]));
    assert_eq!(list.primary_keys, BTreeMap::from([(K1, 2)]));
    assert_eq!(a.keys(), (Some(K1), vec![K1, K2]), "errors changed nothing");
    shutdown_all(&[&a, &b]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_does_not_answer_is_reported() {
    // Slow failure detection, so the stopped member is still listed alive during the query.
    let slow = |name: &str| {
        let mut cfg = config(name, Some(K1));
        let mut t = fast_timing();
        t.suspicion_mult = 50;
        cfg.timing = Some(t);
        cfg
    };
    let a = Pool::start(slow("a")).await.unwrap();
    let b = Pool::start(slow("b")).await.unwrap();
    let c = Pool::start(slow("c")).await.unwrap();
    form(&[&a, &b, &c]).await;
    c.shutdown().await;
    let out = a
        .key_op(KeyOp::Install(K2), Duration::from_millis(700))
        .await
        .unwrap();
    assert_eq!((out.num_nodes, out.num_resp), (3, 2), "{out:?}");
    assert_eq!(
        out.messages,
        BTreeMap::from([("c".to_string(), "no response".to_string())])
    );
    assert_eq!(out.keys, BTreeMap::from([(K1, 2), (K2, 2)]));
    shutdown_all(&[&a, &b]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keyring_file_is_written_and_wins_at_restart() {
    let dir = scratch_dir("keyring");
    let path = dir.join("serf").join("local.keyring");
    let mut cfg = config("a", Some(K1));
    cfg.keyring_file = Some(path.clone());
    let a = Pool::start(cfg.clone()).await.unwrap();
    let read = || -> Vec<String> {
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    };
    use base64::Engine;
    let b64 = |k: [u8; 32]| base64::engine::general_purpose::STANDARD.encode(k);
    assert_eq!(read(), [b64(K1)], "created from encrypt at start");

    a.key_op(KeyOp::Install(K2), OP_TIMEOUT).await.unwrap();
    assert_eq!(read(), [b64(K1), b64(K2)]);
    a.key_op(KeyOp::Use(K2), OP_TIMEOUT).await.unwrap();
    assert_eq!(read(), [b64(K2), b64(K1)], "primary first");
    a.shutdown().await;

    // Restart with another `encrypt`: the file wins.
    cfg.encrypt_key = Some(K3);
    let a = Pool::start(cfg.clone()).await.unwrap();
    assert_eq!(a.keys(), (Some(K2), vec![K2, K1]));
    a.key_op(KeyOp::Remove(K1), OP_TIMEOUT).await.unwrap();
    assert_eq!(read(), [b64(K2)]);
    a.shutdown().await;

    std::fs::write(&path, "[]").unwrap();
    assert!(matches!(
        Pool::start(cfg).await,
        Err(GossipError::KeyringFile { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}
