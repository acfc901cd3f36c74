//! End-to-end tests of `praetor_config::load` over real files in temporary directories.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use praetor_config::{
    AclConfig, AclTokens, CheckKind, Config, Flags, TlsVersion, load, load_service_definitions,
};

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let n = NEXT_DIR.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("praetor-config-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write file");
        path
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn flags_for(files: &[PathBuf]) -> Flags {
    Flags {
        config_paths: files.to_vec(),
        ..Flags::default()
    }
}

fn load_one(name: &str, text: &str) -> Result<praetor_config::Loaded, String> {
    let dir = TempDir::new();
    let file = dir.write(name, text);
    load(&flags_for(&[file])).map_err(|e| e.to_string())
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

const SAMPLE_JSON: &str = r#"{
  "datacenter": "east-1",
  "primary_datacenter": "east-1",
  "node_name": "server-1",
  "server": true,
  "bootstrap_expect": 3,
  "data_dir": "/var/lib/praetor-test-nonexistent",
  "bind_addr": "10.0.0.5",
  "client_addr": "127.0.0.1 10.0.0.5",
  "retry_join": ["10.0.0.6", "10.0.0.7"],
  "retry_interval": "15s",
  "ports": { "http": 8501, "dns": -1, "serf_wan": 8402 },
  "domain": "example",
  "log_level": "DEBUG",
  "performance": { "raft_multiplier": 2 },
  "node_meta": { "rack": "r1" },
  "dns_config": { "node_ttl": "10s", "service_ttl": { "*": "5s" }, "only_passing": true },
  "ui_config": { "enabled": true },
  "services": [
    {
      "name": "web",
      "port": 80,
      "tags": ["v1", "primary"],
      "meta": { "version": "1" },
      "checks": [
        { "http": "http://localhost:80/health", "interval": "10s", "timeout": "1s",
          "header": { "X-Probe": ["1"] } },
        { "tcp": "localhost:80", "interval": "5s" }
      ]
    }
  ],
  "checks": [ { "id": "mem", "name": "Memory", "ttl": "30s" } ]
}"#;

const SAMPLE_HCL: &str = r#"
datacenter         = "east-1"
primary_datacenter = "east-1"
node_name          = "server-1"
server             = true
bootstrap_expect   = 3
data_dir           = "/var/lib/praetor-test-nonexistent"
bind_addr          = "10.0.0.5"
client_addr        = "127.0.0.1 10.0.0.5"
retry_join         = ["10.0.0.6", "10.0.0.7"]
retry_interval     = "15s"

ports {
  http     = 8501
  dns      = -1
  serf_wan = 8402
}

domain    = "example"
log_level = "DEBUG"

performance {
  raft_multiplier = 2
}

node_meta {
  rack = "r1"
}

dns_config {
  node_ttl     = "10s"
  service_ttl  = { "*" = "5s" }
  only_passing = true
}

ui_config {
  enabled = true
}

service {
  name = "web"
  port = 80
  tags = ["v1", "primary"]
  meta = { version = "1" }
  checks = [
    {
      http     = "http://localhost:80/health"
      interval = "10s"
      timeout  = "1s"
      header   = { X-Probe = ["1"] }
    },
    {
      tcp      = "localhost:80"
      interval = "5s"
    }
  ]
}

check {
  id   = "mem"
  name = "Memory"
  ttl  = "30s"
}
"#;

fn without_flags(mut c: Config) -> Config {
    c.source_flags = Flags::default();
    c
}

#[test]
fn json_and_hcl_forms_give_the_same_config() {
    let json = load_one("a.json", SAMPLE_JSON).expect("json loads");
    let hcl = load_one("a.hcl", SAMPLE_HCL).expect("hcl loads");
    let json = without_flags(json.config);
    let hcl = without_flags(hcl.config);
    assert_eq!(json, hcl);

    // And the values are what the files say.
    assert_eq!(json.datacenter, "east-1");
    assert_eq!(json.node_name, "server-1");
    assert!(json.server);
    assert_eq!(json.bootstrap_expect, 3);
    assert_eq!(json.bind_addr, ip("10.0.0.5"));
    assert_eq!(json.advertise_addr, ip("10.0.0.5"));
    assert_eq!(json.advertise_addr_wan, ip("10.0.0.5"));
    assert_eq!(json.client_addrs, vec![ip("127.0.0.1"), ip("10.0.0.5")]);
    assert_eq!(json.retry_interval, Duration::from_secs(15));
    assert_eq!(json.ports.http, Some(8501));
    assert_eq!(json.ports.dns, None);
    assert_eq!(json.ports.serf_wan, Some(8402));
    assert_eq!(json.ports.server, 8300);
    assert_eq!(json.domain, "example.");
    assert_eq!(json.log_level, "debug");
    assert_eq!(json.raft_multiplier, 2);
    assert!(json.ui);
    assert_eq!(json.dns.node_ttl, Duration::from_secs(10));
    assert_eq!(
        json.dns.service_ttl.get("*").copied(),
        Some(Duration::from_secs(5))
    );
    assert!(json.dns.only_passing);
    assert_eq!(json.dns.udp_answer_limit, 3);
    assert_eq!(json.services.len(), 1);
    let web = &json.services[0];
    assert_eq!((web.id.as_str(), web.port), ("web", 80));
    assert_eq!(web.checks.len(), 2);
    assert_eq!(web.checks[0].id, "service:web:1");
    assert!(
        matches!(&web.checks[0].kind, CheckKind::Http { url, headers, .. }
        if url == "http://localhost:80/health" && headers["X-Probe"] == vec!["1".to_string()])
    );
    assert_eq!(web.checks[1].kind, CheckKind::Tcp("localhost:80".into()));
    assert_eq!(json.checks.len(), 1);
    assert_eq!(json.checks[0].kind, CheckKind::Ttl(Duration::from_secs(30)));
    // Server defaults.
    assert!(!json.leave_on_terminate);
    assert!(json.skip_leave_on_interrupt);
}

#[test]
fn flags_override_files_and_lists_concatenate() {
    let dir = TempDir::new();
    let file = dir.write(
        "base.json",
        r#"{"datacenter": "dc1", "node_name": "from-file", "data_dir": "/tmp/x-praetor",
            "ports": {"http": 8500, "dns": 8600}, "retry_join": ["a"], "log_level": "warn"}"#,
    );
    let flags = Flags {
        config_paths: vec![file],
        datacenter: Some("DC2".into()),
        node: Some("from-flag".into()),
        http_port: Some(9500),
        retry_join: vec!["b".into()],
        node_meta: vec!["zone:z1".into()],
        ..Flags::default()
    };
    let loaded = load(&flags).expect("loads");
    let c = loaded.config;
    assert_eq!(c.datacenter, "dc2");
    assert_eq!(c.node_name, "from-flag");
    assert_eq!(c.ports.http, Some(9500));
    assert_eq!(c.ports.dns, Some(8600));
    assert_eq!(c.retry_join, vec!["a".to_string(), "b".to_string()]);
    assert_eq!(c.log_level, "warn");
    assert_eq!(c.node_meta.get("zone").map(String::as_str), Some("z1"));
    assert_eq!(c.source_flags, flags);
}

