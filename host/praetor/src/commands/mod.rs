//! One module per command group; each `run` returns the process exit code or an error message
//! (printed to stderr by `main`, exit code 1).

pub mod acl;
pub mod autopilot;
pub mod catalog;
pub mod config;
pub mod connect;
pub mod event;
pub mod info;
pub mod intention;
pub mod keygen;
pub mod keyring;
pub mod kv;
pub mod maint;
pub mod members;
pub mod membership;
pub mod operator;
pub mod plugin;
pub mod rtt;
pub mod services;
pub mod snapshot;
pub mod tls;
pub mod version;

/// What a command returns: an exit code, or a message for stderr (exit code 1).
pub type Outcome = anyhow::Result<u8>;

/// Everything a command prints and its exit code, for commands whose exit codes are not just
/// 0 and 1 or that print to both streams (`intention check`, `intention list`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    /// The exit code.
    pub code: u8,
    /// Lines for stdout (Consul's `UI.Output` / `UI.Info`).
    pub out: Vec<String>,
    /// Lines for stderr (Consul's `UI.Error`).
    pub err: Vec<String>,
}

impl Reply {
    /// Exit code 0 with `text` on stdout.
    pub fn ok(text: impl Into<String>) -> Reply {
        Reply {
            out: vec![text.into()],
            ..Reply::default()
        }
    }

    /// Exit code `code` with `text` on stderr.
    pub fn fail(code: u8, text: impl Into<String>) -> Reply {
        Reply {
            code,
            err: vec![text.into()],
            ..Reply::default()
        }
    }

    /// Prints the lines (stdout first) and returns the exit code.
    pub fn print(&self) -> Outcome {
        for line in &self.out {
            println!("{line}");
        }
        for line in &self.err {
            eprintln!("{line}");
        }
        Ok(self.code)
    }
}

/// serde: a JSON `null` reads as the type's default (Go's nil maps and slices).
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + serde::Deserialize<'de>,
{
    Ok(<Option<T> as serde::Deserialize>::deserialize(d)?.unwrap_or_default())
}

/// The rendered help of `praetor <path...>` (`["acl", "policy", "create"]`) with Consul's
/// single-dash flags, or `fallback` if there is no such subcommand.
pub(crate) fn subcommand_help(path: &[&str], fallback: &str) -> String {
    use clap::CommandFactory;
    let mut cmd = crate::cli::Cli::command();
    cmd.build();
    let mut sub = &mut cmd;
    for name in path {
        match sub.find_subcommand_mut(name) {
            Some(next) => sub = next,
            None => return fallback.to_string(),
        }
    }
    crate::argv::single_dash_help(&sub.render_help().to_string())
}

/// Consul's `helpers.LoadDataSource`: `@file` is the file's contents, `-` is stdin, anything
/// else (`""`, `-x`) is the value itself.
pub(crate) fn load_data_source(
    data: &str,
    stdin: &mut dyn std::io::Read,
) -> Result<Vec<u8>, String> {
    if let Some(path) = data.strip_prefix('@') {
        return std::fs::read(path).map_err(|e| format!("Failed to read file: {e}"));
    }
    if data == "-" {
        let mut buf = Vec::new();
        stdin
            .read_to_end(&mut buf)
            .map_err(|e| format!("Failed to read stdin: {e}"))?;
        return Ok(buf);
    }
    Ok(data.as_bytes().to_vec())
}

/// Go's `json.MarshalIndent(v, "", "    ")`, as Consul's `-format=json` prints: 4-space
/// indentation and `<`, `>`, `&`, U+2028, U+2029 escaped as `\u003c`... (Go's HTML-safe
/// strings; these characters only occur inside strings, so replacing them is exact).
pub(crate) fn go_json<T: serde::Serialize + ?Sized>(value: &T) -> anyhow::Result<String> {
    go_json_indent(value, "    ")
}

/// Go's `json.MarshalIndent(v, "", indent)`: like [`go_json`] with another indentation.
pub(crate) fn go_json_indent<T: serde::Serialize + ?Sized>(
    value: &T,
    indent: &str,
) -> anyhow::Result<String> {
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    value.serialize(&mut ser)?;
    let text = String::from_utf8(buf)?;
    Ok(text
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029"))
}

/// `ip:port`, with brackets around an IPv6 address.
pub(crate) fn host_port(addr: &str, port: u16) -> String {
    if addr.contains(':') {
        format!("[{addr}]:{port}")
    } else {
        format!("{addr}:{port}")
    }
}
