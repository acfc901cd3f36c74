//! What the slot machinery needs to know about each world: its name, the interfaces it must
//! export, how to type-check a component against it and instantiate it, and `configure`.

use wasmtime::Store;
use wasmtime::component::{Component, InstancePre};

use crate::bindings::{intentions, join, router, translator};
use crate::store::HostState;

/// One of the four plugin worlds.
pub(crate) trait PluginWorld: Sized + Send + 'static {
    /// bindgen's `...Pre`: type-checked, ready to instantiate.
    type Pre: Send + Sync + 'static;
    /// The WIT world's name.
    const WORLD: &'static str;
    /// Interfaces the component must export (fully qualified).
    const EXPORTS: &'static [&'static str];

    fn pre(pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre>;
    fn instantiate(pre: &Self::Pre, store: &mut Store<HostState>) -> wasmtime::Result<Self>;
    fn configure(
        &self,
        store: &mut Store<HostState>,
        config_json: &str,
    ) -> wasmtime::Result<Result<(), String>>;
}

const LIFECYCLE: &str = "praetor:plugins/lifecycle@0.2.0";

macro_rules! world {
    ($ty:ty, $pre:ty, $name:literal, $export:literal) => {
        impl PluginWorld for $ty {
            type Pre = $pre;
            const WORLD: &'static str = $name;
            const EXPORTS: &'static [&'static str] = &[LIFECYCLE, $export];

            fn pre(pre: InstancePre<HostState>) -> wasmtime::Result<Self::Pre> {
                <$pre>::new(pre)
            }

            fn instantiate(
                pre: &Self::Pre,
                store: &mut Store<HostState>,
            ) -> wasmtime::Result<Self> {
                pre.instantiate(store)
            }

            fn configure(
                &self,
                store: &mut Store<HostState>,
                config_json: &str,
            ) -> wasmtime::Result<Result<(), String>> {
                self.praetor_plugins_lifecycle()
                    .call_configure(store, config_json)
            }
        }
    };
}

world!(
    translator::AddressTranslator,
    translator::AddressTranslatorPre<HostState>,
    "address-translator",
    "praetor:plugins/translation@0.2.0"
);
world!(
    router::Router,
    router::RouterPre<HostState>,
    "router",
    "praetor:plugins/routing@0.2.0"
);
world!(
    intentions::IntentionEvaluator,
    intentions::IntentionEvaluatorPre<HostState>,
    "intention-evaluator",
    "praetor:plugins/intentions@0.2.0"
);
world!(
    join::JoinProvider,
    join::JoinProviderPre<HostState>,
    "join-provider",
    "praetor:plugins/discovery@0.2.0"
);

/// Checks that `component` exports every interface of world `W`, naming what it lacks.
pub(crate) fn check_exports<W: PluginWorld>(
    engine: &wasmtime::Engine,
    component: &Component,
) -> Result<(), String> {
    let ty = component.component_type();
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    for want in W::EXPORTS {
        if !exports.iter().any(|e| e == want) {
            // The same interface of another version of the package: name both versions.
            let unversioned = want.split_once('@').map_or(*want, |(name, _)| name);
            if let Some(other) = exports.iter().find(|e| {
                e.split_once('@')
                    .is_some_and(|(name, _)| name == unversioned)
            }) {
                return Err(format!(
                    "component was built for `{}` (it exports `{other}`), and this agent serves \
                     `{}`: rebuild it against this version's WIT (a plugin written with the SDK \
                     only needs rebuilding)",
                    package(other),
                    package(want)
                ));
            }
            let have = if exports.is_empty() {
                "nothing".to_owned()
            } else {
                exports.join(", ")
            };
            return Err(format!(
                "component is not a `{}` plugin: it does not export `{want}` (it exports {have})",
                W::WORLD
            ));
        }
    }
    Ok(())
}

/// `praetor:plugins@0.2.0` of `praetor:plugins/routing@0.2.0`.
fn package(interface: &str) -> String {
    match (interface.split_once('/'), interface.split_once('@')) {
        (Some((package, _)), Some((_, version))) => format!("{package}@{version}"),
        _ => interface.to_owned(),
    }
}
