//! The clap command definitions: Consul's subcommands and flag names (single-dash forms are
//! accepted through `argv::rewrite`). Boolean flags follow Go: `-wan`, `-wan=true`, `-wan=false`.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

/// Top-level command line.
#[derive(Debug, Parser)]
#[command(
    name = "praetor",
    version,
    about = "Praetor: a Consul-compatible service discovery and configuration agent",
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs a Praetor agent
    Agent(Box<AgentArgs>),
    /// Lists the members of a Praetor cluster
    Members(MembersArgs),
    /// Tell Praetor agent to join cluster
    Join(JoinArgs),
    /// Gracefully leaves the Praetor cluster and shuts down
    Leave(HttpOnly),
    /// Forces a member of the cluster to enter the "left" state
    #[command(name = "force-leave")]
    ForceLeave(ForceLeaveArgs),
    /// Triggers the agent to reload configuration files
    Reload(HttpOnly),
    /// Provides debugging information for operators
    Info(HttpOnly),
    /// Interact with the key-value store
    #[command(subcommand)]
    Kv(KvCommand),
    /// Interact with the catalog
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Interact with services
    #[command(subcommand)]
    Services(ServicesCommand),
    /// Provides cluster-level tools for operators
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Manage policy plugins (WebAssembly components)
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Generates a new encryption key
    Keygen,
    /// Manages gossip layer encryption keys
    Keyring(KeyringArgs),
    /// Estimates network round trip time between nodes
    Rtt(RttArgs),
    /// Builtin helpers for creating CAs and certificates
    #[command(subcommand)]
    Tls(crate::commands::tls::TlsCommand),
    /// Prints the Praetor version
    Version,
    /// Saves, restores and inspects snapshots of the servers' state
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Fire a new event
    Event(EventArgs),
    /// Controls node or service maintenance mode
    Maint(MaintArgs),
    /// Stream logs from a Praetor agent
    Monitor(MonitorArgs),
    /// Interact with Praetor's ACLs
    #[command(subcommand)]
    Acl(Box<crate::commands::acl::AclCommand>),
    /// Interact with Praetor's centralized config entries
    #[command(subcommand)]
    Config(crate::commands::config::ConfigCommand),
    /// Interact with Connect service intentions
    #[command(subcommand)]
    Intention(crate::commands::intention::IntentionCommand),
    /// Interact with Praetor Connect
    #[command(subcommand)]
    Connect(crate::commands::connect::ConnectCommand),
}

/// `praetor monitor [-log-level=INFO] [-log-json]`
#[derive(Debug, Args)]
pub struct MonitorArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Log level of the streamed lines: trace, debug, info, warn, err
    #[arg(long = "log-level", value_name = "LEVEL", default_value = "INFO")]
    pub log_level: String,
    /// Stream the lines as JSON
    #[arg(long = "log-json", num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub log_json: bool,
}

/// `praetor snapshot save|restore|inspect`
#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Saves a snapshot of the state of the servers to a file
    Save(SnapshotFileArgs),
    /// Restores the state of the servers from a snapshot file
    Restore(SnapshotFileArgs),
    /// Displays information about a snapshot file
    Inspect(SnapshotInspectArgs),
}

/// `praetor snapshot save|restore [flags] FILE`
#[derive(Debug, Args)]
pub struct SnapshotFileArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// The snapshot file
    #[arg(value_name = "FILE")]
    pub file: Vec<String>,
}

/// `praetor snapshot inspect [-format pretty|json] FILE`
#[derive(Debug, Args)]
pub struct SnapshotInspectArgs {
    /// Output format: pretty or json
    #[arg(long, value_name = "FORMAT", default_value = "pretty")]
    pub format: String,
    /// The snapshot file
    #[arg(value_name = "FILE")]
    pub file: Vec<String>,
}

/// `praetor event -name=NAME [-node=RE] [-service=RE] [-tag=RE] [PAYLOAD]`
#[derive(Debug, Args)]
pub struct EventArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Name of the event
    #[arg(long, value_name = "NAME", default_value = "")]
    pub name: String,
    /// Regular expression to filter on node names
    #[arg(long, value_name = "RE", default_value = "")]
    pub node: String,
    /// Regular expression to filter on service names
    #[arg(long, value_name = "RE", default_value = "")]
    pub service: String,
    /// Regular expression to filter on service tags (needs -service)
    #[arg(long, value_name = "RE", default_value = "")]
    pub tag: String,
    /// The payload
    #[arg(value_name = "PAYLOAD")]
    pub payload: Vec<String>,
}

