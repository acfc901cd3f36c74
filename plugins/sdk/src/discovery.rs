//! The capabilities a join provider may use (`praetor:plugins/discovery-host`). Each is denied
//! unless the operator grants it in the slot configuration; a plugin of another kind that calls
//! one imports `discovery-host` and is refused by its slot. In a native build they fail with
//! [`NATIVE`].

/// The error every function returns outside a praetor agent (native builds, e.g. unit tests).
pub const NATIVE: &str = "host capabilities are only available inside a praetor agent";

/// Resolves `name` through the agent's resolver. `kind` is "A", "AAAA" or "SRV"; A and AAAA
/// answers are IP addresses, SRV answers "target:port".
///
/// Errors: "denied: dns" without the grant; otherwise the resolver's message.
pub fn resolve(name: &str, kind: &str) -> Result<Vec<String>, String> {
    #[cfg(target_arch = "wasm32")]
    return crate::bindings::join::praetor::plugins::discovery_host::resolve(name, kind);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (name, kind);
        Err(NATIVE.to_string())
    }
}

/// Reads a whole UTF-8 file under one of the granted directories.
///
/// Errors: `"denied: <path>"` outside the grants; otherwise the I/O error's message.
pub fn read_file(path: &str) -> Result<String, String> {
    #[cfg(target_arch = "wasm32")]
    return crate::bindings::join::praetor::plugins::discovery_host::read_file(path);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = path;
        Err(NATIVE.to_string())
    }
}

/// HTTP GET of `url` on a granted host; the body (at most 1 MiB, 5 s timeout).
///
/// Errors: `"denied: <host>"` outside the grants; `"status <code>"` for a non-2xx answer;
/// otherwise the transport error's message.
pub fn http_get(url: &str) -> Result<String, String> {
    #[cfg(target_arch = "wasm32")]
    return crate::bindings::join::praetor::plugins::discovery_host::http_get(url);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = url;
        Err(NATIVE.to_string())
    }
}
