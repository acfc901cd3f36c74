//! The `config_entries` table: `?cas` writes, unchanged bodies, deletes, the replication diff,
//! reads by kind and name, and snapshots.

use super::Harness;
use crate::{Command, CommandResult, ConfigEntry, Query, QueryResult, Store, Table};

fn entry(kind: &str, name: &str, body: &str) -> ConfigEntry {
    ConfigEntry {
        kind: kind.into(),
        name: name.into(),
        body: body.into(),
        ..ConfigEntry::default()
    }
}

fn set(h: &mut Harness, e: ConfigEntry, cas: Option<u64>) -> (u64, bool) {
    let (idx, res, _) = h.apply(Command::ConfigEntrySet { entry: e, cas });
    match res {
        CommandResult::Bool(b) => (idx, b),
        other => panic!("{other:?}"),
    }
}

fn get(store: &Store, kind: Option<&str>, name: Option<&str>) -> (u64, Vec<ConfigEntry>) {
    let out = store.query(&Query::ConfigEntries {
        kind: kind.map(Into::into),
        name: name.map(Into::into),
    });
    match out.result {
        QueryResult::ConfigEntries(v) => (out.index, v),
        other => panic!("{other:?}"),
    }
}

#[test]
fn cas_create_update_and_unchanged_bodies() {
    let mut h = Harness::new();
    let (i1, ok) = set(&mut h, entry("proxy-defaults", "global", "{}"), Some(0));
    assert!(ok);
    // Create-only again: refused.
    assert!(
        !set(
            &mut h,
            entry("proxy-defaults", "global", "{\"a\":1}"),
            Some(0)
        )
        .1
    );
    // Wrong index: refused; right index: written, create index kept.
    assert!(
        !set(
            &mut h,
            entry("proxy-defaults", "global", "{\"a\":1}"),
            Some(i1 + 100)
        )
        .1
    );
    let (i2, ok) = set(
        &mut h,
        entry("proxy-defaults", "global", "{\"a\":1}"),
        Some(i1),
    );
    assert!(ok);
    let (index, got) = get(&h.store, Some("proxy-defaults"), Some("global"));
    assert_eq!(index, i2);
    assert_eq!((got[0].create_index, got[0].modify_index), (i1, i2));
    // The same body again changes nothing, not even the table index.
    let (_, ok) = set(&mut h, entry("proxy-defaults", "global", "{\"a\":1}"), None);
    assert!(ok);
    assert_eq!(h.store.table_index(Table::ConfigEntries), i2);
    // A CAS against an absent entry with a non-zero index fails.
    assert!(!set(&mut h, entry("service-defaults", "web", "{}"), Some(5)).1);
}

#[test]
fn delete_with_and_without_cas() {
    let mut h = Harness::new();
    let (i1, _) = set(&mut h, entry("service-defaults", "web", "{}"), None);
    let del = |cas| Command::ConfigEntryDelete {
        kind: "service-defaults".into(),
        name: "web".into(),
        cas,
    };
    assert_eq!(h.apply(del(Some(i1 + 1))).1, CommandResult::Bool(false));
    assert_eq!(h.apply(del(Some(i1))).1, CommandResult::Bool(true));
    assert!(get(&h.store, Some("service-defaults"), None).1.is_empty());
    // Absent: success.
    assert_eq!(h.apply(del(None)).1, CommandResult::Bool(true));
}

#[test]
fn replication_applies_the_difference() {
    let mut h = Harness::new();
    let (keep, _) = set(&mut h, entry("service-defaults", "web", "{\"P\":1}"), None);
    set(&mut h, entry("service-defaults", "gone", "{}"), None);
    set(&mut h, entry("mesh", "mesh", "{}"), None);
    let (idx, res, changes) = h.apply(Command::ConfigEntriesReplicate {
        entries: vec![
            entry("service-defaults", "web", "{\"P\":1}"),
            entry("mesh", "mesh", "{\"changed\":true}"),
            entry("proxy-defaults", "global", "{}"),
        ],
    });
    assert_eq!(res, CommandResult::Ok);
    assert!(changes.contains(Table::ConfigEntries));
    let (_, all) = get(&h.store, None, None);
    let names: Vec<_> = all
        .iter()
        .map(|e| (e.kind.as_str(), e.name.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("mesh", "mesh"),
            ("proxy-defaults", "global"),
            ("service-defaults", "web")
        ]
    );
    assert_eq!(all[2].modify_index, keep, "unchanged entry keeps its index");
    assert_eq!(all[0].modify_index, idx);
}

#[test]
fn snapshot_round_trip_keeps_entries_and_index() {
    let mut h = Harness::new();
    let (i1, _) = set(
        &mut h,
        entry("service-intentions", "db", "{\"Sources\":[]}"),
        None,
    );
    let bytes = postcard::to_allocvec(&h.store.snapshot()).unwrap();
    let restored = Store::restore(postcard::from_bytes(&bytes).unwrap());
    let (index, got) = get(&restored, Some("service-intentions"), Some("db"));
    assert_eq!(index, i1);
    assert_eq!(got[0].body, "{\"Sources\":[]}");
}