#[test]
fn port_minus_one_disables_and_bad_ports_fail() {
    let c = load_one(
        "p.json",
        r#"{"data_dir": "/tmp/p", "ports": {"http": -1, "dns": -1, "serf_wan": -1}}"#,
    )
    .expect("loads")
    .config;
    assert_eq!(c.ports.http, None);
    assert_eq!(c.ports.dns, None);
    assert_eq!(c.ports.serf_wan, None);
    assert_eq!(c.ports.serf_lan, 8301);

    let err = load_one(
        "p.json",
        r#"{"data_dir": "/tmp/p", "ports": {"http": 70000}}"#,
    )
    .unwrap_err();
    assert!(err.starts_with("ports.http: invalid port 70000"), "{err}");
    let err = load_one(
        "p.json",
        r#"{"data_dir": "/tmp/p", "ports": {"server": -1}}"#,
    )
    .unwrap_err();
    assert!(err.starts_with("ports.server: invalid port -1"), "{err}");
    let err = load_one("p.json", r#"{"data_dir": "/tmp/p", "ports": {"dns": 0}}"#).unwrap_err();
    assert!(err.starts_with("ports.dns: invalid port 0"), "{err}");
}

#[test]
fn unknown_key_is_an_error_naming_file_and_key() {
    let dir = TempDir::new();
    let file = dir.write("bad.hcl", "data_dir = \"/tmp/x\"\nnot_a_key = 1\n");
    let err = load(&flags_for(std::slice::from_ref(&file)))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "failed to parse {}: invalid config key not_a_key",
            file.display()
        )
    );
    let err = load_one(
        "bad.json",
        r#"{"data_dir": "/tmp/x", "services": [{"name": "a", "colour": "red"}]}"#,
    )
    .unwrap_err();
    assert!(
        err.ends_with("invalid config key services[0].colour"),
        "{err}"
    );
}

#[test]
fn known_unsupported_keys_warn_and_are_ignored() {
    let loaded = load_one(
        "unsupported.hcl",
        r#"
data_dir = "/tmp/x"
autopilot {
  cleanup_dead_servers = true
}
telemetry {
  prometheus_retention_time = "30s"
}
dns_config {
  allow_stale = true
}
"#,
    )
    .expect("loads");
    for key in ["autopilot", "telemetry", "dns_config.allow_stale"] {
        let expected = format!("config key \"{key}\" is not supported by praetor yet; ignored");
        assert!(
            loaded.warnings.contains(&expected),
            "missing {expected:?} in {:?}",
            loaded.warnings
        );
    }
}

#[test]
fn type_errors_name_the_key() {
    let err = load_one(
        "t.json",
        r#"{"data_dir": "/tmp/x", "ports": {"http": "8500"}}"#,
    )
    .unwrap_err();
    assert!(err.ends_with("ports.http: expected a number"), "{err}");
    let err = load_one("t.hcl", "data_dir = \"/tmp/x\"\nretry_join = \"a\"\n").unwrap_err();
    assert!(
        err.ends_with("retry_join: expected a list of strings"),
        "{err}"
    );
    let err = load_one(
        "t.json",
        r#"{"data_dir": "/tmp/x", "retry_interval": "soon"}"#,
    )
    .unwrap_err();
    assert!(err.contains("retry_interval: invalid duration"), "{err}");
    let err = load_one("t.json", "{ not json").unwrap_err();
    assert!(err.starts_with("failed to parse "), "{err}");
}

