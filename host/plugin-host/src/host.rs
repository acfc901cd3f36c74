//! `PluginHost`: the slots (translator, router, intentions, join providers), the policy calls
//! with their native fallbacks, the intention set, and hot swap.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use arc_swap::ArcSwap;
use praetor_policy as policy;
use praetor_policy::discover;
use wasmtime::Store;

use crate::bindings::intentions::IntentionEvaluator;
use crate::bindings::intentions::exports::praetor::plugins::intentions as wi;
use crate::bindings::join::JoinProvider;
use crate::bindings::router::Router;
use crate::bindings::translator::AddressTranslator;
use crate::builtin::{self, Builtin};
use crate::convert;
use crate::engine;
use crate::error::{LoadError, PluginError};
use crate::imports;
use crate::info::{ComponentSource, SlotInfo};
use crate::lazy::LazySlot;
use crate::settings::{PluginHostConfig, SlotSettings};
use crate::slot::{LoadInput, Slot};
use crate::store::HostState;
use crate::worlds::PluginWorld;

/// The intention set every evaluator instance must hold, and its native twin.
struct IntentionSet {
    version: u64,
    wit: Vec<wi::Intention>,
    default_allow: bool,
    native: policy::Evaluator,
}

static INTENTION_VERSION: AtomicU64 = AtomicU64::new(1);

/// A slot name, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SlotId {
    Translator,
    Router,
    Intentions,
    Join(String),
}

impl SlotId {
    pub(crate) fn parse(slot: &str) -> Result<Self, LoadError> {
        match slot {
            "translator" => Ok(SlotId::Translator),
            "router" => Ok(SlotId::Router),
            "intentions" => Ok(SlotId::Intentions),
            _ => match slot.strip_prefix("join:") {
                Some(p) if is_provider_name(p) => Ok(SlotId::Join(p.to_owned())),
                _ => Err(LoadError::UnknownSlot(slot.to_owned())),
            },
        }
    }
}

