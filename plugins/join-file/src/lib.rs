//! Join provider `file`: `provider=file path=/etc/praetor/join.txt` joins the addresses in the
//! file (one per line, `#` comments), read through the host's `read-file` import (the operator
//! must grant the directory). Logic: `praetor_policy::discover::{file_path, file_addrs}`.

use praetor_plugin_sdk::{JoinProvider, discovery, export_plugin, json};
use praetor_policy::discover;

#[derive(Default)]
struct File;

impl JoinProvider for File {
    fn configure(&mut self, config_json: &str) -> Result<(), String> {
        json::expect_empty_object(config_json)
    }

    fn discover(&mut self, args: &[(String, String)]) -> Result<Vec<String>, String> {
        discover_with(args, discovery::read_file)
    }
}

/// `discover` with the file reader as a parameter (the host import in the component).
fn discover_with(
    args: &[(String, String)],
    read_file: impl Fn(&str) -> Result<String, String>,
) -> Result<Vec<String>, String> {
    let path = discover::file_path(args)?;
    let content = read_file(path).map_err(|e| format!("file: {path}: {e}"))?;
    let addrs = discover::file_addrs(&content);
    if addrs.is_empty() {
        return Err(format!("file: {path}: no addresses"));
    }
    Ok(addrs)
}

export_plugin!(join: File);

#[cfg(test)]
mod tests {
    use super::*;

    fn args(entry: &str) -> Vec<(String, String)> {
        discover::parse_args(entry).unwrap()
    }

    #[test]
    fn reads_addresses_from_the_file() {
        let read = |path: &str| -> Result<String, String> {
            assert_eq!(path, "/etc/praetor/join.txt");
            Ok("# servers\n10.0.0.1\n10.0.0.2:8301 # b\n".to_string())
        };
        let got = discover_with(&args("provider=file path=/etc/praetor/join.txt"), read).unwrap();
        assert_eq!(got, ["10.0.0.1", "10.0.0.2:8301"]);
    }

    #[test]
    fn reports_host_errors_and_empty_files() {
        let denied = |path: &str| -> Result<String, String> { Err(format!("denied: {path}")) };
        assert_eq!(
            discover_with(&args("provider=file path=/x"), denied).unwrap_err(),
            "file: /x: denied: /x"
        );
        let empty = |_: &str| -> Result<String, String> { Ok("# nothing\n\n".to_string()) };
        assert_eq!(
            discover_with(&args("provider=file path=/x"), empty).unwrap_err(),
            "file: /x: no addresses"
        );
        assert_eq!(
            discover_with(&args("provider=file"), empty).unwrap_err(),
            "file: path is required"
        );
        // Natively there is no host: the import reports it.
        assert!(
            File.discover(&args("provider=file path=/x"))
                .unwrap_err()
                .ends_with(discovery::NATIVE)
        );
    }
}
