//! One slot: the current component behind an `ArcSwap`, a pool of warm instances (one `Store`
//! each), per-call deadlines, failure counting, revert to the built-in, and hot swap.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};

use crate::engine::TICK;
use crate::error::LoadError;
use crate::info::{ComponentSource, SlotInfo, SlotState};
use crate::settings::SlotSettings;
use crate::store::{HostState, RateLimit, SlotContext};
use crate::worlds::{PluginWorld, check_exports};

/// Generations are unique over the process, so an instance never outlives its component.
static GENERATION: AtomicU64 = AtomicU64::new(1);

/// Budget of a load's canary (instantiate + `configure` + world-specific checks).
const CANARY_DEADLINE: Duration = Duration::from_secs(1);

/// A component installed in a slot.
pub(crate) struct Loaded<W: PluginWorld> {
    pre: W::Pre,
    generation: u64,
    name: String,
    source: ComponentSource,
    sha256: String,
    loaded_at: SystemTime,
    config_json: String,
}

impl<W: PluginWorld> Loaded<W> {
    fn is_builtin(&self) -> bool {
        matches!(self.source, ComponentSource::Builtin)
    }
}

/// A ready instance. `synced` is a world-specific version tag of state pushed into the
/// instance after `configure` (the intention set), so callers can bring it up to date.
pub(crate) struct Warm<W> {
    store: Store<HostState>,
    inst: W,
    generation: u64,
    synced: u64,
}

/// What a slot's caller does with an instance: the call itself, given the instance, its
/// store and its `synced` tag.
pub(crate) type Prepare<'a, W> = &'a (
        dyn Fn(&W, &mut Store<HostState>, &mut u64) -> wasmtime::Result<Result<(), String>> + Sync
    );

/// A component to install, before compilation.
pub(crate) struct LoadInput {
    pub(crate) bytes: Vec<u8>,
    /// Already compiled form of `bytes` (built-ins are compiled once per process).
    pub(crate) compiled: Option<Component>,
    pub(crate) config_json: String,
    pub(crate) name: String,
    pub(crate) source: ComponentSource,
}

pub(crate) struct Slot<W: PluginWorld> {
    name: String,
    engine: Engine,
    linker: Arc<Linker<HostState>>,
    ctx: Arc<SlotContext>,
    settings: SlotSettings,
    deadline_ticks: u64,
    current: ArcSwap<Loaded<W>>,
    builtin: Option<Arc<Loaded<W>>>,
    pool: Mutex<Vec<Warm<W>>>,
    calls: AtomicU64,
    failures: AtomicU64,
    consecutive: AtomicU32,
    state: Mutex<SlotState>,
    failure_log: RateLimit,
}

