//! WAN federation with real processes: dc1 on 127.0.1.1-3, dc2 on 127.0.2.1-3, dc3 on
//! 127.0.3.1, gossip encrypted. One `praetor join -wan` from one server federates them (flood
//! join brings in the rest); requests, DNS and the CLI reach other datacenters; remote answers
//! are translated to WAN addresses; datacenters are ranked by measured RTT (dc2 sends its WAN
//! datagrams 100 ms late through the transport's test hook); SIGKILLing every dc2 server
//! leaves dc1 serving while dc2 calls fail fast, and dc2 comes back by itself; a node with
//! another gossip key cannot join; keys are rotated across the running datacenters without
//! any member flapping.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use praetor_tests::{Agent, AgentOptions, Http, dns, wait_for};

const KEY1: &str = "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=";
const KEY2: &str = "HS5lJ+XuTlYKWaeGYyG+/A4ZrtgjzUhP6kgh0t9VNyg=";
/// Added to every WAN datagram dc2's servers send (the transport's test hook).
const DC2_DELAY_MS: u64 = 100;

fn options(key: &str, env: Vec<(String, String)>) -> AgentOptions {
    // WAN probes every second (Consul's `gossip_wan`) so coordinates settle within the test.
    let config_json = format!(
        r#"{{"performance":{{"raft_multiplier":1}},"log_level":"debug",
            "translate_wan_addrs":true,"encrypt":"{key}",
            "gossip_wan":{{"probe_interval":"1s","probe_timeout":"500ms","gossip_interval":"200ms"}}}}"#
    );
    AgentOptions {
        config_json,
        env,
        ..AgentOptions::default()
    }
}

fn datacenter(n: u8, servers: u8, env: Vec<(String, String)>) -> Vec<Agent> {
    let dc = format!("-datacenter=dc{n}");
    let expect = format!("-bootstrap-expect={servers}");
    let join = format!("-retry-join=127.0.{n}.1");
    let flags = [
        dc.as_str(),
        "-server",
        expect.as_str(),
        join.as_str(),
        "-retry-interval=1s",
    ];
    (1..=servers)
        .map(|i| {
            Agent::start_with(
                &format!("s{i}"),
                &format!("127.0.{n}.{i}"),
                &flags,
                &options(KEY1, env.clone()),
            )
        })
        .collect()
}

/// (name, status) of every member of a pool as the agent sees it.
fn members(h: &Http, wan: bool) -> Option<Vec<(String, u64)>> {
    let path = if wan {
        "/v1/agent/members?wan=1"
    } else {
        "/v1/agent/members"
    };
    let r = h.try_get(path).ok()?;
    (r.status == 200).then_some(())?;
    Some(
        r.json()
            .as_array()?
            .iter()
            .map(|m| {
                (
                    m["Name"].as_str().unwrap_or_default().to_string(),
                    m["Status"].as_u64().unwrap_or(0),
                )
            })
            .collect(),
    )
}

fn alive_count(h: &Http, wan: bool) -> usize {
    members(h, wan)
        .unwrap_or_default()
        .iter()
        .filter(|(_, s)| *s == 1)
        .count()
}

fn datacenters(h: &Http) -> Option<Vec<String>> {
    serde_json::from_value(h.try_get("/v1/catalog/datacenters").ok()?.json()).ok()
}

fn leader_known(a: &Agent) -> bool {
    a.http().leader().is_some_and(|l| !l.is_empty())
}

fn srv_answers(server: std::net::SocketAddr, name: &str) -> Vec<(String, u16)> {
    dns(server, name, RecordType::SRV)
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(s) => Some((s.target.to_ascii(), s.port)),
            _ => None,
        })
        .collect()
}

fn a_answers(server: std::net::SocketAddr, name: &str) -> Vec<String> {
    dns(server, name, RecordType::A)
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect()
}