#[test]
fn datacenter_is_lowercased_and_validated() {
    let c = load_one(
        "d.json",
        r#"{"data_dir": "/tmp/x", "datacenter": "EAST_1"}"#,
    )
    .expect("loads")
    .config;
    assert_eq!(c.datacenter, "east_1");
    assert_eq!(c.primary_datacenter, "east_1");
    let err = load_one("d.json", r#"{"data_dir": "/tmp/x", "datacenter": "dc.1"}"#).unwrap_err();
    assert_eq!(
        err,
        "datacenter can only contain lowercase alphanumeric, - or _ characters. received: \"dc.1\""
    );
}

#[test]
fn validation_errors_use_consul_texts() {
    let err = load(&Flags::default()).unwrap_err().to_string();
    assert_eq!(err, "data_dir cannot be empty");

    let dev_expect = Flags {
        dev: Some(true),
        bootstrap_expect: Some(3),
        ..Flags::default()
    };
    assert_eq!(
        load(&dev_expect).unwrap_err().to_string(),
        "'bootstrap_expect > 0' not allowed in dev mode"
    );
    let client_expect = Flags {
        data_dir: Some("/tmp/x".into()),
        bootstrap_expect: Some(3),
        ..Flags::default()
    };
    assert_eq!(
        load(&client_expect).unwrap_err().to_string(),
        "'bootstrap_expect > 0' requires 'server = true'"
    );
    let both = Flags {
        data_dir: Some("/tmp/x".into()),
        server: Some(true),
        bootstrap: Some(true),
        bootstrap_expect: Some(3),
        ..Flags::default()
    };
    assert_eq!(
        load(&both).unwrap_err().to_string(),
        "'bootstrap_expect > 0' and 'bootstrap = true' are mutually exclusive"
    );
    let two_advertise = Flags {
        data_dir: Some("/tmp/x".into()),
        advertise: Some("10.0.0.1 10.0.0.2".into()),
        ..Flags::default()
    };
    assert_eq!(
        load(&two_advertise).unwrap_err().to_string(),
        "advertise_addr: Multiple addresses found: 10.0.0.1 10.0.0.2"
    );
    let any_advertise = Flags {
        data_dir: Some("/tmp/x".into()),
        advertise: Some("0.0.0.0".into()),
        ..Flags::default()
    };
    assert_eq!(
        load(&any_advertise).unwrap_err().to_string(),
        "Advertise address cannot be 0.0.0.0, :: or [::]"
    );
    let bad_key = Flags {
        data_dir: Some("/tmp/x".into()),
        encrypt: Some("not base64!".into()),
        ..Flags::default()
    };
    let err = load(&bad_key).unwrap_err().to_string();
    assert!(err.starts_with("encrypt has invalid key"), "{err}");
    let bad_check = load_one(
        "c.json",
        r#"{"data_dir": "/tmp/x", "checks": [{"name": "h", "http": "http://x"}]}"#,
    )
    .unwrap_err();
    assert_eq!(
        bad_check,
        "check \"h\": Interval must be > 0 for Script, HTTP, or TCP checks"
    );
}

#[test]
fn config_dir_is_read_in_name_order() {
    let dir = TempDir::new();
    dir.write(
        "02-b.json",
        r#"{"datacenter": "b", "retry_join": ["from-b"]}"#,
    );
    dir.write(
        "01-a.hcl",
        "datacenter = \"a\"\ndata_dir = \"/tmp/x\"\nretry_join = [\"from-a\"]\nnode_name = \"a\"\n",
    );
    dir.write("10-c.json", r#"{"node_name": "c"}"#);
    dir.write("README.md", "not config");
    std::fs::create_dir(dir.path().join("sub.json")).expect("mkdir");
    let flags = Flags {
        config_paths: vec![dir.path().to_path_buf()],
        ..Flags::default()
    };
    let loaded = load(&flags).expect("loads");
    assert_eq!(loaded.config.datacenter, "b");
    assert_eq!(loaded.config.node_name, "c");
    assert_eq!(
        loaded.config.retry_join,
        vec!["from-a".to_string(), "from-b".to_string()]
    );
    let readme = dir.path().join("README.md");
    assert!(
        loaded.warnings.contains(&format!(
            "skipping file {}, extension must be .hcl or .json, or config format must be set",
            readme.display()
        )),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn consul_style_sample_with_acl_block_loads() {
    let sample = r#"{
  "datacenter": "dc1",
  "data_dir": "/opt/consul",
  "log_level": "INFO",
  "node_name": "consul-server-1",
  "server": true,
  "bootstrap_expect": 3,
  "encrypt": "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=",
  "ui_config": { "enabled": true },
  "client_addr": "0.0.0.0",
  "bind_addr": "10.0.1.10",
  "advertise_addr": "10.0.1.10",
  "retry_join": ["10.0.1.11", "10.0.1.12", "provider=aws tag_key=consul tag_value=server"],
  "addresses": { "http": "0.0.0.0" },
  "ports": { "grpc": 8502, "grpc_tls": 8503, "https": -1 },
  "connect": { "enabled": true },
  "acl": {
    "enabled": true,
    "default_policy": "deny",
    "enable_token_persistence": true,
    "tokens": { "agent": "00000000-0000-0000-0000-000000000000" }
  },
  "telemetry": { "prometheus_retention_time": "24h", "disable_hostname": true },
  "performance": { "raft_multiplier": 1 },
  "autopilot": { "cleanup_dead_servers": true },
  "leave_on_terminate": true,
  "service": {
    "id": "redis-1",
    "name": "redis",
    "tags": ["primary"],
    "address": "10.0.1.10",
    "port": 6379,
    "enable_tag_override": false,
    "weights": { "passing": 10, "warning": 1 },
    "tagged_addresses": { "lan": { "address": "10.0.1.10", "port": 6379 } },
    "check": {
      "id": "redis-ping",
      "name": "Redis TCP",
      "tcp": "localhost:6379",
      "interval": "10s",
      "timeout": "1s",
      "deregister_critical_service_after": "90m"
    }
  },
  "checks": [
    { "id": "api", "name": "HTTP API", "http": "https://localhost:5000/health",
      "tls_skip_verify": true, "method": "POST", "interval": "10s", "timeout": "1s" },
    { "id": "disk", "name": "Disk", "args": ["/usr/local/bin/check_disk", "-w", "10%"],
      "interval": "30s", "status": "passing" },
    { "id": "redis-alias", "name": "Redis alias", "alias_service": "redis-1" }
  ]
}"#;
    let loaded = load_one("consul.json", sample).expect("sample loads");
    let c = &loaded.config;
    assert_eq!(c.client_addrs, vec![ip("0.0.0.0")]);
    assert_eq!(c.ports.grpc, Some(8502));
    assert_eq!(c.ports.https, None);
    assert!(c.leave_on_terminate);
    assert_eq!(c.raft_multiplier, 1);
    assert_eq!(c.retry_join.len(), 3);
    let redis = &c.services[0];
    assert_eq!(redis.weights, (10, 1));
    assert_eq!(
        redis.tagged_addresses.get("lan"),
        Some(&("10.0.1.10".to_string(), 6379))
    );
    assert_eq!(redis.checks[0].id, "redis-ping");
    assert_eq!(
        redis.checks[0].deregister_critical_service_after,
        Some(Duration::from_secs(90 * 60))
    );
    assert_eq!(redis.checks[0].service_id.as_deref(), Some("redis-1"));
    assert!(matches!(&c.checks[0].kind,
        CheckKind::Http { method, tls_skip_verify: true, .. } if method == "POST"));
    assert!(matches!(&c.checks[1].kind, CheckKind::Script(args) if args.len() == 3));
    assert_eq!(c.checks[2].kind, CheckKind::Alias("redis-1".into()));
    assert!(c.acl.enabled && c.acl.enable_token_persistence);
    assert_eq!(c.acl.default_policy, "deny");
    assert_eq!(
        c.acl.tokens.agent,
        "00000000-0000-0000-0000-000000000000".to_string()
    );
    // addresses.http says what client_addr says: accepted.
    assert!(c.connect.enabled);
    assert_eq!(c.connect.ca_provider, "consul");
    for key in ["telemetry", "autopilot", "ports.grpc_tls"] {
        let expected = format!("config key \"{key}\" is not supported by praetor yet; ignored");
        assert!(loaded.warnings.contains(&expected), "{:?}", loaded.warnings);
    }
}

#[test]
fn connect_block_and_refused_providers() {
    let c = load_one(
        "connect.hcl",
        "data_dir = \"/tmp/x\"\nconnect {\n  enabled = true\n  ca_config {\n    leaf_cert_ttl = \"24h\"\n  }\n}\n",
    )
    .unwrap()
    .config;
    assert_eq!(c.connect.ca_config["leaf_cert_ttl"], "24h");
    let e = load_one(
        "c.hcl",
        "data_dir = \"/tmp/x\"\nconnect {\n  ca_provider = \"vault\"\n}\n",
    )
    .unwrap_err();
    assert!(e.contains("connect.ca_provider"), "{e}");
    let e = load_one(
        "c.hcl",
        "data_dir = \"/tmp/x\"\nconnect {\n  enable_mesh_gateway_wan_federation = true\n}\n",
    )
    .unwrap_err();
    assert!(
        e.contains("connect.enable_mesh_gateway_wan_federation"),
        "{e}"
    );
}

#[test]
fn dev_mode_defaults_and_flag_overrides() {
    let dev = Flags {
        dev: Some(true),
        ..Flags::default()
    };
    let c = load(&dev).expect("dev loads").config;
    assert!(c.dev && c.server && c.bootstrap);
    assert_eq!(c.data_dir, None);
    assert_eq!(c.bind_addr, ip("127.0.0.1"));
    assert_eq!(c.advertise_addr, ip("127.0.0.1"));
    assert_eq!(c.client_addrs, vec![ip("127.0.0.1")]);
    assert!(c.ui);
    assert_eq!(c.raft_multiplier, 1);
    assert!(!c.node_name.is_empty());

    let overridden = Flags {
        dev: Some(true),
        bind: Some("127.0.9.1".into()),
        client: Some("127.0.9.1 127.0.9.2".into()),
        data_dir: Some("/tmp/ignored-in-dev".into()),
        ..Flags::default()
    };
    let c = load(&overridden).expect("loads").config;
    assert_eq!(c.bind_addr, ip("127.0.9.1"));
    assert_eq!(c.advertise_addr, ip("127.0.9.1"));
    assert_eq!(c.client_addrs, vec![ip("127.0.9.1"), ip("127.0.9.2")]);
    assert_eq!(c.data_dir, None);
}

#[test]
fn client_defaults_and_unspecified_bind_warning() {
    let flags = Flags {
        data_dir: Some("/tmp/x".into()),
        ..Flags::default()
    };
    let loaded = load(&flags).expect("loads");
    let c = &loaded.config;
    assert!(!c.server);
    assert!(c.leave_on_terminate);
    assert!(!c.skip_leave_on_interrupt);
    assert_eq!(c.bind_addr, ip("0.0.0.0"));
    assert_eq!(c.advertise_addr, ip("127.0.0.1"));
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.starts_with("bind_addr is 0.0.0.0")),
        "{:?}",
        loaded.warnings
    );
    assert_eq!(c.ports.http, Some(8500));
    assert_eq!(c.ports.dns, Some(8600));
    assert_eq!(c.ports.serf_wan, Some(8302));
    assert_eq!(c.domain, "consul.");
    assert_eq!(c.log_level, "info");
    assert_eq!(c.retry_interval, Duration::from_secs(30));
    assert_eq!(c.retry_max, 0);
    assert_eq!(c.raft_multiplier, 5);
    assert!(!c.ui);
}

#[test]
fn reload_with_source_flags_sees_file_changes() {
    let dir = TempDir::new();
    let file = dir.write("a.json", r#"{"data_dir": "/tmp/x", "node_name": "one"}"#);
    let first = load(&flags_for(&[file])).expect("loads").config;
    assert_eq!(first.node_name, "one");
    dir.write("a.json", r#"{"data_dir": "/tmp/x", "node_name": "two"}"#);
    let second = load(&first.source_flags).expect("reloads").config;
    assert_eq!(second.node_name, "two");
}

#[test]
fn missing_config_file_names_the_path() {
    let flags = flags_for(&[PathBuf::from("/nonexistent/praetor.json")]);
    let err = load(&flags).unwrap_err().to_string();
    assert!(
        err.starts_with("Error reading '/nonexistent/praetor.json'"),
        "{err}"
    );
}

#[test]
fn service_definition_files_for_the_cli() {
    let dir = TempDir::new();
    let file = dir.write(
        "web.hcl",
        "service {\n  name = \"web\"\n  port = 8080\n  check {\n    ttl = \"10s\"\n  }\n}\n",
    );
    let defs = load_service_definitions(&file).expect("loads");
    assert_eq!(defs.len(), 1);
    assert_eq!(defs[0].name, "web");
    assert_eq!(defs[0].checks[0].id, "service:web");
    let other = dir.write("x.json", r#"{"datacenter": "dc1"}"#);
    assert!(load_service_definitions(&other).is_err());
}

#[test]
fn plugin_blocks_in_hcl_and_json() {
    let hcl = r#"
data_dir = "/tmp/x"
plugin "translate" {
  path = "/opt/p/translate.wasm"
  call_timeout = "10ms"
  memory_limit = 8388608
  config = { mode = "strict" }
}
plugin "join:cloud" {
  path = "cloud.wasm"
  grants {
    dns = true
    read_paths = ["/etc/praetor"]
    http_hosts = ["127.0.0.1"]
  }
}
"#;
    let c = load_one("p.hcl", hcl).expect("hcl loads").config;
    assert_eq!(c.plugins.len(), 2);
    let slot = |name: &str| c.plugins.iter().find(|p| p.slot == name).expect("slot");
    let t = slot("translator");
    assert_eq!(t.path, Some(PathBuf::from("/opt/p/translate.wasm")));
    assert_eq!(t.call_timeout, Some(Duration::from_millis(10)));
    assert_eq!(t.memory_limit, Some(8 << 20));
    assert_eq!(t.config_json, r#"{"mode":"strict"}"#);
    let j = slot("join:cloud");
    assert!(j.grants.dns);
    assert_eq!(j.grants.read_paths, vec![PathBuf::from("/etc/praetor")]);
    assert_eq!(j.config_json, "{}");

    let json = r#"{"data_dir":"/tmp/x","plugin":{"route":{"path":"r.wasm","max_failures":3}}}"#;
    let c = load_one("p.json", json).expect("json loads").config;
    assert_eq!(c.plugins[0].slot, "router");
    assert_eq!(c.plugins[0].max_failures, Some(3));
}

#[test]
fn plugin_errors_name_the_key() {
    let e = load_one(
        "p.json",
        r#"{"data_dir":"/x","plugin":{"teleport":{"path":"t.wasm"}}}"#,
    )
    .unwrap_err();
    assert!(e.contains("plugin.teleport"), "{e}");
    let e = load_one(
        "p.json",
        r#"{"data_dir":"/x","plugin":{"translate":{"config":{}}}}"#,
    )
    .unwrap_err();
    assert!(e.contains("plugin.translate.path"), "{e}");
    // Limits alone are fine: the built-in stays and gets them.
    let c = load_one(
        "p.json",
        r#"{"data_dir":"/x","plugin":{"router":{"call_timeout":"20ms"}}}"#,
    )
    .unwrap()
    .config;
    assert_eq!(
        (c.plugins[0].path.clone(), c.plugins[0].call_timeout),
        (None, Some(Duration::from_millis(20)))
    );
    let e = load_one(
        "p.json",
        r#"{"data_dir":"/x","plugin":{"translate":{"path":"a","colour":1}}}"#,
    )
    .unwrap_err();
    assert!(e.contains("plugin.translate.colour"), "{e}");
    let e = load_one(
        "p.json",
        r#"{"data_dir":"/x","plugin":{"translate":{"path":"a","config":5}}}"#,
    )
    .unwrap_err();
    assert!(e.contains("plugin.translate.config"), "{e}");
}

#[test]
fn tls_blocks_in_hcl_and_json() {
    let hcl = load_one(
        "tls.hcl",
        r#"
data_dir = "/tmp/x"
ports { https = 8501 }
tls {
  defaults {
    ca_file         = "/etc/praetor/ca.pem"
    cert_file       = "/etc/praetor/agent.pem"
    key_file        = "/etc/praetor/agent-key.pem"
    verify_incoming = true
    verify_outgoing = true
    tls_min_version = "TLSv1_2"
  }
  internal_rpc {
    verify_server_hostname = true
  }
  https {
    verify_incoming = false
  }
  grpc {
    verify_incoming = false
  }
}
limits {
  rpc_handshake_timeout    = "2s"
  rpc_max_conns_per_client = 7
  http_max_conns_per_client = 200
}
"#,
    )
    .expect("loads");
    let json = load_one(
        "tls.json",
        r#"{"data_dir": "/tmp/x", "ports": {"https": 8501},
            "tls": {"defaults": {"ca_file": "/etc/praetor/ca.pem", "cert_file": "/etc/praetor/agent.pem",
                                 "key_file": "/etc/praetor/agent-key.pem", "verify_incoming": true,
                                 "verify_outgoing": true, "tls_min_version": "TLSv1_2"},
                    "internal_rpc": {"verify_server_hostname": true},
                    "https": {"verify_incoming": false}, "grpc": {"verify_incoming": false}},
            "limits": {"rpc_handshake_timeout": "2s", "rpc_max_conns_per_client": 7,
                       "http_max_conns_per_client": 200}}"#,
    )
    .expect("loads");
    assert_eq!(hcl.config.tls, json.config.tls);
    assert_eq!(hcl.config.limits, json.config.limits);
    let c = hcl.config;
    assert_eq!(c.ports.https, Some(8501));
    let rpc = &c.tls.internal_rpc;
    assert_eq!(rpc.ca_file, Some(PathBuf::from("/etc/praetor/ca.pem")));
    assert_eq!(
        rpc.key_file,
        Some(PathBuf::from("/etc/praetor/agent-key.pem"))
    );
    assert!(rpc.verify_incoming && rpc.verify_outgoing && rpc.verify_server_hostname);
    assert!(!c.tls.https.verify_incoming && c.tls.https.verify_outgoing);
    assert!(!c.tls.https.verify_server_hostname);
    assert_eq!(c.limits.rpc_handshake_timeout, Duration::from_secs(2));
    assert_eq!(c.limits.rpc_max_conns_per_client, 7);
    assert_eq!(rpc.tls_min_version, TlsVersion::Tls12);
    assert_eq!(c.tls.https.tls_min_version, TlsVersion::Tls12);
    let expected =
        "config key \"limits.http_max_conns_per_client\" is not supported by praetor yet; ignored";
    assert!(
        hcl.warnings.contains(&expected.to_string()),
        "{:?}",
        hcl.warnings
    );
    assert!(
        !hcl.warnings.iter().any(|w| w.contains("tls_min_version")),
        "{:?}",
        hcl.warnings
    );
}

#[test]
fn tls_defaults_off_and_limits_default() {
    let c = load_one("d.json", r#"{"data_dir": "/tmp/x"}"#)
        .expect("loads")
        .config;
    assert_eq!(c.tls, praetor_config::TlsConfig::default());
    assert!(!c.tls.internal_rpc.has_cert());
    assert_eq!(c.ports.https, None);
    assert_eq!(c.limits.rpc_handshake_timeout, Duration::from_secs(5));
    assert_eq!(c.limits.rpc_max_conns_per_client, 100);
}

#[test]
fn deprecated_top_level_tls_keys_fill_the_tls_block() {
    let loaded = load_one(
        "old.json",
        r#"{"data_dir": "/tmp/x",
            "ca_file": "/old/ca.pem", "cert_file": "/old/a.pem", "key_file": "/old/a-key.pem",
            "verify_incoming": true, "verify_outgoing": true, "verify_server_hostname": true,
            "tls": {"defaults": {"cert_file": "/new/a.pem", "key_file": "/new/a-key.pem"}}}"#,
    )
    .expect("loads");
    let rpc = &loaded.config.tls.internal_rpc;
    assert_eq!(rpc.ca_file, Some(PathBuf::from("/old/ca.pem")));
    // The tls block of the same file wins over the deprecated key.
    assert_eq!(rpc.cert_file, Some(PathBuf::from("/new/a.pem")));
    assert!(rpc.verify_incoming && rpc.verify_outgoing && rpc.verify_server_hostname);
    assert!(loaded.config.tls.https.verify_incoming);
    for (old, new) in [
        ("ca_file", "tls.defaults.ca_file"),
        (
            "verify_server_hostname",
            "tls.internal_rpc.verify_server_hostname",
        ),
    ] {
        let expected = format!("The '{old}' field is deprecated. Use the '{new}' field instead.");
        assert!(loaded.warnings.contains(&expected), "{:?}", loaded.warnings);
    }
    // verify_incoming_rpc only touches the RPC section.
    let c = load_one(
        "rpc.hcl",
        r#"
data_dir = "/tmp/x"
ca_file = "/ca.pem"
cert_file = "/a.pem"
key_file = "/a-key.pem"
verify_incoming_rpc = true
"#,
    )
    .expect("loads")
    .config;
    assert!(c.tls.internal_rpc.verify_incoming && !c.tls.https.verify_incoming);
}

#[test]
fn tls_validation_fails_naming_the_key() {
    let err = load_one(
        "v.hcl",
        "data_dir = \"/tmp/x\"\ntls {\n  internal_rpc {\n    verify_incoming = true\n  }\n}\n",
    )
    .unwrap_err();
    assert_eq!(
        err,
        "tls.internal_rpc.verify_incoming: VerifyIncoming set but no CA certificates were provided"
    );
    let err = load_one("v.json", r#"{"data_dir": "/tmp/x", "cert_file": "/a.pem"}"#).unwrap_err();
    assert!(err.starts_with("tls.internal_rpc.key_file: "), "{err}");
    let err = load_one(
        "v.json",
        r#"{"data_dir": "/tmp/x", "tls": {"https": {"verify_server_hostname": true}}}"#,
    )
    .unwrap_err();
    assert_eq!(
        err,
        "verify_server_hostname is only valid in the tls.internal_rpc stanza"
    );
    let err = load_one(
        "v.json",
        r#"{"data_dir": "/tmp/x", "tls": {"internal_rpc": {"verify_incomin": true}}}"#,
    )
    .unwrap_err();
    assert!(
        err.ends_with("invalid config key tls.internal_rpc.verify_incomin"),
        "{err}"
    );
    let err = load_one(
        "v.json",
        r#"{"data_dir": "/tmp/x", "tls": {"internal_rpc": {"verify_incoming": "yes"}}}"#,
    )
    .unwrap_err();
    assert!(
        err.ends_with("tls.internal_rpc.verify_incoming: expected a boolean"),
        "{err}"
    );
    let err = load_one(
        "v.json",
        r#"{"data_dir": "/tmp/x", "limits": {"rpc_max_conns_per_client": -1}}"#,
    )
    .unwrap_err();
    assert!(
        err.starts_with("limits.rpc_max_conns_per_client cannot be -1"),
        "{err}"
    );
    let err = load_one(
        "v.json",
        r#"{"data_dir": "/tmp/x", "ports": {"https": 8501}}"#,
    )
    .unwrap_err();
    assert!(err.starts_with("ports.https: "), "{err}");
}

// === ACLs and refused security keys ===

#[test]
fn acl_defaults_and_dev_mode() {
    let c = load_one("d.json", r#"{"data_dir": "/tmp/x"}"#)
        .expect("loads")
        .config;
    assert_eq!(c.acl, AclConfig::default());
    assert!(!c.acl.enabled);
    assert_eq!(c.acl.default_policy, "allow");
    assert_eq!(c.acl.down_policy, "extend-cache");
    assert_eq!(c.acl.token_ttl, Duration::from_secs(30));
    assert_eq!(c.acl.policy_ttl, Duration::from_secs(30));
    assert_eq!(c.acl.role_ttl, Duration::from_secs(30));
    assert!(!c.enable_remote_plugin_load);
    let dev = load(&Flags {
        dev: Some(true),
        ..Flags::default()
    })
    .expect("dev loads")
    .config;
    assert_eq!(dev.acl, AclConfig::default());
    assert!(!dev.enable_remote_plugin_load);
}

#[test]
fn acl_block_in_hcl_and_json() {
    let hcl = load_one(
        "acl.hcl",
        r#"
data_dir = "/tmp/x"
enable_remote_plugin_load = true
acl {
  enabled                  = true
  default_policy           = "deny"
  down_policy              = "async-cache"
  token_ttl                = "1m"
  policy_ttl               = "45s"
  role_ttl                 = "2m30s"
  enable_key_list_policy   = true
  enable_token_replication = true
  enable_token_persistence = true
  tokens {
    initial_management               = "im"
    default                          = "def"
    agent                            = "ag"
    agent_recovery                   = "rec"
    replication                      = "rep"
    config_file_service_registration = "cfsr"
    dns                              = "dns"
  }
}
"#,
    )
    .expect("hcl loads");
    let json = load_one(
        "acl.json",
        r#"{"data_dir": "/tmp/x", "enable_remote_plugin_load": true,
            "acl": {"enabled": true, "default_policy": "deny", "down_policy": "async-cache",
                    "token_ttl": "1m", "policy_ttl": "45s", "role_ttl": "2m30s",
                    "enable_key_list_policy": true, "enable_token_replication": true,
                    "enable_token_persistence": true,
                    "tokens": {"initial_management": "im", "default": "def", "agent": "ag",
                               "agent_recovery": "rec", "replication": "rep",
                               "config_file_service_registration": "cfsr", "dns": "dns"}}}"#,
    )
    .expect("json loads");
    let expected = AclConfig {
        enabled: true,
        default_policy: "deny".into(),
        down_policy: "async-cache".into(),
        token_ttl: Duration::from_secs(60),
        policy_ttl: Duration::from_secs(45),
        role_ttl: Duration::from_secs(150),
        enable_key_list_policy: true,
        enable_token_replication: true,
        enable_token_persistence: true,
        tokens: AclTokens {
            initial_management: "im".into(),
            default: "def".into(),
            agent: "ag".into(),
            agent_recovery: "rec".into(),
            replication: "rep".into(),
            config_file_service_registration: "cfsr".into(),
            dns: "dns".into(),
        },
    };
    assert_eq!(hcl.config.acl, expected);
    assert_eq!(json.config.acl, expected);
    assert!(hcl.config.enable_remote_plugin_load && json.config.enable_remote_plugin_load);
    assert!(
        hcl.warnings.iter().all(|w| !w.contains("acl")),
        "{:?}",
        hcl.warnings
    );
}

#[test]
fn acl_blocks_merge_across_files() {
    let dir = TempDir::new();
    let a = dir.write(
        "a.hcl",
        "data_dir = \"/tmp/x\"\nacl {\n  enabled = true\n  tokens {\n    agent = \"a1\"\n    dns = \"d1\"\n  }\n}\n",
    );
    let b = dir.write(
        "b.json",
        r#"{"acl": {"default_policy": "deny", "tokens": {"agent": "a2"}}}"#,
    );
    let acl = load(&flags_for(&[a, b])).expect("loads").config.acl;
    assert!(acl.enabled);
    assert_eq!(acl.default_policy, "deny");
    assert_eq!(acl.tokens.agent, "a2");
    assert_eq!(acl.tokens.dns, "d1");
}

#[test]
fn acl_token_aliases() {
    let loaded = load_one(
        "alias.hcl",
        r#"
data_dir = "/tmp/x"
acl {
  tokens {
    master       = "m"
    agent_master = "am"
  }
}
"#,
    )
    .expect("loads");
    let t = &loaded.config.acl.tokens;
    assert_eq!(t.initial_management, "m");
    assert_eq!(t.agent_recovery, "am");
    for w in [
        "The 'acl.tokens.master' field is deprecated. Use the 'acl.tokens.initial_management' field instead.",
        "The 'acl.tokens.agent_master' field is deprecated. Use the 'acl.tokens.agent_recovery' field instead.",
    ] {
        assert!(
            loaded.warnings.contains(&w.to_string()),
            "{:?}",
            loaded.warnings
        );
    }
    // The new name wins over the alias in the same file.
    let t = load_one(
        "both.json",
        r#"{"data_dir": "/tmp/x", "acl": {"tokens": {"master": "old", "initial_management": "new",
            "agent_master": "old", "agent_recovery": "new"}}}"#,
    )
    .expect("loads")
    .config
    .acl
    .tokens;
    assert_eq!(
        (t.initial_management.as_str(), t.agent_recovery.as_str()),
        ("new", "new")
    );
}

#[test]
fn legacy_acl_keys_are_mapped_with_warnings() {
    let loaded = load_one(
        "legacy.hcl",
        r#"
data_dir                   = "/tmp/x"
datacenter                 = "dc2"
acl_datacenter             = "DC1"
acl_default_policy         = "deny"
acl_down_policy            = "allow"
acl_ttl                    = "10s"
acl_token                  = "t-default"
acl_agent_token            = "t-agent"
acl_agent_master_token     = "t-recovery"
acl_master_token           = "t-management"
acl_replication_token      = "t-replication"
acl_enable_key_list_policy = true
acl_enforce_version_8      = true
acl_disabled_ttl           = "30s"
"#,
    )
    .expect("loads");
    let c = &loaded.config;
    assert_eq!(c.primary_datacenter, "dc1");
    assert_eq!(c.datacenter, "dc2");
    let expected = AclConfig {
        enabled: true,
        default_policy: "deny".into(),
        down_policy: "allow".into(),
        token_ttl: Duration::from_secs(10),
        enable_key_list_policy: true,
        enable_token_replication: true,
        tokens: AclTokens {
            initial_management: "t-management".into(),
            default: "t-default".into(),
            agent: "t-agent".into(),
            agent_recovery: "t-recovery".into(),
            replication: "t-replication".into(),
            ..AclTokens::default()
        },
        ..AclConfig::default()
    };
    assert_eq!(c.acl, expected);
    for (old, new) in [
        ("acl_datacenter", "primary_datacenter"),
        ("acl_default_policy", "acl.default_policy"),
        ("acl_down_policy", "acl.down_policy"),
        ("acl_ttl", "acl.token_ttl"),
        ("acl_token", "acl.tokens.default"),
        ("acl_agent_token", "acl.tokens.agent"),
        ("acl_agent_master_token", "acl.tokens.agent_recovery"),
        ("acl_master_token", "acl.tokens.initial_management"),
        ("acl_replication_token", "acl.tokens.replication"),
        ("acl_enable_key_list_policy", "acl.enable_key_list_policy"),
    ] {
        let w = format!("The '{old}' field is deprecated. Use the '{new}' field instead.");
        assert!(
            loaded.warnings.contains(&w),
            "missing {w:?} in {:?}",
            loaded.warnings
        );
    }
    // Keys that do nothing in Consul either stay ignored with a warning.
    for key in ["acl_enforce_version_8", "acl_disabled_ttl"] {
        let w = format!("config key \"{key}\" is not supported by praetor yet; ignored");
        assert!(loaded.warnings.contains(&w), "{:?}", loaded.warnings);
    }

    // The acl block of the same file wins; enable_acl_replication maps too.
    let loaded = load_one(
        "mixed.json",
        r#"{"data_dir": "/tmp/x", "acl_token": "old", "enable_acl_replication": true,
            "primary_datacenter": "east", "acl_datacenter": "west",
            "acl": {"enabled": false, "tokens": {"default": "new"}}}"#,
    )
    .expect("loads");
    let c = &loaded.config;
    assert_eq!(c.acl.tokens.default, "new");
    assert!(c.acl.enable_token_replication);
    assert_eq!(c.primary_datacenter, "east");
    // As in Consul, acl_datacenter enables ACLs whatever the block says.
    assert!(c.acl.enabled);
    assert!(loaded.warnings.contains(
        &"The 'enable_acl_replication' field is deprecated. Use the 'acl.enable_token_replication' field instead.".to_string()
    ));
}

#[test]
fn acl_policy_errors_name_the_key() {
    let err = load_one(
        "p.hcl",
        "data_dir = \"/tmp/x\"\nacl {\n  default_policy = \"block\"\n}\n",
    )
    .unwrap_err();
    assert_eq!(
        err,
        "acl.default_policy: invalid ACL default policy \"block\": must be \"allow\" or \"deny\""
    );
    let err = load_one(
        "p.json",
        r#"{"data_dir": "/tmp/x", "acl": {"down_policy": "x"}}"#,
    )
    .unwrap_err();
    assert_eq!(err, "acl.down_policy: invalid ACL down policy \"x\"");
    // Consul's TestACL_Bad_Config.
    let err = load_one(
        "p.hcl",
        "data_dir = \"/tmp/x\"\nacl_down_policy = \"nope\"\n",
    )
    .unwrap_err();
    assert!(err.contains("invalid ACL down policy \"nope\""), "{err}");
    let err = load_one(
        "p.json",
        r#"{"data_dir": "/tmp/x", "acl": {"token_ttl": "5x"}}"#,
    )
    .unwrap_err();
    assert!(err.contains("acl.token_ttl: invalid duration"), "{err}");
    let err = load_one(
        "p.json",
        r#"{"data_dir": "/tmp/x", "acl": {"tokens": {"agnet": "x"}}}"#,
    )
    .unwrap_err();
    assert!(
        err.ends_with("invalid config key acl.tokens.agnet"),
        "{err}"
    );
    let err = load_one(
        "p.json",
        r#"{"data_dir": "/tmp/x", "enable_remote_plugin_load": "yes"}"#,
    )
    .unwrap_err();
    assert!(
        err.ends_with("enable_remote_plugin_load: expected a boolean"),
        "{err}"
    );
}

#[test]
fn encrypt_verify_false_is_refused() {
    for key in ["encrypt_verify_incoming", "encrypt_verify_outgoing"] {
        let err = load_one(
            "e.hcl",
            &format!("data_dir = \"/tmp/x\"\nencrypt = \"pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=\"\n{key} = false\n"),
        )
        .unwrap_err();
        assert!(
            err.ends_with(&format!(
                "e.hcl: {key} = false is not supported by praetor: gossip with a key set is always encrypted and verified"
            )),
            "{err}"
        );
        let ok = load_one(
            "e.json",
            &format!(r#"{{"data_dir": "/tmp/x", "{key}": true}}"#),
        )
        .expect("true is what praetor does");
        assert!(
            ok.warnings.iter().all(|w| !w.contains(key)),
            "{:?}",
            ok.warnings
        );
    }
}

const TLS_FILES: &str = r#"ca_file = "/ca.pem"
    cert_file = "/a.pem"
    key_file = "/a-key.pem""#;

#[test]
fn tls_min_version_is_carried_into_each_section() {
    let c = load_one(
        "t.hcl",
        &format!(
            "data_dir = \"/tmp/x\"\ntls {{\n  defaults {{\n    {TLS_FILES}\n    tls_min_version = \"TLSv1_3\"\n  }}\n  https {{\n    tls_min_version = \"TLS_AUTO\"\n  }}\n}}\n"
        ),
    )
    .expect("loads")
    .config;
    assert_eq!(c.tls.internal_rpc.tls_min_version, TlsVersion::Tls13);
    assert_eq!(c.tls.https.tls_min_version, TlsVersion::Tls12);

    let c = load_one(
        "t.json",
        r#"{"data_dir": "/tmp/x", "tls": {"internal_rpc": {"tls_min_version": "TLSv1_3"}}}"#,
    )
    .expect("loads")
    .config;
    assert_eq!(c.tls.internal_rpc.tls_min_version, TlsVersion::Tls13);
    assert_eq!(c.tls.https.tls_min_version, TlsVersion::Tls12);

    // The deprecated top-level key with a legacy value: Consul's two warnings.
    let loaded = load_one(
        "old.json",
        r#"{"data_dir": "/tmp/x", "tls_min_version": "tls13"}"#,
    )
    .expect("loads");
    assert_eq!(
        loaded.config.tls.internal_rpc.tls_min_version,
        TlsVersion::Tls13
    );
    assert_eq!(loaded.config.tls.https.tls_min_version, TlsVersion::Tls13);
    for w in [
        "'tls_min_version' value 'tls13' is deprecated, please specify 'TLSv1_3' instead",
        "The 'tls_min_version' field is deprecated. Use the 'tls.defaults.tls_min_version' field instead.",
    ] {
        assert!(
            loaded.warnings.contains(&w.to_string()),
            "{:?}",
            loaded.warnings
        );
    }
    // The tls block of the same file wins over the top-level key.
    let c = load_one(
        "old.json",
        r#"{"data_dir": "/tmp/x", "tls_min_version": "tls12",
            "tls": {"defaults": {"tls_min_version": "TLSv1_3"}}}"#,
    )
    .expect("loads")
    .config;
    assert_eq!(c.tls.internal_rpc.tls_min_version, TlsVersion::Tls13);
}

#[test]
fn tls_min_version_below_1_2_or_unknown_is_refused() {
    for (file, text, key, value) in [
        (
            "a.hcl",
            "data_dir = \"/tmp/x\"\ntls {\n  defaults {\n    tls_min_version = \"TLSv1_1\"\n  }\n}\n",
            "tls.defaults.tls_min_version",
            "TLSv1_1",
        ),
        (
            "b.json",
            r#"{"data_dir": "/tmp/x", "tls": {"https": {"tls_min_version": "TLSv1_0"}}}"#,
            "tls.https.tls_min_version",
            "TLSv1_0",
        ),
        (
            "c.json",
            r#"{"data_dir": "/tmp/x", "tls": {"internal_rpc": {"tls_min_version": "tls11"}}}"#,
            "tls.internal_rpc.tls_min_version",
            "tls11",
        ),
        (
            "d.json",
            r#"{"data_dir": "/tmp/x", "tls_min_version": "tls10"}"#,
            "tls_min_version",
            "tls10",
        ),
    ] {
        let err = load_one(file, text).unwrap_err();
        assert!(
            err.ends_with(&format!(
                "{file}: {key} = \"{value}\" is not supported by praetor: rustls implements only TLS 1.2 and 1.3 (use \"TLSv1_2\" or \"TLSv1_3\")"
            )),
            "{err}"
        );
    }
    let err = load_one(
        "e.json",
        r#"{"data_dir": "/tmp/x", "tls": {"grpc": {"tls_min_version": "TLSv2"}}}"#,
    )
    .unwrap_err();
    assert!(
        err.ends_with("tls.grpc.tls_min_version: invalid TLS version: no matching TLS version found for TLSv2, please specify one of [TLS_AUTO, TLSv1_0, TLSv1_1, TLSv1_2, TLSv1_3]"),
        "{err}"
    );
}

#[test]
fn tls_cipher_suites_are_refused() {
    for (text, key) in [
        (
            "data_dir = \"/tmp/x\"\ntls {\n  defaults {\n    tls_cipher_suites = \"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\"\n  }\n}\n",
            "tls.defaults.tls_cipher_suites",
        ),
        (
            "data_dir = \"/tmp/x\"\ntls {\n  https {\n    tls_cipher_suites = \"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\"\n  }\n}\n",
            "tls.https.tls_cipher_suites",
        ),
        (
            "data_dir = \"/tmp/x\"\ntls_cipher_suites = \"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\"\n",
            "tls_cipher_suites",
        ),
    ] {
        let err = load_one("c.hcl", text).unwrap_err();
        assert!(
            err.contains(&format!(
                "c.hcl: {key} is not supported by praetor: rustls chooses the cipher suites itself"
            )),
            "{err}"
        );
    }
    // Empty means rustls' choice: accepted.
    load_one(
        "c.json",
        r#"{"data_dir": "/tmp/x", "tls": {"defaults": {"tls_cipher_suites": ""}}}"#,
    )
    .expect("empty is the default");

    let err = load_one(
        "p.json",
        r#"{"data_dir": "/tmp/x", "tls_prefer_server_cipher_suites": true}"#,
    )
    .unwrap_err();
    assert!(
        err.ends_with("p.json: tls_prefer_server_cipher_suites = true is not supported by praetor: rustls chooses among its own cipher suites; remove the key"),
        "{err}"
    );
    let loaded = load_one(
        "p.json",
        r#"{"data_dir": "/tmp/x", "tls_prefer_server_cipher_suites": false}"#,
    )
    .expect("false is what praetor does");
    assert!(
        loaded.warnings.contains(
            &"The 'tls_prefer_server_cipher_suites' field is deprecated and will be ignored."
                .to_string()
        )
    );
}

#[test]
fn unsupported_security_keys_are_refused_when_they_matter() {
    for (text, key) in [
        (
            r#""auto_encrypt": {"tls": true}"#,
            "auto_encrypt.tls = true",
        ),
        (
            r#""auto_encrypt": {"allow_tls": true}"#,
            "auto_encrypt.allow_tls = true",
        ),
        (
            r#""auto_config": {"enabled": true, "intro_token": "x"}"#,
            "auto_config.enabled = true",
        ),
        (
            r#""auto_config": {"authorization": {"enabled": true}}"#,
            "auto_config.authorization.enabled = true",
        ),
        (
            r#""disable_keyring_file": true"#,
            "disable_keyring_file = true",
        ),
        (
            r#""disable_remote_exec": false"#,
            "disable_remote_exec = false",
        ),
        (
            r#""enable_local_script_checks": true"#,
            "enable_local_script_checks = true",
        ),
        (
            r#""serf_lan_allowed_cidrs": ["10.0.0.0/8"]"#,
            "serf_lan_allowed_cidrs",
        ),
        (
            r#""serf_wan_allowed_cidrs": "10.0.0.0/8""#,
            "serf_wan_allowed_cidrs",
        ),
        (
            r#""http_config": {"allow_write_http_from": ["127.0.0.0/8"]}"#,
            "http_config.allow_write_http_from",
        ),
        (
            r#""http_config": {"response_headers": {"X-Frame-Options": "DENY"}}"#,
            "http_config.response_headers",
        ),
        (
            r#""config_entries": {"bootstrap": [{"kind": "service-defaults", "name": "a"},
                {"Kind": "service-intentions", "Name": "web"}]}"#,
            "config_entries.bootstrap[1] (kind \"service-intentions\")",
        ),
    ] {
        let err = load_one("s.json", &format!(r#"{{"data_dir": "/tmp/x", {text}}}"#)).unwrap_err();
        assert!(
            err.contains(&format!("s.json: {key} is not supported by praetor")),
            "{key}: {err}"
        );
    }
    // The same keys at their defaults are accepted (ignored with the usual warning).
    let loaded = load_one(
        "s.hcl",
        r#"
data_dir = "/tmp/x"
auto_encrypt {
  tls       = false
  allow_tls = false
}
auto_config {
  enabled = false
}
disable_keyring_file       = false
disable_remote_exec        = true
enable_local_script_checks = false
serf_lan_allowed_cidrs     = []
http_config {
  use_cache = true
}
config_entries {
  bootstrap = [
    { kind = "service-defaults", name = "web", protocol = "http" }
  ]
}
"#,
    )
    .expect("defaults load");
    for key in [
        "auto_encrypt",
        "disable_remote_exec",
        "http_config",
        "config_entries",
    ] {
        let w = format!("config key \"{key}\" is not supported by praetor yet; ignored");
        assert!(loaded.warnings.contains(&w), "{:?}", loaded.warnings);
    }
}

#[test]
fn bind_addresses_other_than_praetors_are_refused() {
    let err = load_one(
        "a.json",
        r#"{"data_dir": "/tmp/x", "client_addr": "0.0.0.0", "addresses": {"http": "127.0.0.1"}}"#,
    )
    .unwrap_err();
    assert_eq!(
        err,
        "addresses.http = \"127.0.0.1\" is not supported by praetor: every client listener binds client_addr (0.0.0.0); set client_addr instead"
    );
    let err = load_one(
        "a.hcl",
        "data_dir = \"/tmp/x\"\naddresses {\n  dns = \"unix:///tmp/dns.sock\"\n}\n",
    )
    .unwrap_err();
    assert!(
        err.starts_with("addresses.dns = \"unix:///tmp/dns.sock\" is not supported"),
        "{err}"
    );
    let err = load_one(
        "a.json",
        r#"{"data_dir": "/tmp/x", "bind_addr": "0.0.0.0", "advertise_addr": "10.0.0.1",
            "serf_lan": "10.0.0.1"}"#,
    )
    .unwrap_err();
    assert_eq!(
        err,
        "serf_lan = \"10.0.0.1\" is not supported by praetor: gossip binds bind_addr (0.0.0.0); set bind_addr instead"
    );
    let err = load_one(
        "a.json",
        r#"{"data_dir": "/tmp/x", "addresses": {"htp": "127.0.0.1"}}"#,
    )
    .unwrap_err();
    assert!(err.ends_with("invalid config key addresses.htp"), "{err}");
    // The same addresses (in any order) are accepted; "" means unset.
    let c = load_one(
        "a.json",
        r#"{"data_dir": "/tmp/x", "client_addr": "127.0.0.1 10.0.0.5", "bind_addr": "10.0.0.5",
            "addresses": {"http": "10.0.0.5 127.0.0.1", "dns": ""},
            "serf_lan": "10.0.0.5", "serf_wan": "10.0.0.5"}"#,
    )
    .expect("same addresses load")
    .config;
    assert_eq!(c.client_addrs.len(), 2);
}