/// `praetor maint [-enable|-disable] [-reason=TEXT] [-service=ID]`
#[derive(Debug, Args)]
pub struct MaintArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Enable maintenance mode
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub enable: bool,
    /// Disable maintenance mode
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub disable: bool,
    /// Text describing the maintenance reason
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub reason: String,
    /// Control maintenance mode for a specific service ID
    #[arg(long, value_name = "ID", default_value = "")]
    pub service: String,
}

/// Flags shared by every command that talks to an agent's HTTP API.
#[derive(Debug, Clone, Default, Args)]
pub struct HttpArgs {
    /// The address and port of the agent HTTP server (env PRAETOR_HTTP_ADDR, CONSUL_HTTP_ADDR)
    #[arg(long = "http-addr", value_name = "ADDR")]
    pub http_addr: Option<String>,
    /// Name of the datacenter to query (default: the agent's)
    #[arg(long, value_name = "DC")]
    pub datacenter: Option<String>,
    /// ACL token to use in the request (env PRAETOR_HTTP_TOKEN, CONSUL_HTTP_TOKEN)
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// File holding the ACL token; takes precedence over -token (env CONSUL_HTTP_TOKEN_FILE)
    #[arg(long = "token-file", value_name = "FILE")]
    pub token_file: Option<String>,
    /// Permit any server to answer, not only the leader
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub stale: bool,
    /// CA file to verify the agent's HTTPS certificate with (env CONSUL_CACERT)
    #[arg(long = "ca-file", value_name = "FILE")]
    pub ca_file: Option<String>,
    /// Directory of CA files to verify the agent's HTTPS certificate with (env CONSUL_CAPATH)
    #[arg(long = "ca-path", value_name = "DIR")]
    pub ca_path: Option<String>,
    /// Client certificate for HTTPS with verify_incoming (env CONSUL_CLIENT_CERT)
    #[arg(long = "client-cert", value_name = "FILE")]
    pub client_cert: Option<String>,
    /// Key of the client certificate (env CONSUL_CLIENT_KEY)
    #[arg(long = "client-key", value_name = "FILE")]
    pub client_key: Option<String>,
}

/// A command with only the HTTP flags.
#[derive(Debug, Args)]
pub struct HttpOnly {
    #[command(flatten)]
    pub http: HttpArgs,
}

