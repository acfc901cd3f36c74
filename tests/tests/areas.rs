//! Network areas over the TLS server RPC port, hub and spoke: dc1 (127.0.1.1) has areas with
//! dc2 (127.0.2.1) and dc3 (127.0.3.1); no WAN pool anywhere (`ports.serf_wan = -1`), TLS with
//! `verify_incoming` and `verify_server_hostname` on every RPC port, certificates made by
//! `praetor tls`. dc2 -> dc1 and dc1 -> dc3 work; dc2 -> dc3 is `No path to datacenter` until
//! dc2 turns on multi-hop routing (reload), then goes through dc1. Plaintext and the wrong
//! certificates are refused on the RPC port.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hickory_proto::rr::{RData, RecordType};
use praetor_tests::{Agent, AgentOptions, dns, kv_in_dc, run_cli, scratch, wait_for};

/// Runs the CLI in `dir` (for `tls`) against `agent` (if any): (exit code, stdout + stderr).
fn cli(dir: &Path, agent: Option<&Agent>, args: &[&str]) -> (i32, String) {
    let (code, out, err) = run_cli(dir, agent, args);
    (code, out + &err)
}

/// A CA and one server certificate per datacenter (plus a dc1 client certificate).
fn certificates() -> PathBuf {
    let dir = scratch("area-certs");
    let (code, out) = cli(&dir, None, &["tls", "ca", "create"]);
    assert_eq!(code, 0, "{out}");
    for n in 1..=3 {
        // Also valid for the server's own address (the CLI dials it over HTTPS).
        let (code, out) = cli(
            &dir,
            None,
            &[
                "tls",
                "cert",
                "create",
                "-server",
                &format!("-dc=dc{n}"),
                &format!("-additional-ipaddress=127.0.{n}.1"),
            ],
        );
        assert_eq!(code, 0, "{out}");
    }
    let (code, out) = cli(&dir, None, &["tls", "cert", "create", "-client", "-dc=dc1"]);
    assert_eq!(code, 0, "{out}");
    dir
}

fn config(certs: &Path, cert: &str, multi_hop: bool) -> String {
    let p = |f: &str| certs.join(f).display().to_string();
    serde_json::json!({
        "performance": {"raft_multiplier": 1},
        "log_level": "debug",
        "ports": {"serf_wan": -1, "https": 8501},
        "ui_config": {"enabled": true},
        "multi_hop_routing": multi_hop,
        "tls": {
            "defaults": {
                "ca_file": p("consul-agent-ca.pem"),
                "cert_file": p(&format!("{cert}.pem")),
                "key_file": p(&format!("{cert}-key.pem")),
                "verify_incoming": true,
                "verify_outgoing": true
            },
            "internal_rpc": {"verify_server_hostname": true}
        }
    })
    .to_string()
}

fn server(dc: u8, certs: &Path, cert: &str) -> Agent {
    let opts = AgentOptions {
        config_json: config(certs, cert, false),
        ..AgentOptions::default()
    };
    Agent::start_with(
        "s1",
        &format!("127.0.{dc}.1"),
        &[
            &format!("-datacenter=dc{dc}"),
            "-server",
            "-bootstrap-expect=1",
        ],
        &opts,
    )
}

fn area(from: &Agent, peer: &str, join: Option<&str>) {
    let dir = std::env::temp_dir();
    let (code, out) = cli(
        &dir,
        Some(from),
        &[
            "operator",
            "area",
            "create",
            &format!("-peer-datacenter={peer}"),
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("with peer datacenter \"{peer}\"!")),
        "{out}"
    );
    if let Some(addr) = join {
        wait_for(
            &format!("area join {peer} via {addr}"),
            Duration::from_secs(30),
            || {
                let (code, out) = cli(
                    &dir,
                    Some(from),
                    &[
                        "operator",
                        "area",
                        "join",
                        &format!("-peer-datacenter={peer}"),
                        addr,
                    ],
                );
                (code == 0 && out.contains("true")).then_some(())
            },
        );
    }
}