#[test]
fn default_intention_policy_must_match_praetors_default() {
    let err = load_one(
        "i.json",
        r#"{"data_dir": "/tmp/x", "default_intention_policy": "deny"}"#,
    )
    .unwrap_err();
    assert!(
        err.starts_with("default_intention_policy = \"deny\" is not supported by praetor: intentions default to allow with ACLs disabled and to acl.default_policy otherwise (here \"allow\")"),
        "{err}"
    );
    let err = load_one(
        "i.json",
        r#"{"data_dir": "/tmp/x", "default_intention_policy": "allow",
            "acl": {"enabled": true, "default_policy": "deny"}}"#,
    )
    .unwrap_err();
    assert!(err.contains("(here \"deny\")"), "{err}");
    for text in [
        r#"{"data_dir": "/tmp/x", "default_intention_policy": "allow"}"#,
        r#"{"data_dir": "/tmp/x", "default_intention_policy": "",
            "acl": {"enabled": true, "default_policy": "deny"}}"#,
        r#"{"data_dir": "/tmp/x", "default_intention_policy": "anything",
            "acl": {"enabled": true, "default_policy": "deny"}}"#,
    ] {
        load_one("i.json", text).expect("same decision loads");
    }
}

#[test]
fn raft_snapshot_keys_take_consul_defaults_values_and_refuse_negatives() {
    let defaults = load_one("d.json", r#"{"data_dir": "/tmp/x"}"#)
        .expect("loads")
        .config;
    assert_eq!(defaults.raft_snapshot_threshold, 16_384);
    assert_eq!(defaults.raft_snapshot_interval, Duration::from_secs(30));
    assert_eq!(defaults.raft_trailing_logs, 10_240);
    let set = load_one(
        "s.hcl",
        r#"
data_dir = "/tmp/x"
raft_snapshot_threshold = 8192
raft_snapshot_interval = "5s"
raft_trailing_logs = 20000
"#,
    )
    .expect("loads");
    assert!(
        !set.warnings.iter().any(|w| w.contains("raft_")),
        "{:?}",
        set.warnings
    );
    assert_eq!(set.config.raft_snapshot_threshold, 8192);
    assert_eq!(set.config.raft_snapshot_interval, Duration::from_secs(5));
    assert_eq!(set.config.raft_trailing_logs, 20_000);
    // Consul treats zero as unset.
    let zero = load_one(
        "z.json",
        r#"{"data_dir": "/tmp/x", "raft_snapshot_threshold": 0, "raft_snapshot_interval": "0s"}"#,
    )
    .expect("loads")
    .config;
    assert_eq!(zero.raft_snapshot_threshold, 16_384);
    assert_eq!(zero.raft_snapshot_interval, Duration::from_secs(30));
    for key in ["raft_snapshot_threshold", "raft_trailing_logs"] {
        let err = load_one(
            "n.json",
            &format!(r#"{{"data_dir": "/tmp/x", "{key}": -1}}"#),
        )
        .unwrap_err();
        assert!(err.starts_with(&format!("{key} cannot be -1")), "{err}");
    }
}
