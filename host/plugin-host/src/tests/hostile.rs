//! Hostile guests: deadline, memory cap, trap, wrong world, revert after repeated failures.

use std::time::{Duration, Instant};

use praetor_policy as policy;

use super::host;
use crate::testdata;
use crate::{LoadError, LoadRequest, SlotState};

fn query() -> policy::AddressQuery {
    policy::AddressQuery {
        local_datacenter: "dc1".into(),
        record_datacenter: "dc2".into(),
        enabled: true,
        address: "10.0.0.1".into(),
        port: 8080,
        tagged: vec![policy::TaggedAddress::new("wan", "198.18.0.1", 80)],
        accept: policy::Accept::ANY,
    }
}

fn load(host: &crate::PluginHost, slot: &str, path: &str) -> Result<crate::SlotInfo, LoadError> {
    host.load_blocking(
        slot,
        LoadRequest {
            bytes: testdata::read(path),
            config_json: "{}".into(),
            name: None,
            path: Some(path.into()),
        },
    )
}

#[test]
fn infinite_loop_is_cut_off_at_the_deadline() {
    let host = super::default_host();
    let info = load(&host, "translator", testdata::HOSTILE_LOOP).unwrap();
    assert_eq!(info.component, "hostile_loop");
    let q = query();
    let start = Instant::now();
    let err = host.translate_plugin(&q).unwrap_err();
    let took = start.elapsed();
    assert_eq!(err, "deadline exceeded");
    // 5 ms budget on a 1 ms epoch tick; generous slack for a loaded 2-core machine.
    assert!(took >= Duration::from_millis(4), "{took:?}");
    assert!(took < Duration::from_millis(500), "{took:?}");
    // The public call answers with the native policy, within the same bound.
    let start = Instant::now();
    assert_eq!(host.translate(&q), policy::translate(&q));
    assert!(start.elapsed() < Duration::from_millis(500));
    let info = host.info("translator").unwrap();
    assert_eq!(info.failures, 2);
    assert_eq!(info.consecutive_failures, 2);
}

#[test]
fn memory_bomb_hits_the_cap() {
    // A generous deadline, so the memory cap (16 MiB) is what stops it.
    let settings = crate::SlotSettings {
        deadline: Duration::from_secs(2),
        ..crate::SlotSettings::default()
    };
    let host =
        super::host_with(crate::PluginHostConfig::default().with_slot("translator", settings));
    load(&host, "translator", testdata::HOSTILE_MEMBOMB).unwrap();
    let q = query();
    let err = host.translate_plugin(&q).unwrap_err();
    assert!(err.contains("memory"), "{err}");
    assert_eq!(host.translate(&q), policy::translate(&q));
    assert_eq!(host.info("translator").unwrap().failures, 2);
}

#[test]
fn trap_falls_back_and_is_counted() {
    let host = host();
    load(&host, "translator", testdata::HOSTILE_TRAP).unwrap();
    let q = query();
    for n in 1..=3u64 {
        assert_eq!(host.translate(&q), policy::translate(&q));
        let info = host.info("translator").unwrap();
        assert_eq!(info.failures, n);
        assert_eq!(info.calls, n);
        assert_eq!(info.state, SlotState::Active);
    }
}

#[test]
fn wrong_world_is_refused_and_old_component_stays() {
    let host = host();
    let before = host.info("translator").unwrap();
    let err = load(&host, "translator", testdata::HOSTILE_WRONG_WORLD).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, LoadError::WrongWorld(_)), "{err:?}");
    assert!(text.contains("`address-translator`"), "{text}");
    assert!(text.contains("praetor:plugins/translation@0.2.0"), "{text}");
    // A join provider (it imports discovery-host, which a translator may not) is refused too.
    let err = host
        .load_blocking(
            "translator",
            LoadRequest::new(crate::builtin::JOIN_STATIC.bytes.to_vec(), "{}"),
        )
        .unwrap_err();
    assert!(err.to_string().contains("address-translator"), "{err}");
    // Not a component at all.
    let err = host
        .load_blocking("translator", LoadRequest::new(b"not wasm".to_vec(), "{}"))
        .unwrap_err();
    assert!(matches!(err, LoadError::Compile(_)), "{err:?}");
    let after = host.info("translator").unwrap();
    assert_eq!(after.sha256, before.sha256);
    assert_eq!(after.component, "translate-wan-addrs");
    host.translate_plugin(&query()).unwrap();
}

