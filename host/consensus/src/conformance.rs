//! openraft's storage conformance suite (`openraft::testing::Suite`) run against the segment log
//! store and the state machine exactly as a server opens them from its data dir.

use std::path::PathBuf;
use std::sync::Arc;

use openraft::testing::{StoreBuilder, Suite};
use praetor_state::{SharedStore, Store};

use crate::log_store::LogStore;
use crate::state_machine::StateMachine;
use crate::types::{StorageError, TypeConfig};

/// Removes the data dir of one run.
struct DirGuard(PathBuf);

impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct OnDisk;

fn io(e: impl std::fmt::Display) -> StorageError {
    openraft::StorageIOError::write(&std::io::Error::other(e.to_string())).into()
}

impl StoreBuilder<TypeConfig, LogStore, StateMachine, DirGuard> for OnDisk {
    async fn build(&self) -> Result<(DirGuard, LogStore, StateMachine), StorageError> {
        static RUN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("praetor-raft-suite-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(io)?;
        let log = LogStore::open(Some(&dir)).map_err(io)?;
        let store = Arc::new(SharedStore::new(Store::new()));
        let sm = StateMachine::open(store, Some(dir.clone()), Arc::default()).map_err(io)?;
        Ok((DirGuard(dir), log, sm))
    }
}

#[test]
fn the_log_store_and_state_machine_pass_openraft_s_suite() {
    Suite::test_all(OnDisk).expect("openraft storage suite");
}