fn ticks(deadline: Duration) -> u64 {
    let tick = TICK.as_nanos().max(1);
    // Round up, plus one: the current tick may end right after the deadline is set.
    (deadline.as_nanos().div_ceil(tick) as u64).saturating_add(1)
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compiles and type-checks `input` for world `W` (blocking: call it off the async threads).
fn compile<W: PluginWorld>(
    engine: &Engine,
    linker: &Linker<HostState>,
    input: LoadInput,
) -> Result<Loaded<W>, LoadError> {
    let component = match input.compiled {
        Some(c) => c,
        None => Component::new(engine, &input.bytes)
            .map_err(|e| LoadError::Compile(format!("{e:#}")))?,
    };
    check_exports::<W>(engine, &component).map_err(LoadError::WrongWorld)?;
    let pre = linker.instantiate_pre(&component).map_err(|e| {
        LoadError::WrongWorld(format!(
            "component does not fit the `{}` world: {e:#}",
            W::WORLD
        ))
    })?;
    let pre = W::pre(pre).map_err(|e| {
        LoadError::WrongWorld(format!(
            "component does not fit the `{}` world: {e:#}",
            W::WORLD
        ))
    })?;
    Ok(Loaded {
        pre,
        generation: GENERATION.fetch_add(1, Ordering::Relaxed),
        name: input.name,
        source: input.source,
        sha256: sha256_hex(&input.bytes),
        loaded_at: SystemTime::now(),
        config_json: input.config_json,
    })
}

impl<W: PluginWorld> Slot<W> {
    /// A slot whose built-in (and initial) component is `builtin`; the canary check `prepare`
    /// runs on its first instance. Blocking (compiles).
    pub(crate) fn new(
        name: &str,
        engine: &Engine,
        linker: Arc<Linker<HostState>>,
        settings: SlotSettings,
        builtin: LoadInput,
        prepare: Prepare<'_, W>,
    ) -> Result<Self, LoadError> {
        let ctx = Arc::new(SlotContext::new(name, settings.grants.clone()));
        let loaded = Arc::new(compile::<W>(engine, &linker, builtin)?);
        let slot = Slot {
            name: name.to_owned(),
            engine: engine.clone(),
            linker,
            ctx,
            deadline_ticks: ticks(settings.deadline),
            settings,
            current: ArcSwap::new(loaded.clone()),
            builtin: Some(loaded.clone()),
            pool: Mutex::new(Vec::new()),
            calls: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            consecutive: AtomicU32::new(0),
            state: Mutex::new(SlotState::Active),
            failure_log: RateLimit::new(1),
        };
        let warm = slot.canary(&loaded, prepare)?;
        slot.put_back(warm);
        Ok(slot)
    }

    /// A slot without a built-in (an operator's join provider), starting with `input`.
    pub(crate) fn new_custom(
        name: &str,
        engine: &Engine,
        linker: Arc<Linker<HostState>>,
        settings: SlotSettings,
        input: LoadInput,
        prepare: Prepare<'_, W>,
    ) -> Result<Self, LoadError> {
        let mut slot = Self::new(name, engine, linker, settings, input, prepare)?;
        slot.builtin = None;
        Ok(slot)
    }

    fn new_store(&self, deadline_ticks: u64) -> Store<HostState> {
        let mut store = Store::new(
            &self.engine,
            HostState::new(
                self.ctx.clone(),
                self.settings.memory_bytes.min(crate::MAX_MEMORY_BYTES),
            ),
        );
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(deadline_ticks);
        store
    }

    fn instantiate(&self, loaded: &Loaded<W>, deadline_ticks: u64) -> wasmtime::Result<Warm<W>> {
        let mut store = self.new_store(deadline_ticks);
        let inst = W::instantiate(&loaded.pre, &mut store)?;
        if let Err(reason) = inst.configure(&mut store, &loaded.config_json)? {
            return Err(wasmtime::format_err!("configure refused: {reason}"));
        }
        Ok(Warm {
            store,
            inst,
            generation: loaded.generation,
            synced: 0,
        })
    }

    /// Instantiates `loaded`, configures it and runs `prepare`, under the canary deadline.
    fn canary(&self, loaded: &Loaded<W>, prepare: Prepare<'_, W>) -> Result<Warm<W>, LoadError> {
        let budget = ticks(CANARY_DEADLINE);
        let mut store = self.new_store(budget);
        let inst = W::instantiate(&loaded.pre, &mut store)
            .map_err(|e| LoadError::Canary(format!("instantiation failed: {e:#}")))?;
        match inst.configure(&mut store, &loaded.config_json) {
            Ok(Ok(())) => {}
            Ok(Err(reason)) => return Err(LoadError::Configure(reason)),
            Err(e) => return Err(LoadError::Canary(format!("configure trapped: {e:#}"))),
        }
        let mut synced = 0;
        match prepare(&inst, &mut store, &mut synced) {
            Ok(Ok(())) => {}
            Ok(Err(reason)) => return Err(LoadError::Configure(reason)),
            Err(e) => return Err(LoadError::Canary(format!("{e:#}"))),
        }
        Ok(Warm {
            store,
            inst,
            generation: loaded.generation,
            synced,
        })
    }

    fn take(&self, generation: u64) -> Option<Warm<W>> {
        let mut pool = self.pool.lock().ok()?;
        while let Some(w) = pool.pop() {
            if w.generation == generation {
                return Some(w);
            }
        }
        None
    }

    fn put_back(&self, warm: Warm<W>) {
        if warm.generation != self.current.load().generation {
            return;
        }
        if let Ok(mut pool) = self.pool.lock()
            && pool.len() < self.settings.pool_size
        {
            pool.push(warm);
        }
    }

    /// Runs `f` on a warm instance of the current component within the slot's deadline.
    /// An error (trap, deadline, memory cap) drops the instance, counts a failure and may
    /// revert the slot; the caller then answers with the native policy.
    pub(crate) fn call<R>(
        &self,
        f: impl FnOnce(&W, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, String> {
        self.call_synced(|inst, store, _| f(inst, store))
    }

    /// [`Self::call`], with the instance's `synced` tag: for state that the call brings up to
    /// date itself, within the call's deadline (the router's request).
    pub(crate) fn call_synced<R>(
        &self,
        f: impl FnOnce(&W, &mut Store<HostState>, &mut u64) -> wasmtime::Result<R>,
    ) -> Result<R, String> {
        self.call_prepared(|_, _, _| Ok(Ok(())), f)
    }

    /// [`Self::call`], after `prepare` has brought the instance's state up to date (e.g. the
    /// intention set) under the lifecycle budget rather than the call's deadline. A
    /// `prepare` that traps or refuses counts as a failed call.
    pub(crate) fn call_prepared<R>(
        &self,
        prepare: impl FnOnce(
            &W,
            &mut Store<HostState>,
            &mut u64,
        ) -> wasmtime::Result<Result<(), String>>,
        f: impl FnOnce(&W, &mut Store<HostState>, &mut u64) -> wasmtime::Result<R>,
    ) -> Result<R, String> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let loaded = self.current.load();
        let warm = match self.take(loaded.generation) {
            Some(w) => Ok(w),
            // Instantiation and `configure` get the lifecycle budget, not the call's.
            None => self.instantiate(&loaded, ticks(CANARY_DEADLINE)),
        };
        let mut warm = match warm {
            Ok(w) => w,
            Err(e) => return Err(self.failed(&loaded, format!("instantiation failed: {e:#}"))),
        };
        warm.store.set_epoch_deadline(ticks(CANARY_DEADLINE));
        match prepare(&warm.inst, &mut warm.store, &mut warm.synced) {
            Ok(Ok(())) => {}
            Ok(Err(reason)) => {
                return Err(self.failed(&loaded, format!("refused its state: {reason}")));
            }
            Err(e) => return Err(self.failed(&loaded, describe(&e))),
        }
        warm.store.set_epoch_deadline(self.deadline_ticks);
        match f(&warm.inst, &mut warm.store, &mut warm.synced) {
            Ok(r) => {
                if self.consecutive.load(Ordering::Relaxed) != 0 {
                    self.consecutive.store(0, Ordering::Relaxed);
                }
                self.put_back(warm);
                Ok(r)
            }
            // A trapped instance is never reused: `warm` is dropped here.
            Err(e) => Err(self.failed(&loaded, describe(&e))),
        }
    }

    fn failed(&self, loaded: &Loaded<W>, reason: String) -> String {
        let total = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let consecutive = self.consecutive.fetch_add(1, Ordering::Relaxed) + 1;
        if self.failure_log.allow() {
            tracing::warn!(
                slot = %self.name,
                component = %loaded.name,
                failures = total,
                consecutive,
                %reason,
                "plugin call failed; answered with the built-in policy"
            );
        }
        if consecutive >= self.settings.max_consecutive_failures {
            self.revert_after_failures(loaded, &reason);
        }
        reason
    }

    fn revert_after_failures(&self, failed: &Loaded<W>, reason: &str) {
        let why = format!(
            "{} consecutive failures of {}, last: {reason}",
            self.settings.max_consecutive_failures, failed.name
        );
        match &self.builtin {
            Some(builtin) if !failed.is_builtin() => {
                // Only the component that failed is replaced (a concurrent load wins).
                let cur = self.current.load_full();
                if cur.generation != failed.generation {
                    return;
                }
                let prev = self.current.compare_and_swap(&cur, builtin.clone());
                if !Arc::ptr_eq(&*prev, &cur) {
                    return;
                }
                self.consecutive.store(0, Ordering::Relaxed);
                tracing::error!(slot = %self.name, reason = %why, "plugin slot reverted to its built-in component");
                self.set_state(SlotState::Reverted(why));
            }
            _ => self.set_state(SlotState::Failing(why)),
        }
    }

    fn set_state(&self, state: SlotState) {
        if let Ok(mut s) = self.state.lock() {
            *s = state;
        }
    }

    /// Compiles, checks and canaries `input`, then makes it current. Blocking.
    pub(crate) fn load(
        &self,
        input: LoadInput,
        prepare: Prepare<'_, W>,
    ) -> Result<SlotInfo, LoadError> {
        let loaded = Arc::new(compile::<W>(&self.engine, &self.linker, input)?);
        let warm = self.canary(&loaded, prepare)?;
        self.install(loaded);
        self.put_back(warm);
        tracing::info!(slot = %self.name, component = %self.current.load().name, "plugin loaded");
        Ok(self.info())
    }

    fn install(&self, loaded: Arc<Loaded<W>>) {
        let generation = loaded.generation;
        self.current.store(loaded);
        self.consecutive.store(0, Ordering::Relaxed);
        self.set_state(SlotState::Active);
        if let Ok(mut pool) = self.pool.lock() {
            pool.retain(|w| w.generation == generation);
        }
    }

    /// Puts the built-in component back (no-op for a slot without one).
    pub(crate) fn revert(&self) -> bool {
        let Some(builtin) = &self.builtin else {
            return false;
        };
        self.install(builtin.clone());
        true
    }

    /// Runs `f` on every pooled instance of the current component (e.g. to push new state),
    /// dropping those for which it fails.
    pub(crate) fn for_each_warm(
        &self,
        f: impl Fn(&W, &mut Store<HostState>, &mut u64) -> wasmtime::Result<Result<(), String>>,
    ) {
        // Work outside the lock: concurrent calls meanwhile instantiate or sync their own.
        let drained: Vec<Warm<W>> = match self.pool.lock() {
            Ok(mut pool) => pool.drain(..).collect(),
            Err(_) => return,
        };
        for mut w in drained {
            w.store.set_epoch_deadline(ticks(CANARY_DEADLINE));
            if matches!(f(&w.inst, &mut w.store, &mut w.synced), Ok(Ok(()))) {
                self.put_back(w);
            }
        }
    }

    /// A fresh instance of the current component for a one-off check (not pooled).
    pub(crate) fn with_fresh<R>(
        &self,
        f: impl FnOnce(&W, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, String> {
        let loaded = self.current.load();
        let mut warm = self
            .instantiate(&loaded, ticks(CANARY_DEADLINE))
            .map_err(|e| describe(&e))?;
        f(&warm.inst, &mut warm.store).map_err(|e| describe(&e))
    }

    /// Changes whenever the slot's answers may: a load or revert (the component's generation)
    /// and every failed call (answered natively). Cheap: two atomic loads.
    pub(crate) fn version(&self) -> u64 {
        let generation = self.current.load().generation;
        let failures = self.failures.load(Ordering::Relaxed);
        (generation << 32) ^ failures
    }

    pub(crate) fn info(&self) -> SlotInfo {
        let loaded = self.current.load();
        SlotInfo {
            slot: self.name.clone(),
            world: W::WORLD,
            component: loaded.name.clone(),
            source: loaded.source.clone(),
            sha256: loaded.sha256.clone(),
            loaded_at: loaded.loaded_at,
            compiled: true,
            calls: self.calls.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            consecutive_failures: self.consecutive.load(Ordering::Relaxed),
            logs_dropped: self.ctx.logs_dropped.load(Ordering::Relaxed),
            state: self
                .state
                .lock()
                .map(|s| s.clone())
                .unwrap_or(SlotState::Active),
        }
    }
}

/// A call error in words: deadline, memory cap or trap.
pub(crate) fn describe(e: &wasmtime::Error) -> String {
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => "deadline exceeded".to_owned(),
        Some(trap) => format!("trap: {trap}"),
        None => {
            let text = format!("{e:#}");
            if text.contains("forcing trap when growing memory") {
                format!("memory cap exceeded: {text}")
            } else {
                text
            }
        }
    }
}