/// `praetor agent`: every `praetor_config::Flags` field.
#[derive(Debug, Default, Args)]
pub struct AgentArgs {
    /// Run the agent in server mode
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    pub server: Option<bool>,
    /// Start the agent in development mode (in-memory single server)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    pub dev: Option<bool>,
    /// Bootstrap mode: this server elects itself leader
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    pub bootstrap: Option<bool>,
    /// Wait for this many servers before bootstrapping the cluster
    #[arg(
        long = "bootstrap-expect",
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub bootstrap_expect: Option<i64>,
    /// Datacenter of the agent
    #[arg(long, value_name = "DC")]
    pub datacenter: Option<String>,
    /// Name of this node; must be unique in the cluster
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// A unique ID (UUID) for this node across space and time
    #[arg(long = "node-id", value_name = "UUID")]
    pub node_id: Option<String>,
    /// Address to bind cluster communication to
    #[arg(long, value_name = "IP")]
    pub bind: Option<String>,
    /// Address to advertise to the rest of the cluster
    #[arg(long, value_name = "IP")]
    pub advertise: Option<String>,
    /// Address to advertise on the WAN
    #[arg(long = "advertise-wan", value_name = "IP")]
    pub advertise_wan: Option<String>,
    /// Address(es) to bind client interfaces (HTTP, DNS) to, space separated
    #[arg(long, value_name = "IPS")]
    pub client: Option<String>,
    /// Path to a data directory to store agent state
    #[arg(long = "data-dir", value_name = "PATH")]
    pub data_dir: Option<PathBuf>,
    /// Address of an agent to join at start time, retried until it succeeds (repeatable)
    #[arg(long = "retry-join", value_name = "ADDR")]
    pub retry_join: Vec<String>,
    /// Address of a WAN server to join, retried until it succeeds (repeatable)
    #[arg(long = "retry-join-wan", value_name = "ADDR")]
    pub retry_join_wan: Vec<String>,
    /// Address of an agent to join at start time (repeatable)
    #[arg(long, value_name = "ADDR")]
    pub join: Vec<String>,
    /// A JSON or HCL config file (repeatable; a directory is read like -config-dir)
    #[arg(long = "config-file", value_name = "PATH")]
    pub config_file: Vec<PathBuf>,
    /// A directory of *.json / *.hcl config files, read in name order (repeatable)
    #[arg(long = "config-dir", value_name = "PATH")]
    pub config_dir: Vec<PathBuf>,
    /// Every `-config-file` and `-config-dir` in command-line order (filled by [`parse`]).
    #[arg(skip)]
    pub config_paths: Vec<PathBuf>,
    /// HTTP API port (-1 disables)
    #[arg(long = "http-port", value_name = "PORT", allow_negative_numbers = true)]
    pub http_port: Option<i64>,
    /// DNS port (-1 disables)
    #[arg(long = "dns-port", value_name = "PORT", allow_negative_numbers = true)]
    pub dns_port: Option<i64>,
    /// Server RPC port
    #[arg(
        long = "server-port",
        value_name = "PORT",
        allow_negative_numbers = true
    )]
    pub server_port: Option<i64>,
    /// LAN gossip port
    #[arg(
        long = "serf-lan-port",
        value_name = "PORT",
        allow_negative_numbers = true
    )]
    pub serf_lan_port: Option<i64>,
    /// WAN gossip port (-1 disables)
    #[arg(
        long = "serf-wan-port",
        value_name = "PORT",
        allow_negative_numbers = true
    )]
    pub serf_wan_port: Option<i64>,
    /// Domain to answer DNS queries for
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,
    /// Log level: trace, debug, info, warn, err
    #[arg(long = "log-level", value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Path to a file to write the agent's PID to
    #[arg(long = "pid-file", value_name = "PATH")]
    pub pid_file: Option<PathBuf>,
    /// Enable the web UI
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    pub ui: Option<bool>,
    /// Base64 gossip encryption key
    #[arg(long, value_name = "KEY")]
    pub encrypt: Option<String>,
    /// Time to wait between join attempts
    #[arg(long = "retry-interval", value_name = "DURATION")]
    pub retry_interval: Option<String>,
    /// Maximum number of join attempts (0 = forever)
    #[arg(long = "retry-max", value_name = "N", allow_negative_numbers = true)]
    pub retry_max: Option<i64>,
    /// Time to wait between WAN join attempts
    #[arg(long = "retry-interval-wan", value_name = "DURATION")]
    pub retry_interval_wan: Option<String>,
    /// Maximum number of WAN join attempts (0 = forever)
    #[arg(
        long = "retry-max-wan",
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub retry_max_wan: Option<i64>,
    /// Arbitrary node metadata, key:value (repeatable)
    #[arg(long = "node-meta", value_name = "KEY:VALUE")]
    pub node_meta: Vec<String>,
}

/// `praetor members`
#[derive(Debug, Args)]
pub struct MembersArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// List members of the WAN pool instead of the LAN pool
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub wan: bool,
    /// Show all member tags
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub detailed: bool,
    /// Only list members whose status matches this regular expression
    #[arg(long, value_name = "REGEX", default_value = ".*")]
    pub status: String,
}

/// `praetor join`
#[derive(Debug, Args)]
pub struct JoinArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Join the WAN pool (servers only)
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub wan: bool,
    /// Addresses of agents to join
    #[arg(value_name = "ADDRESS")]
    pub addresses: Vec<String>,
}

/// `praetor force-leave`
#[derive(Debug, Args)]
pub struct ForceLeaveArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Remove the node from the member list entirely
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub prune: bool,
    /// Remove the node from the WAN pool (name must be node.dc)
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub wan: bool,
    /// Name of the node
    #[arg(value_name = "NODE")]
    pub node: Option<String>,
}

/// `praetor keyring`: exactly one of -list, -list-primary, -install, -use, -remove.
#[derive(Debug, Args)]
pub struct KeyringArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Install a new encryption key. This will broadcast the new key to all members in the cluster.
    #[arg(long, value_name = "KEY")]
    pub install: Option<String>,
    /// Change the primary encryption key, which is used to encrypt messages. The key must already be installed before this operation can succeed.
    #[arg(long = "use", value_name = "KEY")]
    pub use_key: Option<String>,
    /// Remove the given key from the cluster. This operation may only be performed on keys which are not currently the primary key.
    #[arg(long, value_name = "KEY")]
    pub remove: Option<String>,
    /// List all keys currently in use within the cluster.
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub list: bool,
    /// List all primary keys currently in use within the cluster.
    #[arg(long = "list-primary", num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub list_primary: bool,
    /// Setting this to a non-zero value will cause nodes to relay their response to the operation through this many randomly-chosen other nodes in the cluster. The maximum allowed value is 5.
    #[arg(
        long = "relay-factor",
        value_name = "N",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub relay_factor: i64,
    /// Setting this to true will force the keyring query to only hit local servers (no WAN traffic). This flag can only be set for list queries.
    #[arg(long = "local-only", num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub local_only: bool,
}

