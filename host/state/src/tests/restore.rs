//! `Command::Restore`: a snapshot replaces every table at the restore's raft index.

use super::{Harness, session};
use crate::{Command, CommandResult, Query, QueryResult, SessionBehavior, Table};

#[test]
fn restore_replaces_every_table_and_raises_indexes() {
    let mut source = Harness::new();
    source.node("n1");
    source.set("keep/a", "1");
    source.set("keep/b", "2");
    source.create_session(session("s1", "n1", SessionBehavior::Delete, 20_000));
    let snap = source.store.snapshot();

    let mut target = Harness::new();
    target.node("other");
    target.set("gone", "x");
    target.next = 100;
    let (idx, r, changes) = target.apply(Command::Restore {
        snapshot: Box::new(snap),
    });
    assert_eq!((idx, r), (100, CommandResult::Ok));
    assert!(Table::ALL.iter().all(|t| changes.contains(*t)));
    assert_eq!(target.get("keep/a").unwrap().value, b"1");
    assert_eq!(target.get("keep/b").unwrap().value, b"2");
    assert!(target.get("gone").is_none());
    match target.query(&Query::CatalogNodes).result {
        QueryResult::Nodes(n) => {
            assert_eq!(
                n.iter().map(|n| n.node.as_str()).collect::<Vec<_>>(),
                ["n1"]
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    match target.query(&Query::SessionList).result {
        QueryResult::Sessions(s) => assert_eq!(s.len(), 1),
        other => panic!("unexpected {other:?}"),
    }
    for t in Table::ALL {
        assert_eq!(target.store.table_index(t), 100, "{t:?}");
    }
    assert_eq!(target.store.last_index(), 100);
    // Later commands apply on top of the restored state.
    let i = target.set("after", "y");
    assert_eq!(i, 101);
}
