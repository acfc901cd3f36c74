//! Join providers (world `join-provider`): the [`JoinProvider`] trait and its bridge to the
//! generated bindings.

use crate::bindings::join::exports::praetor::plugins::discovery as wit;
use crate::slot::Slot;

/// go-discover style address discovery for `retry_join` entries such as
/// `"provider=NAME key=value ..."`. Export with `export_plugin!(join: MyType)`. Host
/// capabilities (DNS, granted files, granted HTTP hosts) are in [`crate::discovery`].
///
/// ```
/// use praetor_plugin_sdk::{JoinProvider, policy::discover};
///
/// /// `provider=range prefix=10.0.0. from=1 to=3` -> 10.0.0.1 .. 10.0.0.3
/// #[derive(Default)]
/// struct Range;
///
/// impl JoinProvider for Range {
///     fn discover(&mut self, args: &[(String, String)]) -> Result<Vec<String>, String> {
///         let prefix = discover::arg(args, "prefix").ok_or("range: prefix is required")?;
///         let bound = |key: &str| -> Result<u8, String> {
///             discover::arg(args, key).and_then(|v| v.parse().ok()).ok_or(format!("range: invalid {key}"))
///         };
///         Ok((bound("from")?..=bound("to")?).map(|i| format!("{prefix}{i}")).collect())
///     }
/// }
///
/// let args = discover::parse_args("provider=range prefix=10.0.0. from=1 to=3").unwrap();
/// assert_eq!(Range.discover(&args).unwrap(), ["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
///
/// praetor_plugin_sdk::export_plugin!(join: Range);
/// ```
pub trait JoinProvider: Default + 'static {
    /// Applies the slot's configuration (see [`crate::AddressTranslator::configure`]). The
    /// default accepts any configuration.
    fn configure(&mut self, config_json: &str) -> Result<(), String> {
        let _ = config_json;
        Ok(())
    }

    /// The addresses to join ("ip", "ip:port", "host" or "host:port") for one entry's
    /// key/value pairs, in order, `provider` included. An `Err` is logged by the agent, which
    /// retries at its retry interval.
    fn discover(&mut self, args: &[(String, String)]) -> Result<Vec<String>, String>;
}

impl<S> wit::Guest for S
where
    S: Slot,
    S::Plugin: JoinProvider,
{
    fn discover(args: Vec<(String, String)>) -> Result<Vec<String>, String> {
        S::with(|plugin| plugin.discover(&args))
    }
}