/// `praetor rtt [-wan] node1 [node2]`
#[derive(Debug, Args)]
pub struct RttArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Use WAN coordinates instead of LAN coordinates.
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub wan: bool,
    /// One or two node names (node.dc with -wan); the second defaults to the agent's
    #[arg(value_name = "NODE")]
    pub nodes: Vec<String>,
}

/// `praetor kv ...`
#[derive(Debug, Subcommand)]
pub enum KvCommand {
    /// Retrieves or lists data from the KV store
    Get(KvGetArgs),
    /// Sets or updates data in the KV store
    Put(KvPutArgs),
    /// Removes data from the KV store
    Delete(KvDeleteArgs),
}

/// `praetor kv get`
#[derive(Debug, Args)]
pub struct KvGetArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Print all keys with the given prefix and their values
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub recurse: bool,
    /// List the keys with the given prefix, not values
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub keys: bool,
    /// Separator for -keys
    #[arg(long, value_name = "SEP", default_value = "/")]
    pub separator: String,
    /// Print the entry's metadata too
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub detailed: bool,
    /// Print values base64-encoded
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub base64: bool,
    /// Key (or prefix)
    #[arg(value_name = "KEY")]
    pub key: Option<String>,
}

/// `praetor kv put`
#[derive(Debug, Args)]
pub struct KvPutArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Check-and-set: only write if -modify-index matches
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub cas: bool,
    /// Index the key must have for -cas
    #[arg(long = "modify-index", value_name = "INDEX", default_value_t = 0)]
    pub modify_index: u64,
    /// Unsigned integer stored with the key
    #[arg(long, value_name = "FLAGS", default_value_t = 0)]
    pub flags: u64,
    /// Acquire the lock on the key with -session
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub acquire: bool,
    /// Release the lock held with -session
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub release: bool,
    /// Session ID for -acquire / -release
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// The value is base64-encoded
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub base64: bool,
    /// Key to write
    #[arg(value_name = "KEY")]
    pub key: Option<String>,
    /// Value, @file to read a file, or - to read stdin
    #[arg(value_name = "DATA", allow_hyphen_values = true)]
    pub value: Option<String>,
    /// Unexpected extra arguments (reported as an error, like Consul)
    #[arg(hide = true, allow_hyphen_values = true)]
    pub extra: Vec<String>,
}

/// `praetor kv delete`
#[derive(Debug, Args)]
pub struct KvDeleteArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Delete every key with the given prefix
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub recurse: bool,
    /// Check-and-set: only delete if -modify-index matches
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub cas: bool,
    /// Index the key must have for -cas
    #[arg(long = "modify-index", value_name = "INDEX", default_value_t = 0)]
    pub modify_index: u64,
    /// Key (or prefix)
    #[arg(value_name = "KEY")]
    pub key: Option<String>,
}

/// `praetor catalog ...`
#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Lists all known datacenters
    Datacenters(HttpOnly),
    /// Lists all nodes in the given datacenter
    Nodes(CatalogNodesArgs),
    /// Lists all registered services in a datacenter
    Services(CatalogServicesArgs),
}

/// `praetor catalog nodes`
#[derive(Debug, Args)]
pub struct CatalogNodesArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Show tagged addresses and metadata
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub detailed: bool,
    /// Only nodes providing this service
    #[arg(long, value_name = "SERVICE")]
    pub service: Option<String>,
}

/// `praetor catalog services`
#[derive(Debug, Args)]
pub struct CatalogServicesArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Show the tags of each service
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", action = ArgAction::Set)]
    pub tags: bool,
    /// Only services on this node
    #[arg(long, value_name = "NODE")]
    pub node: Option<String>,
}

/// `praetor services ...`
#[derive(Debug, Subcommand)]
pub enum ServicesCommand {
    /// Register services with the local agent
    Register(ServicesRegisterArgs),
    /// Deregister services from the local agent
    Deregister(ServicesDeregisterArgs),
}

