//! A slot whose built-in component is compiled on first use, not at start: an agent that never
//! calls a slot (intentions without the mesh, join providers without `provider=` joins) never
//! pays for compiling it, in start-up time or memory.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use crate::builtin::{self, Builtin};
use crate::engine;
use crate::error::LoadError;
use crate::info::{ComponentSource, SlotInfo, SlotState};
use crate::settings::SlotSettings;
use crate::slot::{LoadInput, Prepare, Slot, sha256_hex};
use crate::worlds::PluginWorld;

/// What compiling the built-in needs, kept until it is compiled.
struct Pending {
    builtin: Builtin,
    settings: SlotSettings,
    created: SystemTime,
}

/// A [`Slot`] that exists once its built-in has been compiled (or from the start, for an
/// operator's join provider). The compile result, failure included, is kept: a built-in that
/// does not compile is a build defect, and calls answer natively.
pub(crate) struct LazySlot<W: PluginWorld> {
    name: String,
    pending: Option<Pending>,
    cell: OnceLock<Result<Slot<W>, LoadError>>,
    warming: AtomicBool,
}

impl<W: PluginWorld> LazySlot<W> {
    /// A slot that compiles `builtin` when it is first needed.
    /// A slot named after `builtin.slot`, run with `settings`.
    pub(crate) fn builtin((builtin, settings): (Builtin, SlotSettings)) -> Self {
        LazySlot {
            name: builtin.slot.to_owned(),
            pending: Some(Pending {
                builtin,
                settings,
                created: SystemTime::now(),
            }),
            cell: OnceLock::new(),
            warming: AtomicBool::new(false),
        }
    }

    /// A slot that already exists (an operator's join provider, which has no built-in).
    pub(crate) fn ready(name: &str, slot: Slot<W>) -> Self {
        LazySlot {
            name: name.to_owned(),
            pending: None,
            cell: OnceLock::from(Ok(slot)),
            warming: AtomicBool::new(true),
        }
    }

    /// The slot, compiling its built-in first if it has not been (blocking: tens of
    /// milliseconds). `prepare` is the canary's world-specific check.
    pub(crate) fn get(&self, prepare: Prepare<'_, W>) -> Result<&Slot<W>, LoadError> {
        self.cell
            .get_or_init(|| self.compile(prepare))
            .as_ref()
            .map_err(Clone::clone)
    }

    fn compile(&self, prepare: Prepare<'_, W>) -> Result<Slot<W>, LoadError> {
        let Some(p) = &self.pending else {
            return Err(LoadError::UnknownSlot(self.name.clone()));
        };
        let _span = tracing::debug_span!("plugin_builtin_compile", slot = %self.name).entered();
        let (engine, linker) = engine::shared(self.name.starts_with("join:"))
            .map_err(|e| LoadError::Compile(e.to_string()))?;
        let compiled = builtin::compiled(engine, &p.builtin)
            .map_err(|e| LoadError::Compile(format!("{e:#}")))?;
        let input = LoadInput {
            bytes: p.builtin.bytes.to_vec(),
            compiled: Some(compiled),
            config_json: "{}".to_owned(),
            name: p.builtin.name.to_owned(),
            source: ComponentSource::Builtin,
        };
        let slot = Slot::new(
            &self.name,
            engine,
            linker,
            p.settings.clone(),
            input,
            prepare,
        );
        if let Err(error) = &slot {
            tracing::error!(slot = %self.name, %error, "built-in plugin failed to load; calls answer with the native policy");
        }
        release_compiler_memory();
        slot
    }

    /// The slot if it is compiled; never blocks.
    pub(crate) fn compiled(&self) -> Option<&Slot<W>> {
        self.cell.get().and_then(|r| r.as_ref().ok())
    }

    /// True exactly once, for the caller that should compile the slot in the background.
    pub(crate) fn claim_warming(&self) -> bool {
        !self.warming.swap(true, Ordering::AcqRel)
    }

    /// The slot's state; a built-in not compiled yet is described without compiling it.
    pub(crate) fn info(&self) -> SlotInfo {
        if let Some(slot) = self.compiled() {
            return slot.info();
        }
        let (component, sha256, loaded_at) = match &self.pending {
            Some(p) => (
                p.builtin.name.to_owned(),
                sha256_hex(p.builtin.bytes),
                p.created,
            ),
            None => (String::new(), String::new(), SystemTime::now()),
        };
        let state = match self.cell.get() {
            Some(Err(error)) => SlotState::Failing(error.to_string()),
            _ => SlotState::Active,
        };
        SlotInfo {
            slot: self.name.clone(),
            world: W::WORLD,
            component,
            source: ComponentSource::Builtin,
            sha256,
            loaded_at,
            compiled: false,
            calls: 0,
            failures: 0,
            consecutive_failures: 0,
            logs_dropped: 0,
            state,
        }
    }
}

/// Compiling leaves glibc's arena of the compiling thread holding the compiler's freed memory;
/// give it back to the system, so an agent grows by the compiled code only.
fn release_compiler_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap pages; it has no preconditions.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}
