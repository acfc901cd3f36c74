//! End-to-end pool behaviour over real UDP on loopback (127.0.0.1, ports picked by the OS).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use praetor_gossip::{GossipError, Member, MemberEvent, MemberStatus, Pool, PoolConfig, Profile};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::net::UdpSocket;
use tokio::time::Instant;

mod common;

use common::{
    WAIT, drain, fast_timing, init_tracing, loopback, sees_alive, shutdown_all, wait_until,
};

fn config(name: &str, bind: SocketAddr, profile: Profile) -> PoolConfig {
    let mut cfg = PoolConfig::new(name, bind, profile);
    cfg.timing = Some(fast_timing());
    cfg.tags = BTreeMap::from([
        ("role".to_string(), "node".to_string()),
        ("dc".to_string(), "dc1".to_string()),
        ("id".to_string(), format!("id-{name}")),
    ]);
    cfg
}

async fn start(name: &str) -> Pool {
    init_tracing();
    Pool::start(config(name, loopback(), Profile::Lan))
        .await
        .expect("pool starts")
}

fn member(pool: &Pool, name: &str) -> Option<Member> {
    pool.members().into_iter().find(|m| m.name == name)
}

fn status(pool: &Pool, name: &str) -> Option<MemberStatus> {
    member(pool, name).map(|m| m.status)
}

