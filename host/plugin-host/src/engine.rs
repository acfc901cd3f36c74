//! The process-wide wasmtime `Engine` (Cranelift, epoch interruption, pooling allocator), the
//! epoch ticker thread, and the per-world `Linker`s with the sandbox's host imports.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::bindings;
use crate::error::PluginError;
use crate::store::HostState;

/// One epoch tick. Per-call deadlines are expressed in ticks of this length.
pub(crate) const TICK: Duration = Duration::from_millis(1);

/// Upper bound for any slot's memory cap (the pooling allocator's per-memory maximum).
pub const MAX_MEMORY_BYTES: usize = 256 << 20;

/// Instances the pooling allocator can hold at once, over every slot of the process.
const POOL_INSTANCES: u32 = 512;

static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();

/// The process' engine, created (with its ticker thread) on first use.
pub(crate) fn engine() -> Result<&'static Engine, PluginError> {
    ENGINE
        .get_or_init(|| {
            let engine = build_engine().map_err(|e| format!("{e:#}"))?;
            let ticker = engine.clone();
            std::thread::Builder::new()
                .name("praetor-plugin-epoch".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(TICK);
                        ticker.increment_epoch();
                    }
                })
                .map_err(|e| format!("cannot start the epoch ticker: {e}"))?;
            Ok(engine)
        })
        .as_ref()
        .map_err(|e| PluginError::Engine(e.clone()))
}

fn build_engine() -> wasmtime::Result<Engine> {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(POOL_INSTANCES)
        .total_core_instances(POOL_INSTANCES * 4)
        .total_memories(POOL_INSTANCES)
        .total_tables(POOL_INSTANCES * 2)
        .max_memory_size(MAX_MEMORY_BYTES)
        .linear_memory_keep_resident(1 << 20)
        .table_keep_resident(64 << 10);
    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .max_wasm_stack(512 << 10)
        .cranelift_opt_level(wasmtime::OptLevel::Speed)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config)
}

static LINKERS: [OnceLock<Result<Arc<Linker<HostState>>, String>>; 2] =
    [OnceLock::new(), OnceLock::new()];

/// The process' engine and the shared linker for policy worlds (`with_discovery` false) or
/// join providers (true), both created on first use.
pub(crate) fn shared(
    with_discovery: bool,
) -> Result<(&'static Engine, Arc<Linker<HostState>>), PluginError> {
    let engine = engine()?;
    let linker = LINKERS[usize::from(with_discovery)]
        .get_or_init(|| {
            linker(engine, with_discovery)
                .map(Arc::new)
                .map_err(|e| format!("{e:#}"))
        })
        .as_ref()
        .map_err(|e| PluginError::Engine(e.clone()))?;
    Ok((engine, linker.clone()))
}

/// Builds the linker for one world: WASI p2 with nothing granted (stdio and blocking polls
/// replaced by traps), `log`, and for join providers `discovery-host`.
pub(crate) fn linker(engine: &Engine, with_discovery: bool) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::<HostState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    deny_blocking_wasi(&mut linker)?;
    if with_discovery {
        bindings::join::JoinProvider::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )?;
    } else {
        bindings::join::praetor::plugins::log::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )?;
    }
    Ok(linker)
}

/// wasmtime-wasi's synchronous stream and poll functions enter a tokio runtime, which panics on
/// a tokio worker thread (where policy calls run). Plugins get no stdio and may not block, so
/// these imports trap with a clear message instead (plugins log through the `log` import).
fn deny_blocking_wasi(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    use wasmtime::component::Resource;
    use wasmtime_wasi::p2::bindings::sync::io::streams::{InputStream, OutputStream};
    const V: &str = "0.2.12";
    linker.allow_shadowing(true);
    {
        let mut i = linker.instance(&format!("wasi:cli/stdout@{V}"))?;
        i.func_wrap(
            "get-stdout",
            |_, (): ()| -> wasmtime::Result<(Resource<OutputStream>,)> {
                Err(wasmtime::format_err!(
                    "plugins have no stdout: use the log import"
                ))
            },
        )?;
    }
    {
        let mut i = linker.instance(&format!("wasi:cli/stderr@{V}"))?;
        i.func_wrap(
            "get-stderr",
            |_, (): ()| -> wasmtime::Result<(Resource<OutputStream>,)> {
                Err(wasmtime::format_err!(
                    "plugins have no stderr: use the log import"
                ))
            },
        )?;
    }
    {
        let mut i = linker.instance(&format!("wasi:cli/stdin@{V}"))?;
        i.func_wrap(
            "get-stdin",
            |_, (): ()| -> wasmtime::Result<(Resource<InputStream>,)> {
                Err(wasmtime::format_err!("plugins have no stdin"))
            },
        )?;
    }
    {
        use wasmtime_wasi::p2::bindings::sync::io::poll::Pollable;
        let mut i = linker.instance(&format!("wasi:io/poll@{V}"))?;
        i.func_wrap(
            "poll",
            |_, (_,): (Vec<Resource<Pollable>>,)| -> wasmtime::Result<(Vec<u32>,)> {
                Err(wasmtime::format_err!("plugins may not block"))
            },
        )?;
        i.func_wrap(
            "[method]pollable.block",
            |_, (_,): (Resource<Pollable>,)| -> wasmtime::Result<()> {
                Err(wasmtime::format_err!("plugins may not block"))
            },
        )?;
    }
    linker.allow_shadowing(false);
    Ok(())
}
