//! Tests against the real built components (built-ins and hostile guests from `plugins/`).

mod hostile;
mod imports;
mod inputs;
mod misc;
mod parity;
mod swap;

use std::time::{Duration, Instant};

use crate::{PluginHost, PluginHostConfig};

pub(crate) fn host() -> PluginHost {
    PluginHost::new(PluginHostConfig::default()).expect("plugin host starts")
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
