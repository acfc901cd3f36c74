//! praetor-config: Consul-compatible agent configuration — JSON and HCL files plus command-line
//! flags merged in Consul's order and validated into one typed `Config`.
//!
//! Order: every `-config-file` and `-config-dir` in command-line order (a directory's `*.json` /
//! `*.hcl` sorted by name), then the flags. Later scalars win, lists (retry_join, services, checks, ...) concatenate, maps
//! overlay. Keys are Consul's; valid Consul keys praetor does not implement yet are ignored with
//! a warning, unless they are security settings set to a value that would matter (those are
//! refused, naming the key: see `security`); unknown keys are errors. Consul's deprecated
//! top-level TLS and `acl_*` keys are moved into `tls` / `acl` with Consul's deprecation warnings.

mod acl;
mod builder;
mod config;
mod decode;
mod definitions;
mod duration;
mod error;
mod flags;
mod keys;
mod raw;
mod security;
mod source;
mod tls;

use std::path::Path;

pub use config::{
    AclConfig, AclTokens, Config, ConnectConfig, DnsSettings, GossipSettings, Limits, Loaded,
    PluginGrants, PluginSlot, Ports, TlsConfig, TlsSection, TlsVersion,
};
pub use definitions::{
    CHECK_STATUSES, CheckDefinition, CheckKind, CheckSpec, DefinitionError, ProxySpec,
    ServiceDefinition, ServiceSpec, UpstreamSpec, validate_meta,
};
pub use duration::{DurationError, format_duration, parse_duration};
pub use error::ConfigError;
pub use flags::Flags;
pub use source::Format;

use decode::Decoder;
use raw::RawConfig;

/// Reads every config source named by `flags`, merges them, applies the flags and validates.
pub fn load(flags: &Flags) -> Result<Loaded, ConfigError> {
    let mut warnings = Vec::new();
    let mut raw = RawConfig::default();
    for (path, format) in source::config_files(flags, &mut warnings)? {
        let src = source::read(&path, format)?;
        tracing::debug!(file = %src.name, "Loading config file");
        let part = Decoder::new(&src.name, &mut warnings).config(&src.value)?;
        raw.merge(part);
    }
    raw.merge(RawConfig::from_flags(flags)?);
    let config = builder::build(raw, flags, builder::hostname(), &mut warnings)?;
    Ok(Loaded {
        config,
        warnings: dedup(warnings),
    })
}

/// Parses a file that holds only service definitions (`service { }` / `services [ ]`), as
/// `praetor services register FILE` takes. Format from the extension (`.hcl`, else JSON).
pub fn load_service_definitions(path: &Path) -> Result<Vec<ServiceDefinition>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let format = Format::from_path(path).unwrap_or(Format::Json);
    parse_service_definitions(&path.display().to_string(), &text, format)
}

/// Like `load_service_definitions`, from text; `name` is used in error messages.
pub fn parse_service_definitions(
    name: &str,
    text: &str,
    format: Format,
) -> Result<Vec<ServiceDefinition>, ConfigError> {
    let value = source::parse(name, text, format)?;
    let Some(map) = value.as_object() else {
        return Err(ConfigError::Syntax {
            file: name.to_string(),
            message: "the top level must be an object".to_string(),
        });
    };
    if let Some(key) = map
        .keys()
        .find(|k| !k.eq_ignore_ascii_case("service") && !k.eq_ignore_ascii_case("services"))
    {
        return Err(ConfigError::Syntax {
            file: name.to_string(),
            message: format!("only service definitions are allowed, found key {key:?}"),
        });
    }
    let mut warnings = Vec::new();
    let raw = Decoder::new(name, &mut warnings).config(&value)?;
    if raw.services.is_empty() {
        return Err(ConfigError::Syntax {
            file: name.to_string(),
            message: "no service definitions found".to_string(),
        });
    }
    raw.services
        .into_iter()
        .map(|spec| {
            let label = spec.name.clone().unwrap_or_default();
            spec.build()
                .map_err(|e| ConfigError::Invalid(format!("service {label:?}: {e}")))
        })
        .collect()
}

/// Drops repeated warnings (the same unsupported key in several files), keeping first order.
fn dedup(warnings: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    warnings
        .into_iter()
        .filter(|w| seen.insert(w.clone()))
        .collect()
}
