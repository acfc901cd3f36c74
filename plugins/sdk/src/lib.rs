//! The praetor plugin SDK: write a policy plugin (a WebAssembly component for
//! `wasm32-wasip2`) by implementing one plain Rust trait and calling [`export_plugin!`].
//!
//! | plugin kind | trait | export | WIT world |
//! |---|---|---|---|
//! | address translator | [`AddressTranslator`] | `export_plugin!(translator: T)` | `address-translator` |
//! | routing policy | [`Router`] | `export_plugin!(router: T)` | `router` |
//! | join provider | [`JoinProvider`] | `export_plugin!(join: T)` | `join-provider` |
//! | intention evaluator | [`IntentionEvaluator`] | `export_plugin!(intentions: T)` | `intention-evaluator` |
//!
//! The types are [`praetor_policy`]'s (re-exported here and as [`policy`]), the same the agent
//! uses natively, and so is Consul's logic: a plugin can reuse [`policy::translate()`],
//! [`policy::rank`], [`policy::pick`], [`Evaluator`] or [`policy::discover`] and change only
//! what it needs. Host functions are plain functions: [`log`] (every kind) and [`discovery`]
//! (join providers). [`json`] reads the slot configuration without serde.
//!
//! A plugin is a `cdylib` crate depending on this one:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//! [dependencies]
//! praetor-plugin-sdk = { path = "../sdk" }
//! ```
//!
//! ```
//! use praetor_plugin_sdk::{AddressQuery, AddressTranslator, Presented, export_plugin, policy};
//!
//! /// Consul's translation, logging every remote record it presents.
//! #[derive(Default)]
//! struct Logged;
//!
//! impl AddressTranslator for Logged {
//!     fn translate(&self, query: &AddressQuery) -> Presented {
//!         let presented = policy::translate(query);
//!         praetor_plugin_sdk::log::debug(&format!("{} from {}", presented.address, query.record_datacenter));
//!         presented
//!     }
//! }
//!
//! export_plugin!(translator: Logged);
//! ```
//!
//! `cargo build --release --target wasm32-wasip2` then yields the component
//! (`target/wasm32-wasip2/release/<crate>.wasm`); `plugins/build.sh` builds every plugin.
//!
//! One plugin instance lives per component instance: it is created with `Default`, then
//! `configure` runs with the slot's configuration before any other call (and again when the
//! configuration changes), then the kind's calls. Calls never overlap.

#[doc(hidden)]
pub mod bindings;
pub mod discovery;
mod intentions;
mod join;
pub mod log;
mod router;
mod slot;
mod translator;

pub use intentions::IntentionEvaluator;
pub use join::JoinProvider;
pub use router::Router;
pub use translator::AddressTranslator;

/// The native policy logic and types shared with the agent.
pub use praetor_policy as policy;
pub use praetor_policy::json;
pub use praetor_policy::{
    Accept, Action, AddressQuery, Candidate, Decision, Evaluator, HeaderMatch, HttpRequest,
    Identity, Intention, PathKind, Permission, Presented, Request, Route, RouteRequest, Server,
    TaggedAddress,
};

#[doc(hidden)]
pub mod __private {
    pub use crate::slot::{RefCell, Slot, thread_local};
}

/// Exports a plugin type as the component's implementation. Use it once per plugin crate,
/// with the kind matching the trait the type implements:
///
/// ```text
/// export_plugin!(translator: MyType);   // MyType: AddressTranslator
/// export_plugin!(router: MyType);       // MyType: Router
/// export_plugin!(join: MyType);         // MyType: JoinProvider
/// export_plugin!(intentions: MyType);   // MyType: IntentionEvaluator
/// ```
///
/// The type must implement `Default`; the component keeps one instance of it.
#[macro_export]
macro_rules! export_plugin {
    (translator: $plugin:ty) => {
        $crate::__export_slot!(
            __PraetorPlugin,
            $plugin,
            $crate::AddressTranslator,
            __export_translator_exports_impl,
            translator
        );
    };
    (router: $plugin:ty) => {
        $crate::__export_slot!(
            __PraetorPlugin,
            $plugin,
            $crate::Router,
            __export_router_exports_impl,
            router
        );
    };
    (join: $plugin:ty) => {
        $crate::__export_slot!(
            __PraetorPlugin,
            $plugin,
            $crate::JoinProvider,
            __export_join_exports_impl,
            join
        );
    };
    (intentions: $plugin:ty) => {
        $crate::__export_slot!(
            __PraetorPlugin,
            $plugin,
            $crate::IntentionEvaluator,
            __export_intentions_exports_impl,
            intentions
        );
    };
}

/// The examples of `plugins/README.md`, compiled and run as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
