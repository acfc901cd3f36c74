//! One module per command group; each `run` returns the process exit code or an error message
//! (printed to stderr by `main`, exit code 1).

pub mod acl;
pub mod autopilot;
pub mod catalog;
pub mod event;
pub mod info;
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
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
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
