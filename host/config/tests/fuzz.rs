//! Config files and service definitions: mutated HCL and JSON never panic the parser or the
//! decoder (see `praetor_fuzz`); every refusal is a `ConfigError`.

use praetor_config::{Flags, Format};

const HCL: &str = r#"
datacenter = "dc1"
data_dir = "/tmp/praetor-fuzz"
server = true
bootstrap_expect = 3
retry_join = ["10.0.0.1", "10.0.0.2"]
ports { http = 8500 dns = -1 }
acl { enabled = true default_policy = "deny" tokens { agent = "x" } }
service {
  name = "web"
  port = 80
  tags = ["v1"]
  check { http = "http://localhost/health" interval = "10s" timeout = "1s" }
  connect { sidecar_service { proxy { upstreams = [{ destination_name = "db" local_bind_port = 9191 }] } } }
}
"#;

const JSON: &str = r#"{
  "datacenter": "dc1",
  "data_dir": "/tmp/praetor-fuzz",
  "performance": {"raft_multiplier": 1},
  "telemetry": {"disable_hostname": true},
  "services": [{"name": "api", "port": 9090, "checks": [{"ttl": "30s", "DeregisterCriticalServiceAfter": "1m"}],
                "weights": {"passing": 3, "warning": 1}, "meta": {"v": "2"}}],
  "connect": {"enabled": true, "ca_config": {"leaf_cert_ttl": "72h"}}
}"#;

#[test]
fn fuzz_service_definitions() {
    praetor_fuzz::run_text("service definitions (HCL)", &[HCL], |text| {
        let _ = praetor_config::parse_service_definitions("fuzz.hcl", text, Format::Hcl);
    });
    praetor_fuzz::run_text("service definitions (JSON)", &[JSON], |text| {
        let _ = praetor_config::parse_service_definitions("fuzz.json", text, Format::Json);
    });
}

#[test]
fn fuzz_config_files() {
    let dir = std::env::temp_dir().join(format!("praetor-config-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    for (name, seed) in [("agent.hcl", HCL), ("agent.json", JSON)] {
        let path = dir.join(name);
        praetor_fuzz::run_text(&format!("config file {name}"), &[seed], |text| {
            std::fs::write(&path, text).expect("write");
            let _ = praetor_config::load(&Flags {
                config_paths: vec![path.clone()],
                ..Flags::default()
            });
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
}