/// `praetor services register`
#[derive(Debug, Args)]
pub struct ServicesRegisterArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// Name of the service
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// ID of the service (default: the name)
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// Address of the service
    #[arg(long, value_name = "ADDR")]
    pub address: Option<String>,
    /// Port of the service
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Tag to add (repeatable)
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Metadata key=value (repeatable)
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    pub meta: Vec<String>,
    /// Service definition files (JSON or HCL)
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// `praetor services deregister`
#[derive(Debug, Args)]
pub struct ServicesDeregisterArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// ID of the service to deregister
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// Service definition files whose services to deregister
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// `praetor plugin ...`
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// List the policy slots of an agent and the component loaded in each
    List(HttpOnly),
    /// Load a component into a slot of a running agent (hot swap)
    Load(PluginLoadArgs),
    /// Run a component against sample input, offline
    Test(PluginTestArgs),
    /// Create a plugin crate that builds as is
    New(PluginNewArgs),
}

/// `praetor plugin load -slot=NAME FILE`
#[derive(Debug, Args)]
pub struct PluginLoadArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    /// The slot: translator, router, intentions or join:<provider>
    #[arg(long, value_name = "NAME")]
    pub slot: String,
    /// The slot's configuration: a JSON object, or @file
    #[arg(long, value_name = "JSON")]
    pub config: Option<String>,
    /// The component (.wasm)
    #[arg(value_name = "FILE")]
    pub file: std::path::PathBuf,
}

/// `praetor plugin test -slot=NAME FILE [INPUT]`
#[derive(Debug, Args)]
pub struct PluginTestArgs {
    /// The slot kind: translator, router, intentions or join:<provider>
    #[arg(long, value_name = "NAME")]
    pub slot: String,
    /// The configuration passed to `configure`: a JSON object, or @file
    #[arg(long, value_name = "JSON")]
    pub config: Option<String>,
    /// The component (.wasm)
    #[arg(value_name = "FILE")]
    pub file: std::path::PathBuf,
    /// Input JSON (default: a built-in sample for the slot)
    #[arg(value_name = "INPUT")]
    pub input: Option<std::path::PathBuf>,
}

/// `praetor plugin new KIND NAME`
#[derive(Debug, Args)]
pub struct PluginNewArgs {
    /// translator, router, intentions or join
    #[arg(value_name = "KIND")]
    pub kind: String,
    /// The crate name
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Where to create it (default: ./NAME)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
}

/// `praetor operator ...`
#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Provides cluster-level tools for the Raft subsystem
    #[command(subcommand)]
    Raft(RaftCommand),
    /// Manage network areas (links between this datacenter and a peer datacenter)
    #[command(subcommand)]
    Area(crate::commands::operator::AreaCommand),
    /// Provides tools for modifying Autopilot configuration
    #[command(subcommand)]
    Autopilot(crate::commands::autopilot::AutopilotCommand),
}

/// `praetor operator raft ...`
#[derive(Debug, Subcommand)]
pub enum RaftCommand {
    /// Display the current Raft peer configuration
    #[command(name = "list-peers")]
    ListPeers(HttpOnly),
    /// Remove a Praetor server from the Raft configuration
    #[command(name = "remove-peer")]
    RemovePeer(crate::commands::autopilot::RemovePeerArgs),
    /// Transfer raft leadership to another server (not supported yet: the agent refuses)
    #[command(name = "transfer-leader")]
    TransferLeader(crate::commands::autopilot::TransferLeaderArgs),
}

impl AgentArgs {
    /// The flags as `praetor_config` takes them.
    pub fn to_flags(&self) -> praetor_config::Flags {
        praetor_config::Flags {
            server: self.server,
            dev: self.dev,
            bootstrap: self.bootstrap,
            bootstrap_expect: self.bootstrap_expect,
            datacenter: self.datacenter.clone(),
            node: self.node.clone(),
            node_id: self.node_id.clone(),
            bind: self.bind.clone(),
            advertise: self.advertise.clone(),
            advertise_wan: self.advertise_wan.clone(),
            client: self.client.clone(),
            data_dir: self.data_dir.clone(),
            retry_join: self.retry_join.clone(),
            retry_join_wan: self.retry_join_wan.clone(),
            join: self.join.clone(),
            config_paths: self.config_paths.clone(),
            http_port: self.http_port,
            dns_port: self.dns_port,
            server_port: self.server_port,
            serf_lan_port: self.serf_lan_port,
            serf_wan_port: self.serf_wan_port,
            domain: self.domain.clone(),
            log_level: self.log_level.clone(),
            pid_file: self.pid_file.clone(),
            ui: self.ui,
            encrypt: self.encrypt.clone(),
            retry_interval: self.retry_interval.clone(),
            retry_max: self.retry_max,
            retry_interval_wan: self.retry_interval_wan.clone(),
            retry_max_wan: self.retry_max_wan,
            node_meta: self.node_meta.clone(),
        }
    }
}