fn p50(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// `n` local writes and reads through `h`; every one must succeed. Returns the p50 of each.
fn local_load(h: &Http, n: usize, tag: &str) -> (Duration, Duration) {
    let (mut w, mut r) = (Vec::new(), Vec::new());
    for i in 0..n {
        let t = Instant::now();
        assert_eq!(
            h.put(&format!("/v1/kv/load/{tag}/{i}"), b"x").text(),
            "true",
            "local write {i} ({tag})"
        );
        w.push(t.elapsed());
        let t = Instant::now();
        assert!(
            h.kv_get(&format!("load/{tag}/{i}"), "").is_some(),
            "local read {i} ({tag})"
        );
        r.push(t.elapsed());
    }
    (p50(w), p50(r))
}

#[test]
fn three_datacenters_federated_over_the_wan() {
    let delay = vec![(
        "PRAETOR_TEST_WAN_DELAY_MS".to_string(),
        DC2_DELAY_MS.to_string(),
    )];
    let dc1 = datacenter(1, 3, Vec::new());
    let mut dc2 = datacenter(2, 3, delay);
    let dc3 = datacenter(3, 1, Vec::new());
    for a in dc1.iter().chain(&dc2).chain(&dc3) {
        wait_for(
            &format!("{} knows a leader", a.ip),
            Duration::from_secs(60),
            || leader_known(a).then_some(()),
        );
    }

    // One `join -wan` from one server; flood join brings in every other server.
    let (code, out, err) = dc1[0].cli(&["join", "-wan", "127.0.2.1", "127.0.3.1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Successfully joined cluster by contacting 2 nodes."),
        "{out}"
    );
    for a in dc1.iter().chain(&dc2).chain(&dc3) {
        wait_for(
            &format!("{} sees 7 alive WAN members", a.ip),
            Duration::from_secs(60),
            || (alive_count(&a.http(), true) == 7).then_some(()),
        );
    }
    let wan = members(&dc3[0].http(), true).unwrap();
    for n in [
        "s1.dc1", "s2.dc1", "s3.dc1", "s1.dc2", "s2.dc2", "s3.dc2", "s1.dc3",
    ] {
        assert!(wan.iter().any(|(m, _)| m == n), "{n} in {wan:?}");
    }
    let (code, out, _) = dc2[1].cli(&["members", "-wan"]);
    assert_eq!(code, 0);
    assert!(
        out.lines()
            .any(|l| l.starts_with("s1.dc3") && l.contains("127.0.3.1:8302") && l.contains("dc3")),
        "{out}"
    );
    // The router view follows the WAN pool (on events, and every 2 s).
    // Every server has its own router: wait for each one.
    let named = [("dc1", &dc1), ("dc2", &dc2), ("dc3", &dc3)];
    for (own, a) in named
        .iter()
        .flat_map(|(own, dc)| dc.iter().map(move |a| (*own, a)))
    {
        let dcs = wait_for(
            &format!("{} ({own}) knows 3 datacenters", a.ip),
            Duration::from_secs(30),
            || datacenters(&a.http()).filter(|d| d.len() == 3),
        );
        assert_eq!(dcs[0], own, "each datacenter lists itself first: {dcs:?}");
    }

    // Cross-datacenter reads and writes: HTTP ?dc=, the CLI's -datacenter, errors.
    let (code, out, err) = dc1[0].cli(&["kv", "put", "-datacenter=dc2", "hello", "world"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Success! Data written to: hello"), "{out}");
    // Read-after-write needs `consistent`: a default read may reach a leader that was just
    // deposed and has not seen the write (Consul's documented default-mode staleness).
    let raw = |h: Http, q: &str| {
        let r = h.get(&format!("/v1/kv/hello?raw{q}"));
        (r.status, r.text())
    };
    assert_eq!(raw(dc2[0].http(), "&consistent"), (200, "world".into()));
    assert_eq!(
        raw(dc1[2].http(), "&dc=dc2&consistent"),
        (200, "world".into())
    );
    // A stale read may land on a dc2 follower that has not applied the write yet.
    wait_for(
        "dc3 reads dc2's key (stale)",
        Duration::from_secs(10),
        || {
            dc3[0]
                .http()
                .kv_get("hello", "&dc=dc2&stale")
                .filter(|v| v == b"world")
        },
    );
    assert!(
        dc1[0].http().kv_get("hello", "").is_none(),
        "datacenters keep their own KV"
    );
    let (code, out, _) = dc3[0].cli(&["kv", "get", "-datacenter=dc2", "hello"]);
    assert_eq!((code, out.trim()), (0, "world"));
    let r = dc1[0].http().get("/v1/kv/hello?dc=nope");
    assert_eq!(
        (r.status, r.text().as_str()),
        (500, "No path to datacenter")
    );
    let q = dns(
        dc1[0].dns_addr(),
        "consul.service.nope.consul.",
        RecordType::A,
    );
    assert_eq!(q.metadata.response_code, ResponseCode::NXDomain);

    // A blocking query on dc2's KV asked of dc1 wakes on dc2's write.
    let index = dc1[0].http().get("/v1/kv/hello?dc=dc2").index();
    let waiter = {
        let h = dc1[1].http();
        std::thread::spawn(move || h.get(&format!("/v1/kv/hello?dc=dc2&index={index}&wait=30s")))
    };
    // The query must be blocked in dc2 (on its leader) before the write.
    wait_for(
        "the forwarded query blocks in dc2",
        Duration::from_secs(30),
        || {
            dc2.iter()
                .any(|s| s.http().metric("consul_rpc_queries_blocking") >= 1.0)
                .then_some(())
        },
    );
    assert_eq!(dc2[1].http().put("/v1/kv/hello", b"again").text(), "true");
    let woke = waiter.join().unwrap();
    assert!(woke.index() > index);
    assert!(woke.text().contains("YWdhaW4="), "{}", woke.text()); // base64("again")

    // A client agent of dc1 forwards through its servers.
    let client = Agent::start_with(
        "c1",
        "127.0.1.10",
        &[
            "-datacenter=dc1",
            "-retry-join=127.0.1.1",
            "-retry-interval=1s",
        ],
        &options(KEY1, Vec::new()),
    );
    wait_for("client reaches dc2", Duration::from_secs(30), || {
        client
            .http()
            .kv_get("hello", "&dc=dc2")
            .filter(|v| v == b"again")
    });
    let r = client.http().get("/v1/kv/hello?dc=nope");
    assert_eq!(
        (r.status, r.text().as_str()),
        (500, "rpc error making call: No path to datacenter")
    );
    assert_eq!(members(&client.http(), true).unwrap(), vec![]);
    assert_eq!(datacenters(&client.http()).unwrap()[0], "dc1");

    // translate_wan_addrs (Consul's TestDNS_ServiceLookup_WanTranslation and catalog tests).
    let foo = br#"{"Node":"foo","Address":"127.0.0.1","TaggedAddresses":{"wan":"127.0.0.2"},
        "Service":{"Service":"web","Port":8080}}"#;
    let bar = br#"{"Node":"bar","Address":"127.0.0.1","TaggedAddresses":{"wan":"127.0.0.2"},
        "Service":{"Service":"api","Address":"10.0.1.1","Port":8080,
                   "TaggedAddresses":{"wan":{"Address":"198.18.0.1","Port":80}}}}"#;
    assert_eq!(
        dc2[0].http().put("/v1/catalog/register", foo).text(),
        "true"
    );
    assert_eq!(
        dc2[0].http().put("/v1/catalog/register", bar).text(),
        "true"
    );
    let node_addr = |h: &Http, node: &str| -> String {
        let nodes = h.get("/v1/catalog/nodes?dc=dc2").json();
        nodes
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["Node"] == node)
            .map(|n| n["Address"].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    assert_eq!(node_addr(&dc1[0].http(), "foo"), "127.0.0.2", "remote: WAN");
    assert_eq!(node_addr(&dc2[0].http(), "foo"), "127.0.0.1", "local: LAN");
    let r = dc1[0].http().get("/v1/catalog/service/api?dc=dc2");
    assert_eq!(r.header("X-Consul-Translate-Addresses"), Some("true"));
    let api = &r.json()[0];
    assert_eq!(
        (api["ServiceAddress"].as_str(), api["ServicePort"].as_u64()),
        (Some("198.18.0.1"), Some(80))
    );
    assert_eq!(api["Address"], "127.0.0.2");
    let api = &dc2[0].http().get("/v1/catalog/service/api").json()[0];
    assert_eq!(
        (api["ServiceAddress"].as_str(), api["ServicePort"].as_u64()),
        (Some("10.0.1.1"), Some(8080))
    );
    let web = &dc1[0].http().get("/v1/health/service/web?dc=dc2").json()[0];
    assert_eq!(web["Node"]["Address"], "127.0.0.2");
    assert_eq!(
        web["Node"]["TaggedAddresses"]["lan"],
        serde_json::Value::Null
    );
    // DNS reads are stale by default (any server answers): wait until every dc2 server has
    // applied both registrations.
    for s in &dc2 {
        wait_for(
            &format!("{} applied the registrations", s.ip),
            Duration::from_secs(10),
            || {
                let h = s.http();
                let has = |svc: &str| {
                    h.try_get(&format!("/v1/catalog/service/{svc}?stale"))
                        .ok()
                        .and_then(|r| r.json().as_array().map(|a| !a.is_empty()))
                        .unwrap_or(false)
                };
                (has("web") && has("api")).then_some(())
            },
        );
    }
    // DNS from dc1 (remote) and from dc2 (local).
    assert_eq!(
        srv_answers(dc1[0].dns_addr(), "web.service.dc2.consul."),
        [("7f000002.addr.dc2.consul.".to_string(), 8080)]
    );
    assert_eq!(
        a_answers(dc1[0].dns_addr(), "web.service.dc2.consul."),
        ["127.0.0.2"]
    );
    assert_eq!(
        srv_answers(dc2[0].dns_addr(), "web.service.dc2.consul."),
        [("foo.node.dc2.consul.".to_string(), 8080)]
    );
    assert_eq!(
        a_answers(dc2[0].dns_addr(), "web.service.dc2.consul."),
        ["127.0.0.1"]
    );
    assert_eq!(
        srv_answers(dc1[0].dns_addr(), "api.service.dc2.consul."),
        [("c6120001.addr.dc2.consul.".to_string(), 80)]
    );
    assert_eq!(
        srv_answers(dc2[0].dns_addr(), "api.service.dc2.consul."),
        [("0a000101.addr.dc2.consul.".to_string(), 8080)]
    );
    assert_eq!(
        a_answers(dc1[0].dns_addr(), "foo.node.dc2.consul."),
        ["127.0.0.2"]
    );

    // Network coordinates: dc2 is 100 ms away, dc3 next door, so dc1 ranks dc3 before dc2.
    // A datacenter without coordinates sorts last too, so first wait until dc1 has measured
    // every server (all 7 in its WAN coordinates), then check the order.
    let measured = |a: &Agent| -> Option<usize> {
        let maps = a.http().try_get("/v1/coordinate/datacenters").ok()?.json();
        Some(
            maps.as_array()?
                .iter()
                .map(|m| m["Coordinates"].as_array().map_or(0, Vec::len))
                .sum(),
        )
    };
    for a in [&dc1[0], &dc3[0]] {
        wait_for(
            &format!("{} has WAN coordinates of all 7 servers", a.ip),
            Duration::from_secs(120),
            || (measured(a)? == 7).then_some(()),
        );
    }
    wait_for(
        "dc1 ranks dc3 before dc2 by RTT",
        Duration::from_secs(90),
        || (datacenters(&dc1[0].http())? == ["dc1", "dc3", "dc2"]).then_some(()),
    );
    wait_for("dc3 ranks dc1 before dc2", Duration::from_secs(60), || {
        (datacenters(&dc3[0].http())? == ["dc3", "dc1", "dc2"]).then_some(())
    });
    let maps = dc1[0].http().get("/v1/coordinate/datacenters").json();
    let maps = maps.as_array().unwrap();
    assert_eq!(maps.len(), 3, "{maps:?}");
    assert!(maps.iter().all(|m| m["AreaID"] == "wan"));
    // s1.dc1 learns s1.dc2's coordinate once one of them has probed the other; the estimate
    // then converges toward the injected delay as probes accumulate (it read 16.7 ms of 100
    // once, right after the ranking had settled).
    let ms = wait_for(
        "a WAN rtt estimate s1.dc1 <-> s1.dc2 above a quarter of the injected delay",
        Duration::from_secs(60),
        || {
            let (code, out, _) = dc1[0].cli(&["rtt", "-wan", "s1.dc1", "s1.dc2"]);
            if code != 0 {
                return None;
            }
            let ms: f64 = out
                .split("rtt: ")
                .nth(1)
                .and_then(|s| s.split(' ').next())
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("rtt output: {out}"));
            (ms > (DC2_DELAY_MS / 4) as f64).then_some(ms)
        },
    );
    eprintln!("estimated WAN rtt s1.dc1 <-> s1.dc2: {ms} ms (injected {DC2_DELAY_MS} ms)");
    wait_for(
        "LAN coordinates in dc1's catalog",
        Duration::from_secs(60),
        || {
            let c = dc1[0].http().try_get("/v1/coordinate/nodes").ok()?.json();
            (c.as_array()?.len() >= 3).then_some(())
        },
    );

    // Isolation: SIGKILL every dc2 server. dc1 keeps serving; dc2 calls fail fast.
    let (w_before, r_before) = local_load(&dc1[0].http(), 100, "before");
    for a in dc2.iter_mut() {
        a.kill();
    }
    let t = Instant::now();
    let r = dc1[0].http().get("/v1/kv/hello?dc=dc2");
    let first = t.elapsed();
    assert_eq!(r.status, 500, "{}", r.text());
    let t = Instant::now();
    let r = dc1[0].http().get("/v1/kv/hello?dc=dc2");
    let second = t.elapsed();
    assert_eq!(
        (r.status, r.text().as_str()),
        (500, "Remote DC has no server currently reachable")
    );
    let q = dns(dc1[1].dns_addr(), "web.service.dc2.consul.", RecordType::A);
    assert_eq!(q.metadata.response_code, ResponseCode::ServFail);
    let (w_during, r_during) = local_load(&dc1[0].http(), 100, "during");
    eprintln!(
        "dc2 down: first call failed in {first:?}, next in {second:?}; dc1 local p50 write \
         {w_before:?} -> {w_during:?}, read {r_before:?} -> {r_during:?}"
    );
    assert!(first < Duration::from_secs(5) && second < Duration::from_secs(5));
    assert_eq!(dc3[0].http().kv_get("hello", "&dc=dc1"), None);
    assert_eq!(
        datacenters(&dc1[0].http()).unwrap().len(),
        3,
        "dc2 stays known"
    );

    // dc2 comes back: routable again with no operator action.
    for a in dc2.iter_mut() {
        a.restart();
    }
    wait_for(
        "dc2 routable again from dc1",
        Duration::from_secs(120),
        || {
            dc1[0]
                .http()
                .kv_get("hello", "&dc=dc2")
                .filter(|v| v == b"again")
        },
    );

    // Gossip keys: a node with another key cannot join; its datagrams are counted.
    let stranger = Agent::start_with(
        "stranger",
        "127.0.1.20",
        &[
            "-datacenter=dc1",
            "-retry-join=127.0.1.1",
            "-retry-interval=1s",
        ],
        &options(KEY2, Vec::new()),
    );
    wait_for(
        "wrong-key datagrams counted",
        Duration::from_secs(30),
        || {
            (dc1[0]
                .http()
                .metric("consul_serf_lan_decrypt_failures_total")
                > 0.0)
                .then_some(())
        },
    );
    assert!(
        !members(&dc1[0].http(), false)
            .unwrap()
            .iter()
            .any(|(n, _)| n == "stranger")
    );
    assert_eq!(members(&stranger.http(), false).unwrap().len(), 1);

    // Rotation across the running datacenters while watching every member's status.
    let watched: Vec<(Http, bool)> = vec![
        (dc1[0].http(), false),
        (dc1[0].http(), true),
        (dc2[0].http(), false),
        (dc3[0].http(), true),
    ];
    // Every watched view must have seen dc2's restart first (a view may still hold the killed
    // servers as failed for a while).
    wait_for(
        "every view sees every member alive",
        Duration::from_secs(120),
        || {
            watched
                .iter()
                .all(|(h, wan)| {
                    let m = members(h, *wan).unwrap_or_default();
                    !m.is_empty() && m.iter().all(|(n, s)| *s == 1 || n == "stranger")
                })
                .then_some(())
        },
    );
    assert_eq!(alive_count(&dc1[0].http(), true), 7);
    let flapped = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (flapped, stop) = (flapped.clone(), stop.clone());
        let watched = watched.clone();
        std::thread::spawn(move || {
            let mut seen: BTreeMap<String, u64> = BTreeMap::new();
            while !stop.load(Ordering::Relaxed) {
                for (h, wan) in &watched {
                    for (name, status) in members(h, *wan).unwrap_or_default() {
                        if status != 1 && name != "stranger" {
                            flapped.store(true, Ordering::Relaxed);
                            seen.insert(name, status);
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            seen
        })
    };
    for (flag, banner) in [
        (
            format!("-install={KEY2}"),
            "==> Installing new gossip encryption key...",
        ),
        (
            format!("-use={KEY2}"),
            "==> Changing primary gossip encryption key...",
        ),
        (
            format!("-remove={KEY1}"),
            "==> Removing gossip encryption key...",
        ),
    ] {
        let (code, out, err) = dc1[0].cli(&["keyring", &flag]);
        assert_eq!(code, 0, "keyring {flag}: {out}{err}");
        assert!(out.contains(banner), "{out}");
    }
    let (code, out, err) = dc1[0].cli(&["keyring", "-list"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("WAN:") && out.contains("dc1 (LAN):") && out.contains("dc2 (LAN):"),
        "{out}"
    );
    assert!(!out.contains(KEY1), "old key gone everywhere: {out}");
    assert!(out.contains(&format!("{KEY2} [7/7]")), "{out}");
    // The node holding the new key can join now.
    wait_for(
        "stranger joins with the new key",
        Duration::from_secs(60),
        || {
            members(&dc1[0].http(), false)?
                .iter()
                .any(|(n, s)| n == "stranger" && *s == 1)
                .then_some(())
        },
    );
    stop.store(true, Ordering::Relaxed);
    let seen = watcher.join().unwrap();
    assert!(
        !flapped.load(Ordering::Relaxed),
        "members flapped during rotation: {seen:?}"
    );
}

/// Consul's `TestRetryJoinWanFail`: `retry_max_wan` attempts that all fail stop the agent with
/// a non-zero exit code.
#[test]
fn retry_join_wan_gives_up_after_retry_max_wan() {
    let mut a = Agent::start(
        "rjw",
        "127.0.4.1",
        &[
            "-server",
            "-bootstrap-expect=1",
            "-retry-join-wan=127.0.0.1:99",
            "-retry-max-wan=1",
            "-retry-interval-wan=10ms",
        ],
    );
    let code = a.wait_exit(Duration::from_secs(60));
    assert!(matches!(code, Some(c) if c != 0), "exit code {code:?}");
    assert!(
        a.logs().contains("max join WAN retry exhausted"),
        "{}",
        a.logs()
    );
}