#[test]
fn component_of_the_previous_wit_version_is_refused_with_a_rebuild_hint() {
    let host = host();
    let err = load(&host, "translator", testdata::HOSTILE_OLD_ABI).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, LoadError::WrongWorld(_)), "{err:?}");
    assert!(
        text.contains("built for `praetor:plugins@0.1.0`")
            && text.contains("serves `praetor:plugins@0.2.0`")
            && text.contains("rebuild it"),
        "{text}"
    );
    assert_eq!(
        host.info("translator").unwrap().component,
        "translate-wan-addrs"
    );
}

#[test]
fn configure_error_refuses_the_load() {
    let host = host();
    let err = host
        .load_blocking(
            "router",
            LoadRequest::new(
                crate::builtin::ROUTE_PREFER_REGION.bytes.to_vec(),
                r#"{"prefer": 3}"#,
            ),
        )
        .unwrap_err();
    assert!(matches!(err, LoadError::Configure(_)), "{err:?}");
    assert!(err.to_string().contains("prefer"), "{err}");
    assert_eq!(host.info("router").unwrap().component, "route-rtt");
}

#[test]
fn reverts_to_builtin_after_consecutive_failures() {
    let host = host();
    load(&host, "translator", testdata::HOSTILE_TRAP).unwrap();
    let q = query();
    for _ in 0..4 {
        assert_eq!(host.translate(&q), policy::translate(&q));
    }
    assert_eq!(host.info("translator").unwrap().state, SlotState::Active);
    assert_eq!(host.translate(&q), policy::translate(&q));
    let info = host.info("translator").unwrap();
    let state = info.state.to_string();
    assert!(
        state.starts_with("reverted: 5 consecutive failures of hostile_trap"),
        "{state}"
    );
    assert_eq!(info.component, "translate-wan-addrs");
    assert_eq!(info.source, crate::ComponentSource::Builtin);
    assert_eq!(info.failures, 5);
    assert_eq!(info.consecutive_failures, 0);
    // The built-in serves again, until the next load.
    host.translate_plugin(&q).unwrap();
    load(&host, "translator", testdata::HOSTILE_LOOP).unwrap();
    assert_eq!(host.info("translator").unwrap().state, SlotState::Active);
}

#[test]
fn operator_revert_and_custom_join_provider() {
    let host = host();
    load(&host, "translator", testdata::HOSTILE_TRAP).unwrap();
    host.revert("translator").unwrap();
    assert_eq!(
        host.info("translator").unwrap().component,
        "translate-wan-addrs"
    );
    // An operator's join provider gets its own slot and is removed by revert.
    let info = host
        .load_blocking(
            "join:mine",
            LoadRequest::new(crate::builtin::JOIN_STATIC.bytes.to_vec(), "{}"),
        )
        .unwrap();
    assert_eq!(info.slot, "join:mine");
    let args = policy::parse_args("provider=mine addrs=10.1.1.1").unwrap();
    assert_eq!(host.discover_blocking("mine", &args).unwrap(), ["10.1.1.1"]);
    host.revert("join:mine").unwrap();
    assert!(host.info("join:mine").is_err());
    assert!(
        host.discover_blocking("mine", &args)
            .unwrap_err()
            .contains("unknown join provider")
    );
    assert!(matches!(
        host.revert("nope"),
        Err(LoadError::UnknownSlot(_))
    ));
}