fn is_provider_name(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 64
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A component to load into a slot.
#[derive(Debug, Clone)]
pub struct LoadRequest {
    /// The component's bytes (a `.wasm` component for the slot's world).
    pub bytes: Vec<u8>,
    /// The slot's `config = { ... }` block as a JSON object (`{}` when none).
    pub config_json: String,
    /// Name shown by `list()`; defaults to the file stem of `path`, else "custom".
    pub name: Option<String>,
    /// The file it was read from, if any (shown by `list()`).
    pub path: Option<PathBuf>,
}

impl LoadRequest {
    /// Bytes and configuration, without a file name.
    pub fn new(bytes: Vec<u8>, config_json: &str) -> Self {
        LoadRequest {
            bytes,
            config_json: config_json.to_owned(),
            name: None,
            path: None,
        }
    }

    fn into_input(self) -> LoadInput {
        let name = self
            .name
            .or_else(|| {
                self.path
                    .as_ref()
                    .and_then(|p| p.file_stem())
                    .map(|s| s.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "custom".to_owned());
        LoadInput {
            bytes: self.bytes,
            compiled: None,
            config_json: self.config_json,
            name,
            source: match self.path {
                Some(p) => ComponentSource::Path(p),
                None => ComponentSource::Bytes,
            },
        }
    }
}

struct Inner {
    config: PluginHostConfig,
    translator: LazySlot<AddressTranslator>,
    router: LazySlot<Router>,
    intentions: LazySlot<IntentionEvaluator>,
    intention_set: ArcSwap<IntentionSet>,
    /// What the translator's instances were last given (see [`translate_on`]).
    agent: ArcSwap<Given<Agent>>,
    /// The request the router's instances were last given (see [`pick_on`]).
    route_request: ArcSwap<Given<policy::RouteRequest>>,
    joins: RwLock<BTreeMap<String, Arc<LazySlot<JoinProvider>>>>,
}

/// The plugin host. Cheap to clone; calls are synchronous and safe from any thread.
#[derive(Clone)]
pub struct PluginHost {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost").finish_non_exhaustive()
    }
}

fn no_prepare<W>()
-> impl Fn(&W, &mut Store<HostState>, &mut u64) -> wasmtime::Result<Result<(), String>> + Sync {
    |_: &W, _: &mut Store<HostState>, _: &mut u64| Ok(Ok(()))
}

/// Pushes `set` into an evaluator instance unless it already holds it.
fn sync_intentions(
    inst: &IntentionEvaluator,
    store: &mut Store<HostState>,
    synced: &mut u64,
    set: &IntentionSet,
) -> wasmtime::Result<Result<(), String>> {
    if *synced == set.version {
        return Ok(Ok(()));
    }
    let r =
        inst.praetor_plugins_intentions()
            .call_update(&mut *store, &set.wit, set.default_allow)?;
    if r.is_ok() {
        *synced = set.version;
    }
    Ok(r)
}

impl PluginHost {
    /// Creates the slots. Each slot's built-in component is compiled when the slot is first
    /// used (see [`LazySlot`]), and the process' engine is created then: until then, and while
    /// it compiles in the background, calls are answered by the native policy the built-in
    /// implements (the same answers; `*_plugin` calls wait for the compile instead). An agent
    /// that never calls a slot pays for none of it, in start-up time or memory.
    pub fn new(config: PluginHostConfig) -> Result<PluginHost, PluginError> {
        let lazy = |b: Builtin| (b, config.settings_for(b.slot));
        let translator = LazySlot::builtin(lazy(builtin::TRANSLATE_WAN_ADDRS));
        let router = LazySlot::builtin(lazy(builtin::ROUTE_RTT));
        let intentions = LazySlot::builtin(lazy(builtin::INTENTIONS_CONSUL));
        let set = IntentionSet {
            version: INTENTION_VERSION.fetch_add(1, Ordering::Relaxed),
            wit: Vec::new(),
            default_allow: config.default_allow,
            native: policy::Evaluator::new(Vec::new(), config.default_allow)
                .map_err(PluginError::Engine)?,
        };
        let joins = builtin::JOIN_PROVIDERS
            .iter()
            .map(|b| {
                let provider = b.slot.trim_start_matches("join:").to_owned();
                (provider, Arc::new(LazySlot::builtin(lazy(*b))))
            })
            .collect();
        Ok(PluginHost {
            inner: Arc::new(Inner {
                config,
                translator,
                router,
                intentions,
                intention_set: ArcSwap::new(Arc::new(set)),
                agent: ArcSwap::new(Given::new(Agent::default())),
                route_request: ArcSwap::new(Given::new(policy::RouteRequest::default())),
                joins: RwLock::new(joins),
            }),
        })
    }

    /// The translator slot, compiled (blocking on first use).
    fn translator(&self) -> Result<&Slot<AddressTranslator>, LoadError> {
        self.inner.translator.get(&no_prepare())
    }

    /// The router slot, compiled (blocking on first use).
    fn router(&self) -> Result<&Slot<Router>, LoadError> {
        self.inner.router.get(&no_prepare())
    }

    /// The intentions slot, compiled (blocking on first use); its first instance takes the
    /// current intention set.
    fn intentions(&self) -> Result<&Slot<IntentionEvaluator>, LoadError> {
        let set = self.inner.intention_set.load_full();
        let prepare =
            |inst: &IntentionEvaluator, store: &mut Store<HostState>, synced: &mut u64| {
                sync_intentions(inst, store, synced, &set)
            };
        self.inner.intentions.get(&prepare)
    }

    /// `slot` if it is compiled. Otherwise starts compiling it on a thread of its own (once)
    /// and returns `None`: the caller answers with the native policy, which is what the
    /// built-in (the only component a slot can hold before it is compiled) would answer.
    fn warm<'a, W: PluginWorld>(
        &self,
        slot: &'a LazySlot<W>,
        compile: fn(&PluginHost),
    ) -> Option<&'a Slot<W>> {
        if let Some(s) = slot.compiled() {
            return Some(s);
        }
        if slot.claim_warming() {
            let host = self.clone();
            let spawned = std::thread::Builder::new()
                .name("praetor-plugin-compile".into())
                .spawn(move || compile(&host));
            if let Err(error) = spawned {
                tracing::warn!(%error, "cannot start a thread to compile a built-in plugin");
            }
        }
        None
    }

    // ---- policy calls ----

    /// The address and port to present for a record (`translate_wan_addrs`).
    pub fn translate(&self, query: &policy::AddressQuery) -> policy::Presented {
        match self.warm(&self.inner.translator, |h| drop(h.translator())) {
            Some(slot) => translate_on(slot, &self.inner.agent, query)
                .unwrap_or_else(|_| policy::translate(query)),
            None => policy::translate(query),
        }
    }

    /// `translate` through the plugin only (no fallback); `Err` is the failure reason.
    pub fn translate_plugin(
        &self,
        query: &policy::AddressQuery,
    ) -> Result<policy::Presented, String> {
        translate_on(
            self.translator().map_err(|e| e.to_string())?,
            &self.inner.agent,
            query,
        )
    }

    /// A number that changes whenever [`Self::translate`]'s answers may change (a component
    /// loaded or reverted, a call failed), for caches of presented addresses. Cheap; 0 while
    /// the built-in is not compiled (its answers are the native policy's either way).
    pub fn translator_version(&self) -> u64 {
        self.inner.translator.compiled().map_or(0, Slot::version)
    }

    /// Datacenter names best first (`/v1/catalog/datacenters`).
    pub fn rank(&self, local_datacenter: &str, candidates: &[policy::Candidate]) -> Vec<String> {
        self.warm(&self.inner.router, |h| drop(h.router()))
            .and_then(|slot| rank_on(slot, local_datacenter, candidates).ok())
            .unwrap_or_else(|| policy::rank(local_datacenter, candidates))
    }

    /// `rank` through the plugin only. An answer that does not name every datacenter exactly
    /// once counts as a failure.
    pub fn rank_plugin(
        &self,
        local_datacenter: &str,
        candidates: &[policy::Candidate],
    ) -> Result<Vec<String>, String> {
        rank_on(
            self.router().map_err(|e| e.to_string())?,
            local_datacenter,
            candidates,
        )
    }

    /// Where to send a request for another datacenter; `None`: no healthy server.
    pub fn pick(&self, request: &policy::RouteRequest) -> Option<policy::Route> {
        self.warm(&self.inner.router, |h| drop(h.router()))
            .and_then(|slot| pick_on(slot, &self.inner.route_request, request).ok())
            .unwrap_or_else(|| policy::pick(request))
    }

    /// `pick` through the plugin only.
    pub fn pick_plugin(
        &self,
        request: &policy::RouteRequest,
    ) -> Result<Option<policy::Route>, String> {
        pick_on(
            self.router().map_err(|e| e.to_string())?,
            &self.inner.route_request,
            request,
        )
    }

    /// The intention verdict for one connection or request.
    pub fn evaluate(&self, request: &policy::Request) -> policy::Decision {
        let set = self.inner.intention_set.load();
        self.warm(&self.inner.intentions, |h| drop(h.intentions()))
            .and_then(|slot| evaluate_on(slot, &set, request).ok())
            .unwrap_or_else(|| set.native.evaluate(request))
    }

    /// `evaluate` through the plugin only.
    pub fn evaluate_plugin(&self, request: &policy::Request) -> Result<policy::Decision, String> {
        let slot = self.intentions().map_err(|e| e.to_string())?;
        let set = self.inner.intention_set.load();
        evaluate_on(slot, &set, request)
    }

    /// Replaces the intention set and default verdict. Refused (the previous set stays) when
    /// the native evaluator or the loaded plugin rejects it (e.g. an invalid regex).
    pub fn update_intentions(
        &self,
        intentions: Vec<policy::Intention>,
        default_allow: bool,
    ) -> Result<(), String> {
        let wit: Vec<wi::Intention> = intentions.iter().map(convert::intention).collect();
        let native = policy::Evaluator::new(intentions, default_allow)?;
        let set = IntentionSet {
            version: INTENTION_VERSION.fetch_add(1, Ordering::Relaxed),
            wit,
            default_allow,
            native,
        };
        // A slot not compiled yet holds the built-in, which takes any set the native
        // evaluator takes; its first instance is given the set when it is compiled.
        let Some(slot) = self.inner.intentions.compiled() else {
            self.inner.intention_set.store(Arc::new(set));
            return Ok(());
        };
        // The plugin may refuse; check on a fresh instance before publishing.
        match slot.with_fresh(|inst, store| {
            inst.praetor_plugins_intentions()
                .call_update(store, &set.wit, default_allow)
        }) {
            Ok(Ok(())) => {}
            Ok(Err(reason)) => return Err(reason),
            Err(e) => {
                tracing::warn!(reason = %e, "intention plugin failed to take the new set; the built-in evaluator answers until it does");
            }
        }
        let set = Arc::new(set);
        self.inner.intention_set.store(set.clone());
        // Warm instances take the new set now, so requests do not pay for it.
        slot.for_each_warm(|inst, store, synced| sync_intentions(inst, store, synced, &set));
        Ok(())
    }

    /// Runs a join provider (`args` as parsed from "provider=NAME key=value ...", `provider`
    /// included). Blocking: host imports do I/O. Built-in providers fall back to native code
    /// when their component fails.
    pub fn discover_blocking(
        &self,
        provider: &str,
        args: &[(String, String)],
    ) -> Result<Vec<String>, String> {
        let slot = self
            .inner
            .joins
            .read()
            .ok()
            .and_then(|j| j.get(provider).cloned());
        let Some(slot) = slot else {
            return native_discover(provider, args);
        };
        let called = slot
            .get(&no_prepare())
            .map_err(|e| e.to_string())
            .and_then(|slot| {
                slot.call(|inst, store| inst.praetor_plugins_discovery().call_discover(store, args))
            });
        match called {
            Ok(answer) => answer,
            Err(reason) if is_builtin_provider(provider) => {
                tracing::debug!(provider, %reason, "join provider failed; using the built-in");
                native_discover(provider, args)
            }
            Err(reason) => Err(format!("provider {provider}: {reason}")),
        }
    }

    /// [`Self::discover_blocking`] on tokio's blocking pool.
    pub async fn discover(
        &self,
        provider: &str,
        args: Vec<(String, String)>,
    ) -> Result<Vec<String>, String> {
        let host = self.clone();
        let provider = provider.to_owned();
        tokio::task::spawn_blocking(move || host.discover_blocking(&provider, &args))
            .await
            .map_err(|e| format!("discovery task failed: {e}"))?
    }

    // ---- management ----

    /// Loads a component into `slot` (`translator`, `router`, `intentions`, `join:<provider>`):
    /// compiles it off the async threads, checks it against the slot's world, configures a
    /// canary instance, then swaps it in atomically. A refused load leaves the slot as it was.
    pub async fn load(
        &self,
        slot: &str,
        bytes: Vec<u8>,
        config_json: &str,
    ) -> Result<SlotInfo, LoadError> {
        self.load_request(slot, LoadRequest::new(bytes, config_json))
            .await
    }

    /// [`Self::load`] with a name and file path for `list()`.
    pub async fn load_request(
        &self,
        slot: &str,
        request: LoadRequest,
    ) -> Result<SlotInfo, LoadError> {
        let host = self.clone();
        let slot = slot.to_owned();
        tokio::task::spawn_blocking(move || host.load_blocking(&slot, request))
            .await
            .map_err(|e| LoadError::Task(e.to_string()))?
    }

    /// [`Self::load_request`] on the calling thread (blocking).
    pub fn load_blocking(&self, slot: &str, request: LoadRequest) -> Result<SlotInfo, LoadError> {
        let id = SlotId::parse(slot)?;
        let input = request.into_input();
        let inner = &self.inner;
        match id {
            SlotId::Translator => self.translator()?.load(input, &no_prepare()),
            SlotId::Router => self.router()?.load(input, &no_prepare()),
            SlotId::Intentions => {
                let slot = self.intentions()?;
                let set = inner.intention_set.load_full();
                let prepare =
                    |inst: &IntentionEvaluator, store: &mut Store<HostState>, synced: &mut u64| {
                        sync_intentions(inst, store, synced, &set)
                    };
                slot.load(input, &prepare)
            }
            SlotId::Join(provider) => {
                let existing = inner
                    .joins
                    .read()
                    .ok()
                    .and_then(|j| j.get(&provider).cloned());
                match existing {
                    Some(s) => s.get(&no_prepare())?.load(input, &no_prepare()),
                    None => {
                        let np = no_prepare::<JoinProvider>();
                        let (engine, linker) =
                            engine::shared(true).map_err(|e| LoadError::Compile(e.to_string()))?;
                        let created = Slot::new_custom(
                            slot,
                            engine,
                            linker,
                            inner.config.settings_for(slot),
                            input,
                            &np,
                        )?;
                        let info = created.info();
                        if let Ok(mut joins) = inner.joins.write() {
                            joins.insert(provider, Arc::new(LazySlot::ready(slot, created)));
                        }
                        Ok(info)
                    }
                }
            }
        }
    }

    /// Puts a slot's built-in component back; an operator's join provider is removed.
    pub fn revert(&self, slot: &str) -> Result<(), LoadError> {
        let inner = &self.inner;
        match SlotId::parse(slot)? {
            // A slot not compiled yet still holds its built-in.
            SlotId::Translator => {
                if let Some(s) = inner.translator.compiled() {
                    s.revert();
                }
            }
            SlotId::Router => {
                if let Some(s) = inner.router.compiled() {
                    s.revert();
                }
            }
            SlotId::Intentions => {
                if let Some(s) = inner.intentions.compiled() {
                    s.revert();
                }
            }
            SlotId::Join(provider) => {
                let mut joins = inner
                    .joins
                    .write()
                    .map_err(|_| LoadError::UnknownSlot(slot.to_owned()))?;
                let Some(s) = joins.get(&provider) else {
                    return Err(LoadError::UnknownSlot(slot.to_owned()));
                };
                if let Some(compiled) = s.compiled()
                    && !compiled.revert()
                {
                    joins.remove(&provider);
                }
            }
        }
        tracing::info!(slot, "plugin slot reverted by the operator");
        Ok(())
    }

    /// Every slot, built-ins first, then join providers by name.
    pub fn list(&self) -> Vec<SlotInfo> {
        let inner = &self.inner;
        let mut out = vec![
            inner.translator.info(),
            inner.router.info(),
            inner.intentions.info(),
        ];
        if let Ok(joins) = inner.joins.read() {
            out.extend(joins.values().map(|s| s.info()));
        }
        out
    }

    /// One slot's state.
    pub fn info(&self, slot: &str) -> Result<SlotInfo, LoadError> {
        let inner = &self.inner;
        match SlotId::parse(slot)? {
            SlotId::Translator => Ok(inner.translator.info()),
            SlotId::Router => Ok(inner.router.info()),
            SlotId::Intentions => Ok(inner.intentions.info()),
            SlotId::Join(p) => inner
                .joins
                .read()
                .ok()
                .and_then(|j| j.get(&p).map(|s| s.info()))
                .ok_or_else(|| LoadError::UnknownSlot(slot.to_owned())),
        }
    }

    /// The settings a slot runs with.
    pub fn settings(&self, slot: &str) -> SlotSettings {
        self.inner.config.settings_for(slot)
    }
}

