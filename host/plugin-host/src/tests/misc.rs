//! `list()`, `test_call` and the scaffold.

use std::time::Duration;

use super::{host, wait_for};
use crate::{ComponentSource, SlotState, policy, scaffold, test_call};

/// A host compiles nothing at start; the first policy call is answered natively (what the
/// built-in answers) and compiles that slot only, in the background; `*_plugin` calls wait for
/// the compile.
#[test]
fn builtins_compile_on_first_use() {
    let host = host();
    assert!(host.list().iter().all(|i| !i.compiled && i.calls == 0));
    let query = super::inputs::address_query(&mut super::inputs::Rng::new(7));
    assert_eq!(host.translate(&query), policy::translate(&query));
    assert!(
        wait_for(Duration::from_secs(60), || host
            .info("translator")
            .unwrap()
            .compiled),
        "the translator was not compiled in the background after its first call"
    );
    assert_eq!(host.translate(&query), policy::translate(&query));
    assert_eq!(host.info("translator").unwrap().calls, 1);
    for other in [
        "router",
        "intentions",
        "join:static",
        "join:file",
        "join:dns",
    ] {
        assert!(!host.info(other).unwrap().compiled, "{other} compiled");
    }
    // A plugin-only call compiles its slot on the spot.
    let candidates = [policy::Candidate {
        datacenter: "dc1".into(),
        ..Default::default()
    }];
    assert_eq!(host.rank_plugin("dc1", &candidates).unwrap(), ["dc1"]);
    assert!(host.info("router").unwrap().compiled);
    // Reverting a slot that still holds its built-in compiles nothing.
    host.revert("intentions").unwrap();
    assert!(!host.info("intentions").unwrap().compiled);
}

#[test]
fn list_shows_every_builtin_slot() {
    let host = host();
    let list = host.list();
    let slots: Vec<&str> = list.iter().map(|i| i.slot.as_str()).collect();
    assert_eq!(
        slots,
        [
            "translator",
            "router",
            "intentions",
            "join:dns",
            "join:file",
            "join:static"
        ]
    );
    for info in &list {
        assert_eq!(info.source, ComponentSource::Builtin);
        assert_eq!(info.state, SlotState::Active);
        assert_eq!(info.sha256.len(), 64);
        assert_eq!(info.short_hash().len(), 12);
    }
    assert_eq!(list[2].world, "intention-evaluator");
    assert_eq!(list[0].component, "translate-wan-addrs");
}

#[test]
fn test_call_runs_each_kind_offline() {
    let out = test_call(
        "translator",
        crate::builtin::TRANSLATE_WAN_ADDRS.bytes,
        "{}",
        r#"{"local_datacenter":"dc1","record_datacenter":"dc2","address":"10.0.0.1","port":8080,
            "tagged":[{"key":"wan","address":"198.18.0.1","port":80}]}"#,
        None,
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v, serde_json::json!({"address": "198.18.0.1", "port": 80}));

    let out = test_call(
        "router",
        crate::builtin::ROUTE_RTT.bytes,
        "{}",
        r#"{"rank":{"local_datacenter":"dc1","candidates":[
            {"datacenter":"dc2","rtt_ms":5.0},{"datacenter":"dc1","path":"local"}]}}"#,
        None,
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v, serde_json::json!(["dc1", "dc2"]));

    let out = test_call(
        "intentions",
        crate::builtin::INTENTIONS_CONSUL.bytes,
        "{}",
        r#"{"intentions":[{"id":"i1","source_name":"web","destination_name":"db","action":"allow"}],
            "requests":[{"source":{"service":"web"},"destination":{"service":"db"}},
                        {"source":{"service":"api"},"destination":{"service":"db"}}]}"#,
        None,
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["allowed"], true);
    assert_eq!(v[0]["intention_id"], "i1");
    assert_eq!(v[1]["allowed"], false);

    let out = test_call(
        "join:static",
        crate::builtin::JOIN_STATIC.bytes,
        "{}",
        r#"{"entry":"provider=static addrs=\"10.0.0.1 10.0.0.2\""}"#,
        None,
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v, serde_json::json!({"ok": ["10.0.0.1", "10.0.0.2"]}));

    // Failures are reported, not papered over by a fallback.
    let err = test_call(
        "translator",
        &crate::testdata::read(crate::testdata::HOSTILE_LOOP),
        "{}",
        "{}",
        None,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "plugin call failed: deadline exceeded");
    let err = test_call(
        "translator",
        crate::builtin::TRANSLATE_WAN_ADDRS.bytes,
        "{}",
        "{\"bogus\":1}",
        None,
    )
    .unwrap_err();
    assert!(matches!(err, crate::LoadError::Input(_)), "{err:?}");
}

