//! The same peer reachable by the WAN pool and by a network area: cutting the WAN path keeps
//! forwarding through the area. dc1 (127.0.1.1) and dc2 (127.0.2.1) are WAN-joined and share
//! an area. Both agents drop every WAN datagram while a cut file exists (the transport's test
//! hook, `PRAETOR_TEST_WAN_CUT_FILE`): each sees the other failed in `members -wan`, and
//! requests still cross over the area. Deleting the area then leaves no usable path (the
//! control: the WAN path really is cut). Removing the cut file heals the WAN pool by itself
//! (serf's reconnect), and requests cross again.

use std::time::Duration;

use praetor_tests::{Agent, AgentOptions, Http, kv_in_dc, scratch, wait_for};

/// The CLI against `a`: (exit code, stdout + stderr).
fn cli(a: &Agent, args: &[&str]) -> (i32, String) {
    let (code, out, err) = a.cli(args);
    (code, out + &err)
}

fn server(dc: u8, cut_file: &std::path::Path) -> Agent {
    let opts = AgentOptions {
        // WAN probes every second so a cut is detected within seconds.
        config_json: r#"{"performance":{"raft_multiplier":1},"log_level":"debug",
            "gossip_wan":{"probe_interval":"1s","probe_timeout":"500ms","gossip_interval":"200ms"}}"#
            .to_string(),
        env: vec![(
            "PRAETOR_TEST_WAN_CUT_FILE".to_string(),
            cut_file.display().to_string(),
        )],
        ..AgentOptions::default()
    };
    Agent::start_with(
        "s1",
        &format!("127.0.{dc}.1"),
        &[
            &format!("-datacenter=dc{dc}"),
            "-server",
            "-bootstrap-expect=1",
        ],
        &opts,
    )
}

/// The status of `name` in the agent's WAN pool (1 alive, 4 failed).
fn wan_status(h: &Http, name: &str) -> Option<u64> {
    let members = h.try_get("/v1/agent/members?wan=1").ok()?.json();
    members
        .as_array()?
        .iter()
        .find(|m| m["Name"] == name)
        .and_then(|m| m["Status"].as_u64())
}

#[test]
fn cutting_the_wan_path_keeps_forwarding_through_an_area() {
    let dir = scratch("wan-cut");
    let cut = dir.join("cut");
    let dc1 = server(1, &cut);
    let dc2 = server(2, &cut);
    for a in [&dc1, &dc2] {
        wait_for(
            &format!("{} has a leader", a.ip),
            Duration::from_secs(60),
            || a.http().leader().filter(|l| !l.is_empty()),
        );
    }
    assert_eq!(dc1.http().put("/v1/kv/at-dc1", b"1").text(), "true");
    assert_eq!(dc2.http().put("/v1/kv/at-dc2", b"2").text(), "true");

    // Both paths: the WAN pool and an area (reciprocal pair, one join).
    let (code, out) = cli(&dc1, &["join", "-wan", "127.0.2.1"]);
    assert_eq!(code, 0, "{out}");
    for (a, peer) in [(&dc1, "dc2"), (&dc2, "dc1")] {
        let (code, out) = cli(
            a,
            &[
                "operator",
                "area",
                "create",
                &format!("-peer-datacenter={peer}"),
            ],
        );
        assert_eq!(code, 0, "{out}");
    }
    wait_for("the area join", Duration::from_secs(30), || {
        let (code, out) = cli(
            &dc1,
            &[
                "operator",
                "area",
                "join",
                "-peer-datacenter=dc2",
                "127.0.2.1",
            ],
        );
        (code == 0 && out.contains("true")).then_some(())
    });
    wait_for(
        "dc1 sees s1.dc2 in the area",
        Duration::from_secs(30),
        || {
            let (code, out) = cli(&dc1, &["operator", "area", "members"]);
            (code == 0
                && out
                    .lines()
                    .any(|l| l.contains("s1.dc2") && l.contains("alive")))
            .then_some(())
        },
    );
    for (a, peer) in [(&dc1, "s1.dc2"), (&dc2, "s1.dc1")] {
        wait_for(
            &format!("{} sees {peer} alive on the WAN", a.ip),
            Duration::from_secs(30),
            || (wan_status(&a.http(), peer) == Some(1)).then_some(()),
        );
    }
    wait_for("dc1 -> dc2 before the cut", Duration::from_secs(30), || {
        (kv_in_dc(&dc1, "at-dc2", "dc2") == (200, "2".into())).then_some(())
    });

    // Cut the WAN: each side sees the other failed on the WAN pool.
    std::fs::write(&cut, b"").unwrap();
    for (a, peer) in [(&dc1, "s1.dc2"), (&dc2, "s1.dc1")] {
        wait_for(
            &format!("{} sees {peer} failed on the WAN", a.ip),
            Duration::from_secs(60),
            || (wan_status(&a.http(), peer) == Some(4)).then_some(()),
        );
    }
    // Forwarding goes on, both ways, over the area.
    let (code, out) = cli(&dc1, &["kv", "put", "-datacenter=dc2", "hello", "area"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(dc2.http().kv_get("hello", "").unwrap(), b"area");
    assert_eq!(kv_in_dc(&dc2, "at-dc1", "dc1"), (200, "1".into()));
    assert_eq!(kv_in_dc(&dc1, "at-dc2", "dc2"), (200, "2".into()));

    // The control: without the area, the cut WAN path is all dc1 has, and it is not used.
    let (code, out) = cli(
        &dc1,
        &["operator", "area", "delete", "-peer-datacenter=dc2"],
    );
    assert_eq!(code, 0, "{out}");
    wait_for(
        "dc1 has no usable path to dc2",
        Duration::from_secs(30),
        || {
            (kv_in_dc(&dc1, "at-dc2", "dc2")
                == (500, "Remote DC has no server currently reachable".into()))
                .then_some(())
        },
    );

    // Heal: the WAN pool reconnects by itself and dc2 is routable again.
    std::fs::remove_file(&cut).unwrap();
    wait_for(
        "dc1 -> dc2 over the healed WAN",
        Duration::from_secs(120),
        || (kv_in_dc(&dc1, "at-dc2", "dc2") == (200, "2".into())).then_some(()),
    );
    assert_eq!(wan_status(&dc1.http(), "s1.dc2"), Some(1));
}
