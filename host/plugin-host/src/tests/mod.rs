//! Tests against the real built components (built-ins and hostile guests from `plugins/`).

mod hostile;
mod imports;
mod inputs;
mod misc;
mod outputs;
mod parity;
mod swap;

use std::time::{Duration, Instant};

use crate::{PluginHost, PluginHostConfig, SlotSettings};

/// A host whose call deadlines (10 s) are not hit by scheduling delays when tests run in
/// parallel on a small, busy machine (1 s was, once, with other suites running beside it:
/// the epoch ticker counts wall time, including time the calling thread spent descheduled).
/// Tests of the deadline itself use the 5 ms default.
pub(crate) fn host() -> PluginHost {
    let mut config = PluginHostConfig::default();
    for slot in ["translator", "router", "intentions"] {
        let s = SlotSettings {
            deadline: Duration::from_secs(10),
            ..SlotSettings::default()
        };
        config = config.with_slot(slot, s);
    }
    host_with(config)
}

/// A host with the default settings (5 ms call deadline).
pub(crate) fn default_host() -> PluginHost {
    host_with(PluginHostConfig::default())
}

pub(crate) fn host_with(config: PluginHostConfig) -> PluginHost {
    PluginHost::new(config).expect("plugin host starts")
}

/// Waits until `cond` holds or `deadline` passes; returns whether it held.
pub(crate) fn wait_for(deadline: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
