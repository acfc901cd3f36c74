//! praetor's policy logic as plain types and pure functions, shared by the host's built-in
//! policies and the WebAssembly plugins (`plugins/`), so both run the same code.
//!
//! - [`translate`](mod@translate): Consul's `translate_wan_addrs` ([`translate::translate`]).
//! - [`routing`]: datacenter ranking and forwarding choice ([`routing::rank`], [`routing::pick`]).
//! - [`prefer_labels`]: a routing variant preferring datacenters with given labels.
//! - [`intentions`]: service-mesh intention evaluation ([`intentions::Evaluator`]).
//! - [`discover`]: go-discover argument syntax and the `static`, `file` and `dns` providers' logic.
//! - [`json`]: a small JSON reader for plugin configuration.
//!
//! Nothing here does I/O, reads a clock or panics on input.

pub mod discover;
pub mod intentions;
pub mod json;
pub mod prefer_labels;
pub mod routing;
pub mod translate;

pub use discover::parse_args;
pub use intentions::{
    Action, Decision, Evaluator, HeaderMatch, HttpRequest, Identity, Intention, Permission, Request,
};
pub use prefer_labels::LabelPreference;
pub use routing::{Candidate, PathKind, Route, RouteRequest, Server, pick, rank};
pub use translate::{Accept, AddressQuery, Presented, TaggedAddress, translate};