/// A translate call on `slot`'s current component: `set-agent` first when the instance does
/// not hold the query's agent part yet (both within the call's deadline), then `translate`.
fn translate_on(
    slot: &Slot<AddressTranslator>,
    last: &ArcSwap<Given<Agent>>,
    query: &policy::AddressQuery,
) -> Result<policy::Presented, String> {
    let given = Given::for_call(
        last,
        |a| a.local_datacenter == query.local_datacenter && a.enabled == query.enabled,
        || Agent {
            local_datacenter: query.local_datacenter.clone(),
            enabled: query.enabled,
        },
    );
    let tagged = convert::tagged(query);
    let q = convert::address_query(query, &tagged);
    slot.call_synced(|inst, store, synced| {
        let translation = inst.praetor_plugins_translation();
        if *synced != given.version {
            let agent = &given.value;
            translation.call_set_agent(&mut *store, &agent.local_datacenter, agent.enabled)?;
            *synced = given.version;
        }
        translation.call_translate(store, q)
    })
    .map(convert::presented)
}

/// A rank call on `slot`'s current component, its answer checked.
fn rank_on(
    slot: &Slot<Router>,
    local_datacenter: &str,
    candidates: &[policy::Candidate],
) -> Result<Vec<String>, String> {
    let lists = convert::candidate_lists(candidates);
    let cs = convert::candidates(candidates, &lists);
    slot.call(|inst, store| {
        let names = inst
            .praetor_plugins_routing()
            .call_rank(store, local_datacenter, &cs)?;
        check_rank(&names, candidates).map_err(wasmtime::Error::msg)?;
        Ok(names)
    })
}