/// The server closes a connection that speaks plaintext gRPC (HTTP/2 preface) on a port with
/// `verify_incoming`.
fn plaintext_refused(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return false;
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0");
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(0) | Err(_))
}

#[test]
fn hub_and_spoke_areas_over_tls_with_multi_hop() {
    let certs = certificates();
    let dc1 = server(1, &certs, "dc1-server-consul-0");
    let mut dc2 = server(2, &certs, "dc2-server-consul-0");
    let dc3 = server(3, &certs, "dc3-server-consul-0");
    for a in [&dc1, &dc2, &dc3] {
        wait_for(
            &format!("{} has a leader", a.ip),
            Duration::from_secs(60),
            || a.http().leader().filter(|l| !l.is_empty()),
        );
    }
    // No WAN pool anywhere: nothing listens on UDP 8302.
    for ip in ["127.0.1.1", "127.0.2.1", "127.0.3.1"] {
        let free = UdpSocket::bind(format!("{ip}:8302"));
        assert!(free.is_ok(), "UDP {ip}:8302 is in use");
    }
    // Before any area: other datacenters are unknown.
    assert_eq!(
        kv_in_dc(&dc1, "x", "dc2"),
        (500, "No path to datacenter".into())
    );

    // The reciprocal pairs plus one join each (from the hub).
    area(&dc2, "dc1", None);
    area(&dc3, "dc1", None);
    area(&dc1, "dc2", Some("127.0.2.1"));
    area(&dc1, "dc3", Some("127.0.3.1:8300"));
    wait_for(
        "area members lists every server alive",
        Duration::from_secs(60),
        || {
            let (code, out) = cli(
                &std::env::temp_dir(),
                Some(&dc1),
                &["operator", "area", "members"],
            );
            (code == 0
                && ["s1.dc1", "s1.dc2", "s1.dc3"]
                    .iter()
                    .all(|n| out.lines().any(|l| l.contains(n) && l.contains("alive"))))
            .then_some(())
        },
    );

    // The seed guide: a write to dc2 from dc1, DNS for dc2 asked of dc1. A server listed
    // alive is routable at once (no retry here).
    let (code, out) = cli(
        &std::env::temp_dir(),
        Some(&dc1),
        &["kv", "put", "-datacenter=dc2", "hello", "world"],
    );
    assert!(code == 0 && out.contains("Success!"), "{code}: {out}");
    assert_eq!(dc2.http().kv_get("hello", "").unwrap(), b"world");
    let q = dns(dc1.dns_addr(), "consul.service.dc2.consul.", RecordType::A);
    let addrs: Vec<String> = q
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(addrs, ["127.0.2.1"]);
    // The same question from a real third-party client, as in the seed guide.
    let out = Command::new("dig")
        .args([
            "@127.0.1.1",
            "-p",
            "8600",
            "+short",
            "consul.service.dc2.consul",
        ])
        .output()
        .expect("run dig (tests/run.sh installs it)");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "127.0.2.1");
    // The HTTPS API (ports.https) with curl: verify_incoming wants a client certificate.
    let curl = |client_cert: bool, path: &str| {
        let p = |f: &str| certs.join(f).display().to_string();
        let mut cmd = Command::new("curl");
        cmd.args([
            "-sS",
            "--max-time",
            "10",
            "--cacert",
            &p("consul-agent-ca.pem"),
        ]);
        if client_cert {
            cmd.args([
                "--cert",
                &p("dc1-client-consul-0.pem"),
                "--key",
                &p("dc1-client-consul-0-key.pem"),
            ]);
        }
        // The server certificate names localhost, 127.0.0.1 and server.dc1.consul.
        cmd.args([
            "--resolve",
            "server.dc1.consul:8501:127.0.1.1",
            &format!("https://server.dc1.consul:8501{path}"),
        ]);
        let out = cmd.output().expect("run curl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    assert_eq!(
        curl(true, "/v1/kv/hello?dc=dc2&raw"),
        (true, "world".to_string())
    );
    assert!(
        !curl(false, "/v1/kv/hello?dc=dc2&raw").0,
        "HTTPS without a client certificate is refused"
    );
    // The web UI is served on the HTTPS port too.
    let (ok, page) = curl(true, "/ui/dc2/services");
    assert!(ok && page.contains("/ui/assets/app.js"), "{page}");
    // praetor's own CLI over HTTPS, with Consul's flags.
    let https = |tls: &[&str]| {
        let mut args = vec![
            "kv",
            "get",
            "-datacenter=dc2",
            "-http-addr=https://127.0.1.1:8501",
        ];
        args.extend_from_slice(tls);
        args.push("hello");
        run_cli(&certs, None, &args)
    };
    let client_cert = [
        "-client-cert=dc1-client-consul-0.pem",
        "-client-key=dc1-client-consul-0-key.pem",
    ];
    let (code, out, err) = https(&[&["-ca-file=consul-agent-ca.pem"][..], &client_cert].concat());
    assert_eq!((code, out.trim()), (0, "world"), "{err}");
    let (code, _, err) = https(&client_cert);
    assert_eq!(
        code, 1,
        "an agent certificate from an unknown CA is refused: {err}"
    );
    let (code, _, err) = https(&["-ca-file=consul-agent-ca.pem"]);
    assert_eq!(
        code, 1,
        "verify_incoming refuses a CLI without a client certificate: {err}"
    );
    // dc2 -> dc1 and dc1 -> dc3.
    assert_eq!(dc1.http().put("/v1/kv/at-dc1", b"1").text(), "true");
    wait_for("dc2 -> dc1", Duration::from_secs(60), || {
        (kv_in_dc(&dc2, "at-dc1", "dc1") == (200, "1".into())).then_some(())
    });
    assert_eq!(dc3.http().put("/v1/kv/at-dc3", b"3").text(), "true");
    wait_for("dc1 -> dc3", Duration::from_secs(60), || {
        (kv_in_dc(&dc1, "at-dc3", "dc3") == (200, "3".into())).then_some(())
    });
    // dc2 and dc3 share no area: no path, as in Consul.
    assert_eq!(
        kv_in_dc(&dc2, "at-dc3", "dc3"),
        (500, "No path to datacenter".into())
    );

    // Multi-hop on dc2 (reload): dc3 is reached through dc1 and listed.
    std::fs::write(
        dc2.dir.join("test.json"),
        config(&certs, "dc2-server-consul-0", true),
    )
    .unwrap();
    dc2.signal(libc::SIGHUP);
    wait_for("dc2 -> dc3 through dc1", Duration::from_secs(60), || {
        (kv_in_dc(&dc2, "at-dc3", "dc3") == (200, "3".into())).then_some(())
    });
    let dcs: Vec<String> =
        serde_json::from_value(dc2.http().get("/v1/catalog/datacenters").json()).unwrap();
    assert_eq!(dcs[0], "dc2");
    assert!(dcs.contains(&"dc3".to_string()), "{dcs:?}");

    // The RPC port refuses plaintext when verify_incoming is on.
    assert!(plaintext_refused("127.0.1.1:8300".parse().unwrap()));

    // A dc2 server holding dc3's certificate cannot act as dc2's server: dc1 refuses it on
    // the RPC port (the handshake fails verify_server_hostname for server.dc2.consul).
    dc2.kill();
    let impostor = server(2, &certs, "dc3-server-consul-0");
    wait_for("impostor has a leader", Duration::from_secs(60), || {
        impostor.http().leader().filter(|l| !l.is_empty())
    });
    assert_eq!(impostor.http().put("/v1/kv/hello", b"fake").text(), "true");
    let (status, body) = kv_in_dc(&dc1, "hello", "dc2");
    assert_eq!(status, 500, "{body}");
    wait_for(
        "dc1 logs the refused certificate",
        Duration::from_secs(10),
        || {
            let logs = dc1.logs();
            logs.contains("certificate not valid for name \"server.dc2.consul\"")
                .then_some(())
        },
    );
}
