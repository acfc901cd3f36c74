//! Config sources: which files `-config-file` / `-config-dir` name, in which order, and parsing
//! each one (JSON or HCL, by extension) into a JSON value.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::ConfigError;
use crate::flags::Flags;

/// File formats Consul reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Hcl,
}

impl Format {
    /// `.json` or `.hcl`; anything else is not a config file.
    pub fn from_path(path: &Path) -> Option<Format> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Some(Format::Json),
            Some("hcl") => Some(Format::Hcl),
            _ => None,
        }
    }
}

/// One parsed source.
pub(crate) struct Source {
    pub name: String,
    pub value: Value,
}

fn skipping(path: &Path) -> String {
    format!(
        "skipping file {}, extension must be .hcl or .json, or config format must be set",
        path.display()
    )
}

/// The files to read, in merge order: every `-config-file` and `-config-dir` in command-line
/// order (as Consul); a directory contributes its `*.json` / `*.hcl` files sorted by name.
/// Other files are skipped with a warning (as Consul does).
pub(crate) fn config_files(
    flags: &Flags,
    warnings: &mut Vec<String>,
) -> Result<Vec<(PathBuf, Format)>, ConfigError> {
    let mut files = Vec::new();
    for path in &flags.config_paths {
        let meta = std::fs::metadata(path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            files.extend(dir_files(path, warnings)?);
        } else {
            match Format::from_path(path) {
                Some(format) => files.push((path.clone(), format)),
                None => warnings.push(skipping(path)),
            }
        }
    }
    Ok(files)
}

fn dir_files(
    dir: &Path,
    warnings: &mut Vec<String>,
) -> Result<Vec<(PathBuf, Format)>, ConfigError> {
    let read_err = |source| ConfigError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let path = entry.path();
        // Follow symlinks: a link to a file is a file.
        let is_dir = std::fs::metadata(&path)
            .map(|m| m.is_dir())
            .unwrap_or(false);
        if !is_dir {
            entries.push(path);
        }
    }
    entries.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    let mut files = Vec::new();
    for path in entries {
        match Format::from_path(&path) {
            Some(format) => files.push((path, format)),
            None => warnings.push(skipping(&path)),
        }
    }
    Ok(files)
}

/// Reads and parses one file.
pub(crate) fn read(path: &Path, format: Format) -> Result<Source, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path.display().to_string();
    let value = parse(&name, &text, format)?;
    Ok(Source { name, value })
}

/// Parses config text. An empty (or blank) text is an empty configuration.
pub(crate) fn parse(name: &str, text: &str, format: Format) -> Result<Value, ConfigError> {
    if text.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    let syntax = |message: String| ConfigError::Syntax {
        file: name.to_string(),
        message,
    };
    match format {
        Format::Json => serde_json::from_str(text).map_err(|e| syntax(e.to_string())),
        Format::Hcl => hcl::from_str(text).map_err(|e| syntax(e.to_string())),
    }
}