/// Parses `praetor <args>` as the binary does (Consul's single-dash flags rewritten); for the
/// commands' tests.
#[cfg(test)]
pub(crate) fn parse_for_test(args: &[&str]) -> Cli {
    use clap::CommandFactory;
    let argv = std::iter::once("praetor")
        .chain(args.iter().copied())
        .map(std::ffi::OsString::from);
    parse(crate::argv::rewrite(&Cli::command(), argv)).expect("parses")
}

/// Parses the (rewritten) command line. Beyond clap's derive: the agent's `-config-file` and
/// `-config-dir` are kept in the order they were given, which is the order Consul merges them.
pub fn parse<I, T>(argv: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().try_get_matches_from(argv)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    if let (Command::Agent(args), Some(m)) = (&mut cli.command, matches.subcommand_matches("agent"))
    {
        let mut paths: Vec<(usize, PathBuf)> = Vec::new();
        for id in ["config_file", "config_dir"] {
            if let (Some(indices), Some(values)) = (m.indices_of(id), m.get_many::<PathBuf>(id)) {
                paths.extend(indices.zip(values.cloned()));
            }
        }
        paths.sort_by_key(|(i, _)| *i);
        args.config_paths = paths.into_iter().map(|(_, p)| p).collect();
    }
    Ok(cli)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_files_and_dirs_keep_command_line_order() {
        let cli = parse_for_test(&[
            "agent",
            "-config-dir=/etc/a",
            "-config-file=/etc/b.json",
            "-config-dir",
            "/etc/c",
            "-config-file=/etc/d.hcl",
        ]);
        let Command::Agent(args) = cli.command else {
            panic!("expected agent");
        };
        let order: Vec<String> = args
            .to_flags()
            .config_paths
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(order, ["/etc/a", "/etc/b.json", "/etc/c", "/etc/d.hcl"]);
    }
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Cli {
        parse_for_test(args)
    }

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn agent_flags_map_to_config_flags() {
        let cli = parse(&[
            "agent",
            "-server",
            "-bootstrap-expect=3",
            "-data-dir",
            "/tmp/d",
            "-retry-join=a",
            "-retry-join",
            "b",
            "-http-port=-1",
            "-dns-port",
            "-1",
            "-node-meta=rack:r1",
            "-ui=false",
            "-client",
            "127.0.0.1 10.0.0.1",
            "-retry-join-wan=10.0.2.1",
            "-retry-interval-wan",
            "10ms",
            "-retry-max-wan=1",
            "-encrypt=pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=",
        ]);
        let Command::Agent(args) = cli.command else {
            panic!("expected agent");
        };
        let flags = args.to_flags();
        assert_eq!(flags.server, Some(true));
        assert_eq!(flags.bootstrap_expect, Some(3));
        assert_eq!(flags.data_dir, Some(PathBuf::from("/tmp/d")));
        assert_eq!(flags.retry_join, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(flags.http_port, Some(-1));
        assert_eq!(flags.dns_port, Some(-1));
        assert_eq!(flags.node_meta, vec!["rack:r1".to_string()]);
        assert_eq!(flags.ui, Some(false));
        assert_eq!(flags.dev, None);
        assert_eq!(flags.client.as_deref(), Some("127.0.0.1 10.0.0.1"));
        assert_eq!(flags.retry_join_wan, vec!["10.0.2.1".to_string()]);
        assert_eq!(flags.retry_interval_wan.as_deref(), Some("10ms"));
        assert_eq!(flags.retry_max_wan, Some(1));
        assert_eq!(
            flags.encrypt.as_deref(),
            Some("pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=")
        );
    }

    #[test]
    fn bool_flags_do_not_swallow_positionals() {
        let cli = parse(&["kv", "get", "-recurse", "app/"]);
        let Command::Kv(KvCommand::Get(get)) = cli.command else {
            panic!("expected kv get");
        };
        assert!(get.recurse);
        assert_eq!(get.key.as_deref(), Some("app/"));
        assert_eq!(get.separator, "/");

        let cli = parse(&["join", "-wan", "10.0.0.1", "10.0.0.2"]);
        let Command::Join(join) = cli.command else {
            panic!("expected join");
        };
        assert!(join.wan);
        assert_eq!(join.addresses.len(), 2);
    }

    #[test]
    fn nested_subcommands_parse() {
        let cli = parse(&["operator", "raft", "list-peers", "-stale"]);
        assert!(matches!(
            cli.command,
            Command::Operator(OperatorCommand::Raft(RaftCommand::ListPeers(HttpOnly {
                http: HttpArgs { stale: true, .. }
            })))
        ));
        let cli = parse(&["members", "-status=alive|failed", "-detailed"]);
        let Command::Members(m) = cli.command else {
            panic!("expected members");
        };
        assert_eq!(m.status, "alive|failed");
        assert!(m.detailed && !m.wan);
        let cli = parse(&["catalog", "services", "-tags", "-node", "n1"]);
        assert!(matches!(
            cli.command,
            Command::Catalog(CatalogCommand::Services(CatalogServicesArgs {
                tags: true,
                node: Some(_),
                ..
            }))
        ));
    }

    #[test]
    fn federation_commands_parse() {
        assert!(matches!(parse(&["keygen"]).command, Command::Keygen));

        let Command::Keyring(k) =
            parse(&["keyring", "-list", "-local-only", "-relay-factor=2"]).command
        else {
            panic!("expected keyring");
        };
        assert!(k.list && k.local_only && !k.list_primary);
        assert_eq!(k.relay_factor, 2);
        let Command::Keyring(k) =
            parse(&["keyring", "-use", "KEY=", "-http-addr=127.0.9.1:8500"]).command
        else {
            panic!("expected keyring");
        };
        assert_eq!(k.use_key.as_deref(), Some("KEY="));
        assert!(!k.list);

        let Command::Rtt(r) = parse(&["rtt", "-wan", "s1.dc1", "s2.dc2"]).command else {
            panic!("expected rtt");
        };
        assert!(r.wan);
        assert_eq!(r.nodes, ["s1.dc1", "s2.dc2"]);
        let Command::Rtt(r) = parse(&["rtt", "-datacenter=dc2", "n1"]).command else {
            panic!("expected rtt");
        };
        assert!(!r.wan);
        assert_eq!(r.http.datacenter.as_deref(), Some("dc2"));
        assert_eq!(r.nodes, ["n1"]);
    }

    #[test]
    fn config_commands_parse() {
        use crate::commands::config::ConfigCommand;
        let Command::Config(ConfigCommand::Write(w)) = parse(&[
            "config",
            "write",
            "-cas",
            "-modify-index",
            "7",
            "-datacenter=dc2",
            "-",
        ])
        .command
        else {
            panic!("expected config write");
        };
        assert!(w.cas);
        assert_eq!(w.modify_index, Some(7));
        assert_eq!(w.http.datacenter.as_deref(), Some("dc2"));
        assert_eq!(w.source, ["-"]);
        let Command::Config(ConfigCommand::Write(w)) =
            parse(&["config", "write", "entry.hcl"]).command
        else {
            panic!("expected config write");
        };
        assert!(!w.cas && w.modify_index.is_none());
        assert_eq!(w.source, ["entry.hcl"]);

        let Command::Config(ConfigCommand::Read(r)) = parse(&[
            "config",
            "read",
            "-kind",
            "proxy-defaults",
            "-name=global",
            "-token=t",
        ])
        .command
        else {
            panic!("expected config read");
        };
        assert_eq!(
            (r.kind.as_str(), r.name.as_str()),
            ("proxy-defaults", "global")
        );
        assert_eq!(r.http.token.as_deref(), Some("t"));
        let Command::Config(ConfigCommand::List(l)) =
            parse(&["config", "list", "-kind=service-defaults"]).command
        else {
            panic!("expected config list");
        };
        assert_eq!(l.kind, "service-defaults");
        let Command::Config(ConfigCommand::Delete(d)) = parse(&[
            "config",
            "delete",
            "-filename",
            "f.hcl",
            "-cas",
            "-modify-index=3",
        ])
        .command
        else {
            panic!("expected config delete");
        };
        assert_eq!(d.filename, "f.hcl");
        assert!(d.cas);
        assert_eq!(d.modify_index, 3);
        assert!(d.kind.is_empty() && d.name.is_empty());
    }

    #[test]
    fn intention_commands_parse() {
        use crate::commands::intention::IntentionCommand;
        let Command::Intention(IntentionCommand::Create(c)) = parse(&[
            "intention",
            "create",
            "-deny",
            "-replace",
            "-meta",
            "a=b",
            "-meta=c=d",
            "web",
            "db",
        ])
        .command
        else {
            panic!("expected intention create");
        };
        assert!(c.deny && c.replace && !c.allow && !c.file);
        assert_eq!(c.meta, ["a=b", "c=d"]);
        assert_eq!(c.args, ["web", "db"]);
        let Command::Intention(IntentionCommand::Create(c)) =
            parse(&["intention", "create", "-file", "-"]).command
        else {
            panic!("expected intention create");
        };
        assert!(c.file);
        assert_eq!(c.args, ["-"]);

        let Command::Intention(IntentionCommand::Match(m)) =
            parse(&["intention", "match", "-source", "web"]).command
        else {
            panic!("expected intention match");
        };
        assert!(m.source && !m.destination);
        assert_eq!(m.args, ["web"]);
        let Command::Intention(IntentionCommand::Check(c)) = parse(&[
            "intention",
            "check",
            "-http-addr=127.0.1.46:8500",
            "web",
            "db",
        ])
        .command
        else {
            panic!("expected intention check");
        };
        assert_eq!(c.source_type, "consul");
        assert_eq!(c.http.http_addr.as_deref(), Some("127.0.1.46:8500"));
        assert_eq!(c.args, ["web", "db"]);
        assert!(matches!(
            parse(&["intention", "get", "web", "db"]).command,
            Command::Intention(IntentionCommand::Get(_))
        ));
        assert!(matches!(
            parse(&["intention", "delete", "some-id"]).command,
            Command::Intention(IntentionCommand::Delete(_))
        ));
        assert!(matches!(
            parse(&["intention", "list", "-stale"]).command,
            Command::Intention(IntentionCommand::List(HttpOnly {
                http: HttpArgs { stale: true, .. }
            }))
        ));
    }

    #[test]
    fn connect_ca_commands_parse() {
        use crate::commands::connect::{CaCommand, ConnectCommand};
        let Command::Connect(ConnectCommand::Ca(CaCommand::GetConfig(g))) = parse(&[
            "connect",
            "ca",
            "get-config",
            "-datacenter",
            "dc2",
            "-token=t",
        ])
        .command
        else {
            panic!("expected connect ca get-config");
        };
        assert_eq!(g.http.datacenter.as_deref(), Some("dc2"));
        assert_eq!(g.http.token.as_deref(), Some("t"));
        let Command::Connect(ConnectCommand::Ca(CaCommand::SetConfig(s))) = parse(&[
            "connect",
            "ca",
            "set-config",
            "-config-file",
            "ca.json",
            "-force-without-cross-signing",
            "-http-addr=127.0.1.48:8500",
        ])
        .command
        else {
            panic!("expected connect ca set-config");
        };
        assert_eq!(s.config_file.as_deref(), Some("ca.json"));
        assert!(s.force_without_cross_signing);
        assert_eq!(s.http.http_addr.as_deref(), Some("127.0.1.48:8500"));
        let Command::Connect(ConnectCommand::Ca(CaCommand::SetConfig(s))) =
            parse(&["connect", "ca", "set-config", "-config-file=x.json"]).command
        else {
            panic!("expected connect ca set-config");
        };
        assert_eq!(s.config_file.as_deref(), Some("x.json"));
        assert!(!s.force_without_cross_signing);
    }

    #[test]
    fn wan_and_datacenter_flags_parse() {
        let Command::ForceLeave(f) = parse(&["force-leave", "-wan", "-prune", "s1.dc2"]).command
        else {
            panic!("expected force-leave");
        };
        assert!(f.wan && f.prune);
        assert_eq!(f.node.as_deref(), Some("s1.dc2"));
        let Command::Members(m) = parse(&["members", "-wan"]).command else {
            panic!("expected members");
        };
        assert!(m.wan);
        let Command::Kv(KvCommand::Put(put)) =
            parse(&["kv", "put", "-datacenter=dc2", "hello", "world"]).command
        else {
            panic!("expected kv put");
        };
        assert_eq!(put.http.datacenter.as_deref(), Some("dc2"));
        assert_eq!(put.key.as_deref(), Some("hello"));
        assert_eq!(put.value.as_deref(), Some("world"));
        let Command::Catalog(CatalogCommand::Nodes(n)) =
            parse(&["catalog", "nodes", "-datacenter", "dc3", "-service=web"]).command
        else {
            panic!("expected catalog nodes");
        };
        assert_eq!(n.http.datacenter.as_deref(), Some("dc3"));
        assert_eq!(n.service.as_deref(), Some("web"));
    }
}
