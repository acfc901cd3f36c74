//! The data of one plugin instance's `Store`: an empty WASI context, its memory limits, the
//! slot's grants, and the `log` import (through `tracing`, rate-limited per slot).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::join::praetor::plugins::log;
use crate::settings::Grants;

/// Log lines a slot may write per second; more are dropped and counted.
const LOG_LINES_PER_SECOND: u32 = 20;

/// Per-slot state shared by all of the slot's instances (and its failure logging).
#[derive(Debug)]
pub(crate) struct SlotContext {
    pub(crate) slot: String,
    pub(crate) grants: Grants,
    pub(crate) log_limit: RateLimit,
    pub(crate) logs_dropped: AtomicU64,
}

impl SlotContext {
    pub(crate) fn new(slot: &str, grants: Grants) -> Self {
        Self {
            slot: slot.to_owned(),
            grants,
            log_limit: RateLimit::new(LOG_LINES_PER_SECOND),
            logs_dropped: AtomicU64::new(0),
        }
    }
}

/// At most `per_second` events in each one-second window.
#[derive(Debug)]
pub(crate) struct RateLimit {
    per_second: u32,
    window: Mutex<(Instant, u32)>,
}

impl RateLimit {
    pub(crate) fn new(per_second: u32) -> Self {
        Self {
            per_second,
            window: Mutex::new((Instant::now(), 0)),
        }
    }

    /// True when one more event fits in the current window.
    pub(crate) fn allow(&self) -> bool {
        let Ok(mut w) = self.window.lock() else {
            return false;
        };
        let now = Instant::now();
        if now.duration_since(w.0).as_secs() >= 1 {
            *w = (now, 0);
        }
        if w.1 < self.per_second {
            w.1 += 1;
            true
        } else {
            false
        }
    }
}

/// `T` of every plugin `Store`.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: StoreLimits,
    pub(crate) ctx: Arc<SlotContext>,
}

impl HostState {
    pub(crate) fn new(ctx: Arc<SlotContext>, memory_bytes: usize) -> Self {
        Self {
            // No args, env, preopens, stdio or sockets: only clocks and random.
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(memory_bytes)
                .instances(16)
                .tables(16)
                .memories(4)
                .table_elements(100_000)
                .trap_on_grow_failure(true)
                .build(),
            ctx,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String) {
        let ctx = &self.ctx;
        if !ctx.log_limit.allow() {
            ctx.logs_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let slot = ctx.slot.as_str();
        match level {
            log::Level::Trace => tracing::trace!(plugin = slot, "{message}"),
            log::Level::Debug => tracing::debug!(plugin = slot, "{message}"),
            log::Level::Info => tracing::info!(plugin = slot, "{message}"),
            log::Level::Warn => tracing::warn!(plugin = slot, "{message}"),
            log::Level::Error => tracing::error!(plugin = slot, "{message}"),
        }
    }
}
