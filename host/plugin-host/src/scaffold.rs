//! `praetor plugin new KIND NAME`: the files of a new plugin crate that builds as is. The SDK is
//! not published, so the crate depends on this repository's `plugins/sdk` by absolute path.

use std::path::PathBuf;

/// The SDK's directory in the repository this binary was built from.
pub fn sdk_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../plugins/sdk")
}

/// A plugin kind, as `praetor plugin new` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginKind {
    Translator,
    Router,
    Join,
    Intentions,
}

impl PluginKind {
    /// Accepts the slot names (`translator`, `router`, `join`, `intentions`) and the world
    /// names (`address-translator`, `join-provider`, `intention-evaluator`).
    pub fn parse(kind: &str) -> Result<Self, String> {
        match kind {
            "translator" | "address-translator" => Ok(PluginKind::Translator),
            "router" => Ok(PluginKind::Router),
            "join" | "join-provider" => Ok(PluginKind::Join),
            "intentions" | "intention-evaluator" => Ok(PluginKind::Intentions),
            other => Err(format!(
                "unknown plugin kind {other:?} (translator, router, join or intentions)"
            )),
        }
    }

    /// The WIT world a plugin of this kind implements.
    pub fn world(self) -> &'static str {
        match self {
            PluginKind::Translator => "address-translator",
            PluginKind::Router => "router",
            PluginKind::Join => "join-provider",
            PluginKind::Intentions => "intention-evaluator",
        }
    }
}

/// One generated file: path relative to the new crate's directory, and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaffoldFile {
    pub path: PathBuf,
    pub content: String,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.len() <= 64
}

/// The files of plugin crate `name` of `kind` (Cargo.toml, src/lib.rs, README.md).
pub fn scaffold(kind: &str, name: &str) -> Result<Vec<ScaffoldFile>, String> {
    let kind = PluginKind::parse(kind)?;
    if !valid_name(name) {
        return Err(format!(
            "invalid plugin name {name:?}: use lowercase letters, digits, '-' and '_', starting with a letter"
        ));
    }
    let sdk = sdk_path();
    let sdk = sdk.canonicalize().unwrap_or(sdk);
    let cargo_toml = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
# The SDK is not on crates.io: this is the praetor repository the agent was built from.
praetor-plugin-sdk = {{ path = "{sdk}" }}

# A standalone crate, not part of an enclosing workspace.
[workspace]

[profile.release]
opt-level = 3
lto = true
codegen-units = 1
strip = true
panic = "abort"
"#,
        sdk = sdk.display()
    );
    let readme = format!(
        r#"# {name}

A praetor `{world}` plugin (a WebAssembly component).

Build it (needs `rustup target add wasm32-wasip2`):

    cargo build --release --target wasm32-wasip2

The component is `target/wasm32-wasip2/release/{file}.wasm`. Try it offline with
`praetor plugin test {slot} target/wasm32-wasip2/release/{file}.wasm INPUT.json`, then load it
into a running agent's `{slot}` slot.

The SDK (`praetor-plugin-sdk`) is not published on crates.io: `Cargo.toml` depends on it by
absolute path, at `{sdk}` (the praetor repository this agent was built from). Change that
path if you move the repository or build elsewhere.
"#,
        world = kind.world(),
        file = name.replace('-', "_"),
        slot = match kind {
            PluginKind::Join => "join:<provider>",
            PluginKind::Translator => "translator",
            PluginKind::Router => "router",
            PluginKind::Intentions => "intentions",
        },
        sdk = sdk.display(),
    );
    Ok(vec![
        ScaffoldFile {
            path: PathBuf::from("Cargo.toml"),
            content: cargo_toml,
        },
        ScaffoldFile {
            path: PathBuf::from("src/lib.rs"),
            content: lib_rs(kind, name),
        },
        ScaffoldFile {
            path: PathBuf::from("README.md"),
            content: readme,
        },
    ])
}

fn lib_rs(kind: PluginKind, name: &str) -> String {
    match kind {
        PluginKind::Translator => format!(
            r#"//! {name}: an address translator. Starts as Consul's `translate_wan_addrs`.

use praetor_plugin_sdk::{{AddressQuery, AddressTranslator, Presented, export_plugin, policy}};

#[derive(Default)]
struct Plugin;

impl AddressTranslator for Plugin {{
    fn configure(&mut self, _config_json: &str) -> Result<(), String> {{
        Ok(())
    }}

    fn translate(&self, query: &AddressQuery) -> Presented {{
        policy::translate(query)
    }}
}}

export_plugin!(translator: Plugin);
"#
        ),
        PluginKind::Router => format!(
            r#"//! {name}: a routing policy. Starts as Consul's RTT ranking and server choice.

use praetor_plugin_sdk::{{Candidate, Route, RouteRequest, Router, export_plugin, policy}};

#[derive(Default)]
struct Plugin;

impl Router for Plugin {{
    fn configure(&mut self, _config_json: &str) -> Result<(), String> {{
        Ok(())
    }}

    fn rank(&self, local_datacenter: &str, candidates: &[Candidate]) -> Vec<String> {{
        policy::rank(local_datacenter, candidates)
    }}

    fn pick(&self, request: &RouteRequest) -> Option<Route> {{
        policy::pick(request)
    }}
}}

export_plugin!(router: Plugin);
"#
        ),
        PluginKind::Join => format!(
            r#"//! {name}: a join provider (`provider={name} ...`). Starts as the `static` provider:
//! `addrs="a b c"`.

use praetor_plugin_sdk::{{JoinProvider, export_plugin, policy}};

#[derive(Default)]
struct Plugin;

impl JoinProvider for Plugin {{
    fn configure(&mut self, _config_json: &str) -> Result<(), String> {{
        Ok(())
    }}

    fn discover(&mut self, args: &[(String, String)]) -> Result<Vec<String>, String> {{
        policy::discover::static_addrs(args)
    }}
}}

export_plugin!(join: Plugin);
"#
        ),
        PluginKind::Intentions => format!(
            r#"//! {name}: an intention evaluator. Starts as Consul's evaluation.

use praetor_plugin_sdk::{{Decision, Evaluator, Intention, IntentionEvaluator, Request, export_plugin}};

#[derive(Default)]
struct Plugin {{
    evaluator: Evaluator,
}}

impl IntentionEvaluator for Plugin {{
    fn configure(&mut self, _config_json: &str) -> Result<(), String> {{
        Ok(())
    }}

    fn update(&mut self, intentions: Vec<Intention>, default_allow: bool) -> Result<(), String> {{
        self.evaluator = Evaluator::new(intentions, default_allow)?;
        Ok(())
    }}

    fn evaluate(&self, request: &Request) -> Decision {{
        self.evaluator.evaluate(request)
    }}
}}

export_plugin!(intentions: Plugin);
"#
        ),
    }
}