/// State a slot's instances are given before a call (the router's request, the translator's
/// agent), with a process-unique version: an instance whose `synced` tag is `version` holds
/// `value` already.
struct Given<T> {
    version: u64,
    value: T,
}

static GIVEN_VERSION: AtomicU64 = AtomicU64::new(1);

impl<T> Given<T> {
    fn new(value: T) -> Arc<Self> {
        Arc::new(Given {
            version: GIVEN_VERSION.fetch_add(1, Ordering::Relaxed),
            value,
        })
    }

    /// What a call gives: the last given value when it `matches` the call's, else `make()`,
    /// which becomes the last given.
    fn for_call(
        last: &ArcSwap<Given<T>>,
        matches: impl FnOnce(&T) -> bool,
        make: impl FnOnce() -> T,
    ) -> Arc<Given<T>> {
        let current = last.load();
        if matches(&current.value) {
            return arc_swap::Guard::into_inner(current);
        }
        let given = Given::new(make());
        last.store(given.clone());
        given
    }
}

/// What the translator's instances are given by `set-agent`.
#[derive(Default)]
struct Agent {
    local_datacenter: String,
    enabled: bool,
}

/// A pick call on `slot`'s current component: `set-request` first when the instance does not
/// hold `request` yet (both within the call's deadline), then `pick`.
fn pick_on(
    slot: &Slot<Router>,
    last: &ArcSwap<Given<policy::RouteRequest>>,
    request: &policy::RouteRequest,
) -> Result<Option<policy::Route>, String> {
    let given = Given::for_call(last, |r| r == request, || request.clone());
    slot.call_synced(|inst, store, synced| {
        let routing = inst.praetor_plugins_routing();
        if *synced != given.version {
            let lists = convert::candidate_lists(&given.value.candidates);
            let cs = convert::candidates(&given.value.candidates, &lists);
            routing.call_set_request(&mut *store, convert::route_request(&given.value, &cs))?;
            *synced = given.version;
        }
        routing.call_pick(store)
    })
    .map(|route| convert::route(route, request))
}

