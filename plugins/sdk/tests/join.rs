//! The join-provider glue end to end (natively), including state kept across calls.

use praetor_plugin_sdk::bindings::join::exports::praetor::plugins::discovery::Guest;
use praetor_plugin_sdk::bindings::lifecycle::exports::praetor::plugins::lifecycle::Guest as Lifecycle;
use praetor_plugin_sdk::{JoinProvider, policy::discover};

/// Returns the static addresses plus how many calls it has served.
#[derive(Default)]
struct Counting {
    calls: u32,
}

impl JoinProvider for Counting {
    fn discover(&mut self, args: &[(String, String)]) -> Result<Vec<String>, String> {
        self.calls += 1;
        let mut addrs = discover::static_addrs(args)?;
        addrs.push(format!("call-{}", self.calls));
        Ok(addrs)
    }
}

praetor_plugin_sdk::__export_slot!(
    TestSlot,
    Counting,
    praetor_plugin_sdk::JoinProvider,
    __export_join_exports_impl,
    join
);

#[test]
fn discover_through_the_wit_types_keeps_state() {
    // The default configure accepts anything.
    assert_eq!(
        <TestSlot as Lifecycle>::configure(r#"{"anything": [1]}"#.to_string()),
        Ok(())
    );
    let args = vec![
        ("provider".to_string(), "static".to_string()),
        ("addrs".to_string(), "a b".to_string()),
    ];
    assert_eq!(
        <TestSlot as Guest>::discover(args.clone()).unwrap(),
        ["a", "b", "call-1"]
    );
    assert_eq!(
        <TestSlot as Guest>::discover(args).unwrap(),
        ["a", "b", "call-2"]
    );
    assert_eq!(
        <TestSlot as Guest>::discover(vec![]).unwrap_err(),
        "static: addrs is required"
    );
}