#[test]
fn scaffold_generates_a_crate_for_each_kind() {
    for kind in ["translator", "router", "join", "intentions"] {
        let files = scaffold(kind, "my-plugin").unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.path.to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["Cargo.toml", "src/lib.rs", "README.md"]);
        let sdk = crate::scaffold::sdk_path().canonicalize().unwrap();
        assert!(sdk.join("Cargo.toml").exists());
        assert!(
            files[0]
                .content
                .contains(&format!("path = \"{}\"", sdk.display()))
        );
        assert!(files[1].content.contains("export_plugin!("));
        assert!(files[2].content.contains("not published on crates.io"));
    }
    assert!(scaffold("nope", "x").is_err());
    assert!(scaffold("router", "Bad Name").is_err());
}

/// Every scaffold builds as is for wasm32-wasip2 and its component answers like the built-in.
/// (Shares the plugins build's target directory, so only the new crate is compiled.)
#[test]
fn scaffold_builds_and_runs() {
    let wasm = std::path::Path::new(env!("PRAETOR_WASM_ROUTE_RTT"));
    let target_dir = wasm
        .ancestors()
        .nth(3)
        .expect("<target>/plugins")
        .to_path_buf();
    let base = std::env::temp_dir().join(format!("praetor-ph-scaffold-{}", std::process::id()));
    let cases = [
        (
            "translator",
            "{\"local_datacenter\":\"dc1\",\"record_datacenter\":\"dc2\",\"address\":\"10.0.0.1\",\"tagged\":[{\"key\":\"wan\",\"address\":\"198.18.0.1\"}]}",
            "198.18.0.1",
        ),
        (
            "router",
            "{\"rank\":{\"local_datacenter\":\"dc1\",\"candidates\":[{\"datacenter\":\"dc1\"}]}}",
            "dc1",
        ),
        (
            "join",
            "{\"entry\":\"provider=x addrs=10.0.0.7\"}",
            "10.0.0.7",
        ),
        (
            "intentions",
            "{\"intentions\":[{\"id\":\"i1\",\"source_name\":\"web\",\"destination_name\":\"db\",\"action\":\"allow\"}],\"requests\":[{\"source\":{\"service\":\"web\"},\"destination\":{\"service\":\"db\"}}]}",
            "i1",
        ),
    ];
    for (kind, input, expect) in cases {
        let name = format!("scaffold-{kind}");
        let dir = base.join(&name);
        for f in scaffold(kind, &name).unwrap() {
            let path = dir.join(&f.path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &f.content).unwrap();
        }
        let mut cmd = std::process::Command::new(env!("CARGO"));
        cmd.args([
            "build",
            "--release",
            "--quiet",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target_dir)
        .current_dir(&dir);
        for (k, _) in std::env::vars() {
            if k.starts_with("CARGO_") && k != "CARGO_HOME" {
                cmd.env_remove(k);
            }
        }
        let status = cmd.status().unwrap();
        assert!(status.success(), "scaffold {kind} did not build");
        let component = target_dir
            .join("wasm32-wasip2/release")
            .join(format!("{}.wasm", name.replace('-', "_")));
        let bytes = std::fs::read(&component).unwrap();
        let slot = if kind == "join" { "join:x" } else { kind };
        let out = test_call(slot, &bytes, "{}", input, None).unwrap();
        assert!(out.contains(expect), "{kind}: {out}");
    }
    let _ = std::fs::remove_dir_all(&base);
}