/// An evaluate call on `slot`'s current component, after it holds `set`.
fn evaluate_on(
    slot: &Slot<IntentionEvaluator>,
    set: &IntentionSet,
    request: &policy::Request,
) -> Result<policy::Decision, String> {
    let r = convert::request(request);
    slot.call_prepared(
        |inst, store, synced| sync_intentions(inst, store, synced, set),
        |inst, store, _| inst.praetor_plugins_intentions().call_evaluate(store, &r),
    )
    .map(convert::decision)
}

fn is_builtin_provider(provider: &str) -> bool {
    matches!(provider, "static" | "file" | "dns")
}

/// The native `static`, `file` and `dns` providers (the built-in components' fallback).
pub(crate) fn native_discover(
    provider: &str,
    args: &[(String, String)],
) -> Result<Vec<String>, String> {
    match provider {
        "static" => discover::static_addrs(args),
        "file" => {
            let path = discover::file_path(args)?;
            let text = imports::read_limited(std::path::Path::new(path))
                .map_err(|e| format!("file: {path}: {e}"))?;
            let addrs = discover::file_addrs(&text);
            if addrs.is_empty() {
                return Err(format!("file: {path}: no addresses"));
            }
            Ok(addrs)
        }
        "dns" => {
            let q = discover::dns_query(args)?;
            let kind = q.kind.as_str();
            let answers = imports::resolve(&q.name, kind)
                .map_err(|e| format!("dns: {kind} {}: {e}", q.name))?;
            let addrs = discover::dns_addrs(&q, &answers);
            if addrs.is_empty() {
                return Err(format!("dns: {kind} {}: no answers", q.name));
            }
            Ok(addrs)
        }
        other => Err(format!("unknown join provider {other:?}")),
    }
}

/// `rank`'s contract: every datacenter of `candidates` exactly once.
fn check_rank(names: &[String], candidates: &[policy::Candidate]) -> Result<(), String> {
    let mut want: Vec<&str> = candidates.iter().map(|c| c.datacenter.as_str()).collect();
    want.sort_unstable();
    want.dedup();
    let mut got: Vec<&str> = names.iter().map(String::as_str).collect();
    got.sort_unstable();
    if got != want {
        return Err(format!(
            "rank must name each datacenter once: got {names:?} for {want:?}"
        ));
    }
    Ok(())
}