/// a, b and c, with b and c joined through a; everybody sees three alive members.
async fn cluster3() -> (Pool, Pool, Pool) {
    let a = start("a").await;
    let b = start("b").await;
    let c = start("c").await;
    let seed = [a.local_addr()];
    assert_eq!(b.join(&seed, WAIT).await.unwrap(), 1);
    assert_eq!(c.join(&seed, WAIT).await.unwrap(), 1);
    for p in [&a, &b, &c] {
        wait_until(&format!("{} to see a, b, c alive", p.name()), || {
            sees_alive(p, &["a", "b", "c"])
        })
        .await;
    }
    (a, b, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_pools_join_through_one_seed_and_share_tags() {
    let (a, b, c) = cluster3().await;
    for p in [&a, &b, &c] {
        wait_until(&format!("{} to learn everyone's tags", p.name()), || {
            p.members()
                .iter()
                .all(|m| m.tags.get("id") == Some(&format!("id-{}", m.name)))
        })
        .await;
        let me = member(p, p.name()).unwrap();
        assert_eq!(me.addr, p.local_addr().ip());
        assert_eq!(me.port, p.local_addr().port());
        assert_eq!(me.tags["role"], "node");
        assert!(me.incarnation > 0);
    }
    let names: Vec<String> = a.members().into_iter().map(|m| m.name).collect();
    assert_eq!(names, ["a", "b", "c"], "sorted by name, self included");
    shutdown_all(&[&a, &b, &c]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_events_and_tag_update_reach_the_others() {
    let a = start("a").await;
    let mut events = a.subscribe();
    let b = start("b").await;
    let c = start("c").await;
    b.join(&[a.local_addr()], WAIT).await.unwrap();
    c.join(&[a.local_addr()], WAIT).await.unwrap();
    wait_until("a to see b and c", || sees_alive(&a, &["a", "b", "c"])).await;
    let joins: Vec<String> = drain(&mut events)
        .into_iter()
        .filter_map(|e| match e {
            MemberEvent::Join(m) => Some(m.name),
            _ => None,
        })
        .collect();
    assert!(joins.contains(&"b".to_string()) && joins.contains(&"c".to_string()));

    let mut tags = member(&b, "b").unwrap().tags;
    tags.insert("build".into(), "2.0.0".into());
    b.set_tags(tags.clone()).await.unwrap();
    assert_eq!(member(&b, "b").unwrap().tags, tags, "local view at once");
    for p in [&a, &c] {
        wait_until(&format!("{} to see b's new tags", p.name()), || {
            member(p, "b").is_some_and(|m| m.tags.get("build").map(String::as_str) == Some("2.0.0"))
        })
        .await;
    }
    wait_until("an Update event for b on a", || {
        drain(&mut events).iter().any(|e| {
            matches!(e, MemberEvent::Update(m) if m.name == "b" && m.tags.contains_key("build"))
        })
    })
    .await;
    shutdown_all(&[&a, &b, &c]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_leave_is_seen_as_left_not_failed() {
    let (a, b, c) = cluster3().await;
    let mut events = a.subscribe();
    b.leave(Duration::from_secs(5)).await.unwrap();
    assert_eq!(status(&b, "b"), Some(MemberStatus::Left));
    for p in [&a, &c] {
        wait_until(&format!("{} to see b left", p.name()), || {
            status(p, "b") == Some(MemberStatus::Left)
        })
        .await;
    }
    let about_b: Vec<MemberEvent> = drain(&mut events)
        .into_iter()
        .filter(|e| e.member().name == "b")
        .collect();
    assert!(
        about_b.iter().any(|e| matches!(e, MemberEvent::Left(_))),
        "{about_b:?}"
    );
    assert!(
        !about_b.iter().any(|e| matches!(e, MemberEvent::Failed(_))),
        "{about_b:?}"
    );
    assert!(matches!(
        b.join(&[a.local_addr()], WAIT).await,
        Err(GossipError::Left)
    ));
    // The two others keep working together.
    assert_eq!(status(&a, "c"), Some(MemberStatus::Alive));
    assert_eq!(status(&c, "a"), Some(MemberStatus::Alive));
    shutdown_all(&[&a, &b, &c]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abrupt_stop_is_failed_and_restart_comes_back_alive() {
    let (a, b, c) = cluster3().await;
    let c_addr = c.local_addr();
    let old_incarnation = member(&c, "c").unwrap().incarnation;
    let mut events = a.subscribe();
    let stopped = Instant::now();
    c.shutdown().await;
    for p in [&a, &b] {
        wait_until(&format!("{} to see c failed", p.name()), || {
            status(p, "c") == Some(MemberStatus::Failed)
        })
        .await;
    }
    // Suspicion is 3 x 200ms here; detection should take a couple of seconds at most.
    assert!(stopped.elapsed() < Duration::from_secs(10));
    assert!(
        drain(&mut events)
            .iter()
            .any(|e| matches!(e, MemberEvent::Failed(m) if m.name == "c"))
    );

    // Same name, same address: a new process life.
    let c2 = Pool::start(config("c", c_addr, Profile::Lan))
        .await
        .unwrap();
    assert_eq!(c2.local_addr(), c_addr);
    c2.join(&[a.local_addr()], WAIT).await.unwrap();
    for p in [&a, &b, &c2] {
        wait_until(&format!("{} to see a, b, c alive again", p.name()), || {
            sees_alive(p, &["a", "b", "c"])
        })
        .await;
    }
    assert!(member(&a, "c").unwrap().incarnation > old_incarnation);
    wait_until("a Join event for the restarted c", || {
        drain(&mut events)
            .iter()
            .any(|e| matches!(e, MemberEvent::Join(m) if m.name == "c"))
    })
    .await;
    shutdown_all(&[&a, &b, &c2]).await;
}

/// serf's reconnect: after a network cut heals, both sides find each other again by
/// themselves. Seed re-announcing is pushed out of the way, so only the reconnect can heal it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healed_cut_rejoins_through_reconnect() {
    init_tracing();
    let mut timing = fast_timing();
    timing.rejoin_interval = Duration::from_secs(3600);
    timing.seed_announce_interval = Duration::from_secs(3600);
    let cut = Arc::new(AtomicBool::new(false));
    let pool = |name: &str, cut: Option<Arc<AtomicBool>>| {
        let mut cfg = config(name, loopback(), Profile::Lan);
        cfg.timing = Some(timing.clone());
        cfg.test_cut = cut;
        Pool::start(cfg)
    };
    let a = pool("a", None).await.unwrap();
    let b = pool("b", None).await.unwrap();
    let c = pool("c", Some(cut.clone())).await.unwrap();
    b.join(&[a.local_addr()], WAIT).await.unwrap();
    c.join(&[a.local_addr()], WAIT).await.unwrap();
    for p in [&a, &b, &c] {
        wait_until(&format!("{} to see a, b, c alive", p.name()), || {
            sees_alive(p, &["a", "b", "c"])
        })
        .await;
    }
    // c hears nothing: it declares a and b failed and they declare c failed.
    cut.store(true, Ordering::Relaxed);
    for (p, other) in [(&a, "c"), (&b, "c"), (&c, "a"), (&c, "b")] {
        wait_until(&format!("{} to see {other} failed", p.name()), || {
            status(p, other) == Some(MemberStatus::Failed)
        })
        .await;
    }
    cut.store(false, Ordering::Relaxed);
    for p in [&a, &b, &c] {
        wait_until(&format!("{} to see a, b, c alive again", p.name()), || {
            sees_alive(p, &["a", "b", "c"])
        })
        .await;
    }
    shutdown_all(&[&a, &b, &c]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_leave_turns_a_failed_member_left() {
    let (a, b, c) = cluster3().await;
    c.shutdown().await;
    for p in [&a, &b] {
        wait_until(&format!("{} to see c failed", p.name()), || {
            status(p, "c") == Some(MemberStatus::Failed)
        })
        .await;
    }
    let mut events = a.subscribe();
    a.force_leave("c", false).await.unwrap();
    assert_eq!(status(&a, "c"), Some(MemberStatus::Left));
    assert!(
        drain(&mut events)
            .iter()
            .any(|e| matches!(e, MemberEvent::Left(m) if m.name == "c"))
    );
    wait_until("b to learn c was force-left", || {
        status(&b, "c") == Some(MemberStatus::Left)
    })
    .await;

    match a.force_leave("nope", false).await {
        Err(GossipError::NoMember(name)) => assert_eq!(name, "nope"),
        other => panic!("expected NoMember, got {other:?}"),
    }
    // An alive member is not affected, even with prune.
    a.force_leave("b", true).await.unwrap();
    assert_eq!(status(&a, "b"), Some(MemberStatus::Alive));
    // Prune forgets the left member at once instead of at its tombstone timeout.
    a.force_leave("c", true).await.unwrap();
    assert_eq!(status(&a, "c"), None);
    assert!(
        drain(&mut events)
            .iter()
            .any(|e| matches!(e, MemberEvent::Reap(m) if m.name == "c"))
    );
    shutdown_all(&[&a, &b]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_datagrams_are_dropped_and_the_pool_keeps_working() {
    let a = start("a").await;
    let b = start("b").await;
    b.join(&[a.local_addr()], WAIT).await.unwrap();
    wait_until("a and b to see each other", || {
        sees_alive(&a, &["a", "b"]) && sees_alive(&b, &["a", "b"])
    })
    .await;

    let mut datagrams: Vec<Vec<u8>> = vec![
        vec![],                 // empty
        vec![1],                // short
        vec![9, 0, 1, 2, 3],    // unknown envelope version
        vec![1, 9, 0, 0],       // unknown kind
        vec![1, 200, 5],        // unknown kind
        vec![1, 0x80, 1, 2, 3], // encrypted, but this pool has no keyring
        vec![1, 1, 0xff, 0xff], // ping, garbage
        vec![1, 2],             // ack, empty
        vec![1, 3, 0xff],       // key query, garbage
        vec![1, 4, 0xff, 0xff], // key reply, garbage
        vec![1, 5, 0xff, 0xff], // state sync, garbage
        vec![1, 0],             // foca kind, no payload
        vec![1, 0, 0xff, 0xff], // foca kind, garbage
    ];
    let mut oversized = vec![1, 0];
    oversized.resize(4000, 0xab);
    datagrams.push(oversized);
    let mut rng = StdRng::seed_from_u64(0x5eed);
    for _ in 0..200 {
        let len = rng.random_range(1..600);
        let mut d = vec![0u8; len];
        rng.fill(&mut d[..]);
        if rng.random_bool(0.5) {
            // Valid envelope, garbage foca payload.
            d.splice(0..0, [1u8, 0u8]);
        }
        datagrams.push(d);
    }

    let before = a.stats();
    let attacker = UdpSocket::bind(loopback()).await.unwrap();
    // Small batches, each waited for, so the kernel's receive buffer never overflows.
    let mut sent = 0u64;
    for batch in datagrams.chunks(10) {
        for d in batch {
            attacker.send_to(d, a.local_addr()).await.unwrap();
        }
        sent += batch.len() as u64;
        let expected = before.dropped + sent;
        wait_until(&format!("a to drop {sent} garbage datagrams"), || {
            a.stats().dropped >= expected
        })
        .await;
    }
    let after = a.stats();
    assert_eq!(after.decrypt_failures, 0, "no keyring: nothing to decrypt");
    assert_eq!(after.malformed, after.dropped);
    assert!(after.packets_in >= before.packets_in + datagrams.len() as u64);
    assert!(after.packets_out > 0 && after.bytes_out > 0 && after.bytes_in > 0);

    // Still working: a tag change still travels and both stay alive.
    let mut tags = member(&a, "a").unwrap().tags;
    tags.insert("vsn".into(), "3".into());
    a.set_tags(tags).await.unwrap();
    wait_until("b to see a's new tag", || {
        member(&b, "a").is_some_and(|m| m.tags.get("vsn").map(String::as_str) == Some("3"))
    })
    .await;
    assert!(sees_alive(&a, &["a", "b"]) && sees_alive(&b, &["a", "b"]));
    shutdown_all(&[&a, &b]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_counts_answers_and_fails_when_nobody_answers() {
    let a = start("a").await;
    let b = start("b").await;
    // Bound but never read: nobody answers from there.
    let silent = UdpSocket::bind(loopback()).await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let n = b
        .join(&[silent_addr, a.local_addr()], Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(n, 1);

    let lonely = start("lonely").await;
    let started = Instant::now();
    match lonely
        .join(&[silent_addr], Duration::from_millis(500))
        .await
    {
        Err(GossipError::JoinFailed { addrs, .. }) => assert_eq!(addrs, [silent_addr]),
        other => panic!("expected JoinFailed, got {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert!(matches!(
        lonely
            .join(&[lonely.local_addr()], Duration::from_millis(100))
            .await,
        Err(GossipError::JoinFailed { .. })
    ));
    assert_eq!(lonely.members().len(), 1);
    shutdown_all(&[&a, &b, &lonely]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_re_announcing_to_a_seed_that_starts_later() {
    init_tracing();
    // Reserve a free port for the seed, then release it.
    let seed_addr = UdpSocket::bind(loopback())
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let b = start("b").await;
    assert!(
        b.join(&[seed_addr], Duration::from_millis(300))
            .await
            .is_err()
    );
    let a = Pool::start(config("a", seed_addr, Profile::Lan))
        .await
        .unwrap();
    wait_until("b to reach the late seed", || {
        sees_alive(&a, &["a", "b"]) && sees_alive(&b, &["a", "b"])
    })
    .await;
    shutdown_all(&[&a, &b]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wan_profile_pools_join() {
    init_tracing();
    let a = Pool::start(config("a.dc1", loopback(), Profile::Wan))
        .await
        .unwrap();
    let b = Pool::start(config("b.dc2", loopback(), Profile::Wan))
        .await
        .unwrap();
    assert_eq!(b.join(&[a.local_addr()], WAIT).await.unwrap(), 1);
    wait_until("WAN members to see each other", || {
        sees_alive(&a, &["a.dc1", "b.dc2"]) && sees_alive(&b, &["a.dc1", "b.dc2"])
    })
    .await;
    shutdown_all(&[&a, &b]).await;
}

/// Two WAN groups (a+b, c+d) joined by one push-pull between a and c: b and d learn each
/// other's tags soon after each other's membership, not a tags interval (here 1 h) later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wan_members_learned_through_a_join_get_their_tags_soon() {
    init_tracing();
    let mut timing = fast_timing();
    timing.tags_interval = Duration::from_secs(3600);
    timing.push_pull_interval = Duration::from_secs(3600);
    let pool = |name: &str| {
        let mut cfg = config(name, loopback(), Profile::Wan);
        cfg.timing = Some(timing.clone());
        Pool::start(cfg)
    };
    let (a, b) = (pool("a.dc1").await.unwrap(), pool("b.dc1").await.unwrap());
    let (c, d) = (pool("c.dc2").await.unwrap(), pool("d.dc2").await.unwrap());
    b.join(&[a.local_addr()], WAIT).await.unwrap();
    d.join(&[c.local_addr()], WAIT).await.unwrap();
    // Let the start-up tag broadcasts run out (foca sends an item 4 times in a pool this
    // small): wait until every pool has sent 30 more datagrams (probes and gossip).
    let pools = [&a, &b, &c, &d];
    let sent: Vec<u64> = pools.iter().map(|p| p.stats().packets_out).collect();
    wait_until("30 more datagrams from every pool", || {
        pools
            .iter()
            .zip(&sent)
            .all(|(p, s)| p.stats().packets_out >= s + 30)
    })
    .await;
    a.join(&[c.local_addr()], WAIT).await.unwrap();
    let has_tags = |p: &Pool, name: &str| {
        member(p, name).is_some_and(|m| m.tags.get("id") == Some(&format!("id-{name}")))
    };
    wait_until("b to have d's tags and d to have b's", || {
        has_tags(&b, "d.dc2") && has_tags(&d, "b.dc1")
    })
    .await;
    shutdown_all(&[&a, &b, &c, &d]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_tags_are_rejected() {
    let a = start("a").await;
    let tags = BTreeMap::from([("big".to_string(), "x".repeat(600))]);
    assert!(matches!(
        a.set_tags(tags.clone()).await,
        Err(GossipError::TagsTooLarge { max: 512, .. })
    ));
    let mut cfg = config("z", loopback(), Profile::Lan);
    cfg.tags = tags;
    assert!(matches!(
        Pool::start(cfg).await,
        Err(GossipError::TagsTooLarge { .. })
    ));
    a.shutdown().await;
    assert!(matches!(
        a.set_tags(BTreeMap::new()).await,
        Err(GossipError::Closed)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_and_left_members_are_reaped_after_their_timeouts() {
    init_tracing();
    let mut cfg = config("a", loopback(), Profile::Lan);
    cfg.reconnect_timeout = Duration::from_secs(1);
    cfg.tombstone_timeout = Duration::from_secs(1);
    let a = Pool::start(cfg).await.unwrap();
    let mut events = a.subscribe();
    let b = start("b").await;
    let c = start("c").await;
    b.join(&[a.local_addr()], WAIT).await.unwrap();
    c.join(&[a.local_addr()], WAIT).await.unwrap();
    wait_until("a to see b and c", || sees_alive(&a, &["a", "b", "c"])).await;

    b.leave(Duration::from_secs(5)).await.unwrap();
    c.shutdown().await;
    let mut seen = Vec::new();
    wait_until("a to reap b and c", || {
        seen.extend(drain(&mut events));
        a.members().len() == 1
    })
    .await;
    let reaped = |name: &str, status: MemberStatus| {
        seen.iter()
            .any(|e| matches!(e, MemberEvent::Reap(m) if m.name == name && m.status == status))
    };
    assert!(reaped("b", MemberStatus::Left), "{seen:?}");
    assert!(reaped("c", MemberStatus::Failed), "{seen:?}");
    shutdown_all(&[&a, &b]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_events_reach_every_member_once_with_rising_lamport_times() {
    let (a, b, c) = cluster3().await;
    let mut at_b = b.subscribe_user_events();
    let mut at_c = c.subscribe_user_events();
    let t1 = a.user_event("e1".into(), b"one".to_vec()).await.unwrap();
    let t2 = a.user_event("e2".into(), b"two".to_vec()).await.unwrap();
    assert!(t2 > t1, "Lamport time rises: {t1} then {t2}");
    for (name, rx) in [("b", &mut at_b), ("c", &mut at_c)] {
        let mut seen = Vec::new();
        let deadline = Instant::now() + WAIT;
        while seen.len() < 2 {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Ok(e)) => seen.push((e.id, e.body)),
                other => panic!("{name} did not get both events before the deadline: {other:?}"),
            }
        }
        seen.sort();
        assert_eq!(
            seen,
            [
                ("e1".to_string(), b"one".to_vec()),
                ("e2".to_string(), b"two".to_vec())
            ],
            "{name}"
        );
        // Each event is delivered once: nothing more arrives while the gossip settles.
        let settle = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await;
        assert!(settle.is_err(), "{name} got a duplicate: {settle:?}");
    }
    match a
        .user_event("big".into(), vec![0; praetor_gossip::MAX_EVENT_BYTES + 1])
        .await
    {
        Err(GossipError::EventTooLarge { .. }) => {}
        other => panic!("expected EventTooLarge, got {other:?}"),
    }
    shutdown_all(&[&a, &b, &c]).await;
}
