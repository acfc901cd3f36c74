//! Policy plugins in a running agent: hot swap under load, hostile components cut off while the
//! agent keeps answering, a join provider behind `retry_join`, and `praetor plugin new` output
//! that builds and passes `praetor plugin test`.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use praetor_tests::{Agent, Http, plugin_wasm, praetor_bin, scratch, wait_for};

fn node_address(h: &Http, node: &str) -> Option<String> {
    let nodes = h.try_get("/v1/catalog/nodes").ok()?.json();
    nodes
        .as_array()?
        .iter()
        .find(|n| n["Node"] == node)
        .map(|n| n["Address"].as_str().unwrap_or_default().to_string())
}

fn load(h: &Http, slot: &str, wasm: &[u8], config: &str) -> praetor_tests::Resp {
    let q: String = config.bytes().map(|b| format!("%{b:02X}")).collect();
    h.put(
        &format!("/v1/agent/plugin/load?slot={slot}&config={q}"),
        wasm,
    )
}

fn slot_state(h: &Http, slot: &str) -> serde_json::Value {
    let all = h.get("/v1/agent/plugins").json();
    all.as_array()
        .unwrap()
        .iter()
        .find(|p| p["Slot"] == slot)
        .cloned()
        .expect("slot listed")
}

#[test]
fn hot_swap_under_load_and_hostile_components() {
    // A generous translator deadline: on a loaded 2-core CI machine a 5 ms wall-clock deadline
    // can expire for a healthy plugin, and this test checks the plugin's own answers.
    let dir = scratch("plug1-cfg");
    let cfg = dir.join("plugins.hcl");
    std::fs::write(
        &cfg,
        "plugin \"translate\" {\n  call_timeout = \"250ms\"\n}\n",
    )
    .unwrap();
    let cfg_flag = format!("-config-file={}", cfg.display());
    let a = Agent::start("plug1", "127.0.5.5", &["-dev", &cfg_flag]);
    let h = a.http();
    wait_for("dev node in the catalog", Duration::from_secs(30), || {
        node_address(&h, "plug1")
    });
    let fixed = std::fs::read(plugin_wasm("translate_fixed")).unwrap();

    // A client loop on an endpoint that uses the translator, while the slot is swapped 100 times.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let loop_h = h.clone();
    let (s2, ok2, failed2) = (stop.clone(), ok.clone(), failed.clone());
    let client = std::thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(120);
        while !s2.load(Ordering::Relaxed) && Instant::now() < until {
            match loop_h.try_get("/v1/catalog/nodes") {
                Ok(r) if r.status == 200 => ok2.fetch_add(1, Ordering::Relaxed),
                _ => failed2.fetch_add(1, Ordering::Relaxed),
            };
        }
    });
    for i in 0..100 {
        let addr = format!("10.7.{}.{}", i / 250, i % 250 + 1);
        let r = load(
            &h,
            "translator",
            &fixed,
            &format!(r#"{{"address":"{addr}"}}"#),
        );
        assert_eq!(r.status, 200, "swap {i}: {}", r.text());
        // The new behaviour is visible as soon as the load returns.
        assert_eq!(
            node_address(&h, "plug1").as_deref(),
            Some(addr.as_str()),
            "after swap {i}"
        );
    }
    stop.store(true, Ordering::Relaxed);
    client.join().unwrap();
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "requests failed during the swaps"
    );
    assert!(ok.load(Ordering::Relaxed) > 100, "the load loop ran");

    // Refused loads leave the slot as it was: the wrong world, garbage, a bad configuration.
    let before = slot_state(&h, "translator")["SHA256"].clone();
    let r = load(
        &h,
        "translator",
        &std::fs::read(plugin_wasm("hostile_wrong_world")).unwrap(),
        "{}",
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("address-translator"), "{}", r.text());
    assert_eq!(load(&h, "translator", b"not wasm at all", "{}").status, 400);
    let r = load(&h, "translator", &fixed, r#"{"address":5}"#);
    assert_eq!(r.status, 400);
    assert!(
        r.text().contains("address must be a string"),
        "{}",
        r.text()
    );
    assert_eq!(slot_state(&h, "translator")["SHA256"], before);
    assert_eq!(node_address(&h, "plug1").as_deref(), Some("10.7.0.100"));

    // Hostile components: every call is cut off or traps, the agent answers with the built-in
    // policy (the real address), and after repeated failures the slot reverts, visibly.
    for hostile in ["hostile_loop", "hostile_membomb", "hostile_trap"] {
        let wasm = std::fs::read(plugin_wasm(hostile)).unwrap();
        // `configure` is harmless in these guests, so they load; their `translate` is not.
        let r = load(&h, "translator", &wasm, "{}");
        assert_eq!(r.status, 200, "{hostile}: {}", r.text());
        let started = Instant::now();
        for _ in 0..10 {
            assert_eq!(
                node_address(&h, "plug1").as_deref(),
                Some(IP),
                "{hostile}: fallback answer"
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{hostile}: calls not cut off"
        );
        let s = slot_state(&h, "translator");
        assert!(s["Failures"].as_u64().unwrap() > 0, "{hostile}: {s}");
        assert!(
            s["State"].as_str().unwrap().starts_with("reverted"),
            "{hostile}: {s}"
        );
        assert_eq!(h.put("/v1/kv/still-serving", b"yes").text(), "true");
    }
    let r = h.put("/v1/agent/plugin/revert?slot=translator", b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(slot_state(&h, "translator")["Source"], "builtin");
}

const IP: &str = "127.0.5.5";

#[test]
fn join_provider_behind_retry_join() {
    let server = Agent::start("plug-s", "127.0.5.6", &["-dev"]);
    wait_for("server leader", Duration::from_secs(30), || {
        server.http().leader()
    });
    let client = Agent::start(
        "plug-c",
        "127.0.5.7",
        &[
            "-retry-join=provider=static addrs=\"127.0.5.6\"",
            "-retry-interval=1s",
        ],
    );
    wait_for(
        "client joined through the static provider",
        Duration::from_secs(30),
        || {
            let m = client.http().try_get("/v1/agent/members").ok()?.json();
            (m.as_array()?.len() == 2).then_some(())
        },
    );
    assert_eq!(client.http().put("/v1/kv/joined", b"1").text(), "true");
}

#[test]
fn plugin_new_builds_and_passes_plugin_test() {
    let dir = scratch("plugin-new");
    let crate_dir = dir.join("mytr");
    let out = Command::new(praetor_bin())
        .args(["plugin", "new", "translator", "mytr"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Share the plugins' target directory so the build reuses compiled dependencies.
    let target = plugin_wasm("translate_fixed")
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let build = Command::new("cargo")
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(&crate_dir)
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "scaffold does not build:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let wasm = target.join("wasm32-wasip2/release/mytr.wasm");
    let test = Command::new(praetor_bin())
        .args(["plugin", "test", "-slot=translator"])
        .arg(&wasm)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&test.stdout);
    assert!(
        test.status.success(),
        "plugin test failed: {}{}",
        stdout,
        String::from_utf8_lossy(&test.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON output");
    assert!(v["address"].is_string(), "{v}");
}
