//! `praetor config` and `praetor intention` against a real single-server agent: entries written
//! from HCL and JSON files are read back, listed, refused (CAS, validation) and deleted;
//! intentions are created, listed, shown, matched, checked (the agent's decisions follow the
//! writes), replaced and deleted, with Consul's texts and exit codes; the Connect CA
//! configuration is read and changed (a key type change rotates the root) with
//! `connect ca get-config | set-config`.

use std::time::Duration;

use praetor_tests::{Agent, AgentOptions, scratch, wait_for};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(60);

const PROXY_DEFAULTS: &str = r#"
Kind = "proxy-defaults"
Name = "global"
Config {
  protocol = "http"
}
MeshGateway {
  Mode = "local"
}
"#;

const CACHE_INTENTIONS: &str = r#"{
  "Kind": "service-intentions",
  "Name": "cache",
  "Sources": [
    {"Name": "web", "Action": "allow", "Description": "web reads the cache"},
    {"Name": "*", "Action": "deny"}
  ]
}"#;

/// Runs the CLI and asserts the exit code; returns stdout.
fn ok(agent: &Agent, args: &[&str]) -> String {
    let (code, out, err) = agent.cli(args);
    assert_eq!(code, 0, "praetor {args:?}: stdout {out:?}, stderr {err:?}");
    out
}

/// `intention check SRC DST` until it prints `want` (decisions follow the writes through a
/// blocking read); returns the exit code.
fn check_until(agent: &Agent, src: &str, dst: &str, want: &str) -> i32 {
    wait_for(
        &format!("intention check {src} {dst} = {want}"),
        LONG,
        || {
            let (code, out, _) = agent.cli(&["intention", "check", src, dst]);
            (out.trim() == want).then_some(code)
        },
    )
}

#[test]
fn config_and_intention_commands() {
    let s = Agent::start_with(
        "climesh",
        "127.0.1.46",
        &["-server", "-bootstrap"],
        &AgentOptions::default(),
    );
    let h = s.http();
    wait_for("a leader", LONG, || h.leader());
    let dir = scratch("climesh-files");
    let pd = dir.join("proxy-defaults.hcl");
    std::fs::write(&pd, PROXY_DEFAULTS).unwrap();
    let pd = pd.display().to_string();
    let si = dir.join("cache-intentions.json");
    std::fs::write(&si, CACHE_INTENTIONS).unwrap();
    let si = si.display().to_string();

    // config write: HCL and JSON files.
    let out = wait_for("config write accepted", LONG, || {
        let (code, out, _) = s.cli(&["config", "write", &pd]);
        (code == 0).then_some(out)
    });
    assert_eq!(out, "Config entry written: proxy-defaults/global\n");
    assert_eq!(
        ok(&s, &["config", "write", &si]),
        "Config entry written: service-intentions/cache\n"
    );

    // config read: 4-space JSON of the stored entries.
    let out = ok(
        &s,
        &[
            "config",
            "read",
            "-kind",
            "proxy-defaults",
            "-name",
            "global",
        ],
    );
    assert!(
        out.starts_with("{\n    \"Kind\": \"proxy-defaults\",\n"),
        "{out}"
    );
    let got: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(got["Name"], "global", "{got}");
    assert_eq!(got["MeshGateway"]["Mode"], "local", "{got}");
    assert_eq!(got["Config"]["protocol"], "http", "{got}");
    assert!(got["ModifyIndex"].as_u64().unwrap_or(0) > 1, "{got}");
    assert!(got.get("Hash").is_none(), "{got}");
    let got: Value = serde_json::from_str(&ok(
        &s,
        &["config", "read", "-kind=service-intentions", "-name=cache"],
    ))
    .expect("JSON");
    let sources = got["Sources"].as_array().expect("sources");
    assert_eq!(sources.len(), 2, "{got}");
    let web = sources.iter().find(|x| x["Name"] == "web").expect("web");
    assert_eq!(web["Action"], "allow", "{got}");
    assert_eq!(web["Description"], "web reads the cache", "{got}");
    let (code, _, err) = s.cli(&["config", "read", "-kind=service-defaults", "-name=nope"]);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "Error reading config entry service-defaults/nope: Unexpected response code: 404 (Config entry not found for \"service-defaults\" / \"nope\")"
    );
    let (code, _, err) = s.cli(&["config", "read", "-name=global"]);
    assert_eq!((code, err.trim()), (1, "Must specify the -kind parameter"));

    // config list
    assert_eq!(
        ok(&s, &["config", "list", "-kind", "proxy-defaults"]),
        "global\n"
    );

    // CAS miss, invalid entry, undecodable input.
    let (code, out, err) = s.cli(&["config", "write", "-cas", "-modify-index", "1", &pd]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        err.trim(),
        "Config entry not updated: proxy-defaults/global"
    );
    let smtp = dir.join("smtp.hcl");
    std::fs::write(
        &smtp,
        "Kind = \"service-defaults\"\nName = \"mail\"\nProtocol = \"smtp\"\n",
    )
    .unwrap();
    let (code, _, err) = s.cli(&["config", "write", &smtp.display().to_string()]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with(
            "Error writing config entry service-defaults/mail: Unexpected response code: 500 ("
        ) && err.contains("invalid value for protocol: smtp"),
        "{err}"
    );
    let bad = dir.join("bad.hcl");
    std::fs::write(&bad, "Name = \"x\"\n").unwrap();
    let (code, _, err) = s.cli(&["config", "write", &bad.display().to_string()]);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "Failed to decode config entry input: Payload does not contain a kind/Kind key at the top level"
    );

    // config delete
    assert_eq!(
        ok(
            &s,
            &[
                "config",
                "delete",
                "-kind",
                "service-intentions",
                "-name",
                "cache"
            ]
        ),
        "Config entry deleted: service-intentions/cache\n"
    );
    let (code, _, _) = s.cli(&["config", "read", "-kind=service-intentions", "-name=cache"]);
    assert_eq!(code, 1, "deleted entry still readable");

    // Intentions.
    let (code, _, err) = s.cli(&["intention", "list"]);
    assert_eq!((code, err.trim()), (2, "There are no intentions."));
    assert_eq!(
        ok(&s, &["intention", "create", "web", "db"]),
        "Created: web => db (allow)\n"
    );
    assert_eq!(
        ok(&s, &["intention", "create", "-deny", "api", "db"]),
        "Created: api => db (deny)\n"
    );
    let (code, _, err) = s.cli(&["intention", "create", "-allow", "-deny", "a", "b"]);
    assert_eq!(
        (code, err.trim()),
        (1, "Only one of -allow or -deny may be specified.")
    );
    let (code, _, err) = s.cli(&["intention", "create", "web"]);
    assert_eq!(
        (code, err.trim()),
        (
            1,
            "Error: Must specify two arguments: source and destination"
        )
    );

    let out = ok(&s, &["intention", "list"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "Source", "Action", "Destination", "Precedence"],
        "{out}"
    );
    for (src, action) in [("web", "allow"), ("api", "deny")] {
        assert!(
            lines[1..].iter().any(|l| {
                let cells: Vec<&str> = l.split_whitespace().collect();
                cells.len() == 5 && cells[1..4] == [src, action, "db"]
            }),
            "{src} => db ({action}) not listed:\n{out}"
        );
    }

    let out = ok(&s, &["intention", "get", "web", "db"]);
    assert!(
        out.starts_with("Source:       web\nDestination:  db\nAction:       allow\nID:           "),
        "{out}"
    );
    assert!(out.contains("\nCreated At:   "), "{out}");
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("ID:"))
        .map(str::trim)
        .expect("an ID")
        .to_string();
    let by_id = ok(&s, &["intention", "get", &id]);
    assert_eq!(by_id, out);
    let (code, _, err) = s.cli(&["intention", "get", "nobody", "db"]);
    assert_eq!(
        (code, err.trim()),
        (
            1,
            "Intention not found with source \"nobody\" and destination \"db\""
        )
    );

    let out = ok(&s, &["intention", "match", "db"]);
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["api => db (deny)", "web => db (allow)"], "{out}");
    assert_eq!(
        ok(&s, &["intention", "match", "-source", "api"]),
        "api => db (deny)\n"
    );

    assert_eq!(check_until(&s, "web", "db", "Allowed"), 0);
    assert_eq!(check_until(&s, "api", "db", "Denied"), 1);

    // -replace turns the existing intention around instead of adding one.
    let (code, _, err) = s.cli(&["intention", "create", "-replace", "-deny", "web", "db"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(check_until(&s, "web", "db", "Denied"), 1);
    let out = ok(&s, &["intention", "get", "web", "db"]);
    assert!(out.contains("Action:       deny\n"), "{out}");
    assert!(out.contains(&format!("ID:           {id}\n")), "{out}");
    assert_eq!(ok(&s, &["intention", "list"]).lines().count(), 3);

    assert_eq!(
        ok(&s, &["intention", "delete", "web", "db"]),
        "Intention deleted.\n"
    );
    let (code, _, _) = s.cli(&["intention", "get", "web", "db"]);
    assert_eq!(code, 1, "deleted intention still readable");
    assert_eq!(check_until(&s, "web", "db", "Allowed"), 0);
    assert_eq!(
        ok(&s, &["intention", "delete", "api", "db"]),
        "Intention deleted.\n"
    );
    let (code, _, _) = s.cli(&["intention", "list"]);
    assert_eq!(code, 2);
    std::fs::remove_dir_all(&dir).ok();
}

/// The roots of `GET /v1/connect/ca/roots` once the CA answers.
fn ca_roots(h: &praetor_tests::Http) -> Vec<Value> {
    wait_for("the CA's roots", LONG, || {
        let r = h.try_get("/v1/connect/ca/roots").ok()?;
        (r.status == 200).then(|| r.json()["Roots"].as_array().cloned().unwrap_or_default())
    })
}

#[test]
fn connect_ca_commands() {
    let s = Agent::start_with(
        "clica",
        "127.0.1.48",
        &["-server", "-bootstrap"],
        &AgentOptions::default(),
    );
    let h = s.http();
    wait_for("a leader", LONG, || h.leader());
    // The leader initializes the CA right after its election.
    assert_eq!(ca_roots(&h).len(), 1);

    // get-config: Go's tab-indented JSON of api.CAConfig.
    let out = ok(&s, &["connect", "ca", "get-config"]);
    assert!(
        out.starts_with("{\n\t\"Provider\": \"consul\",\n\t\"Config\": {\n\t\t\""),
        "{out}"
    );
    let got: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(got["Provider"], "consul", "{got}");
    assert_eq!(got["Config"]["LeafCertTTL"], "72h0m0s", "{got}");
    assert_eq!(got["ForceWithoutCrossSigning"], false, "{got}");
    let keys: Vec<&str> = got
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    for key in ["State", "CreateIndex", "ModifyIndex"] {
        assert!(keys.contains(&key), "{key} missing: {out}");
    }

    // set-config: a new key type rotates to a second root.
    let dir = scratch("clica-files");
    let ec = dir.join("ec384.json");
    std::fs::write(
        &ec,
        r#"{"Provider":"consul","Config":{"PrivateKeyType":"ec","PrivateKeyBits":384}}"#,
    )
    .unwrap();
    assert_eq!(
        ok(
            &s,
            &[
                "connect",
                "ca",
                "set-config",
                "-config-file",
                &ec.display().to_string()
            ]
        ),
        "Configuration updated!\n"
    );
    let roots = wait_for("a second root", LONG, || {
        let roots = ca_roots(&h);
        (roots.len() == 2).then_some(roots)
    });
    let active: Vec<&Value> = roots.iter().filter(|r| r["Active"] == true).collect();
    assert_eq!(active.len(), 1, "{roots:?}");
    assert_eq!(active[0]["PrivateKeyBits"], 384, "{roots:?}");
    let got: Value = serde_json::from_str(&ok(&s, &["connect", "ca", "get-config"])).expect("JSON");
    assert_eq!(got["Config"]["PrivateKeyBits"], 384, "{got}");
    assert_eq!(got["Config"]["PrivateKeyType"], "ec", "{got}");

    // Refused by the agent, by the command, and unreadable input.
    let short = dir.join("short-ttl.json");
    std::fs::write(
        &short,
        r#"{"Provider":"consul","Config":{"LeafCertTTL":"1m"}}"#,
    )
    .unwrap();
    let (code, out, err) = s.cli(&[
        "connect",
        "ca",
        "set-config",
        "-config-file",
        &short.display().to_string(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.starts_with("Error setting CA configuration: Unexpected response code: "),
        "{err}"
    );
    assert!(
        err.contains("leaf cert TTL must be greater or equal than 1h0m0s"),
        "{err}"
    );
    let (code, _, err) = s.cli(&["connect", "ca", "set-config"]);
    assert_eq!((code, err.trim()), (1, "The -config-file flag is required"));
    let missing = dir.join("missing.json").display().to_string();
    let (code, _, err) = s.cli(&["connect", "ca", "set-config", "-config-file", &missing]);
    assert_eq!(
        (code, err.trim().to_string()),
        (
            1,
            format!("Error reading config file: open {missing}: no such file or directory")
        )
    );
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"Provider\": ").unwrap();
    let (code, _, err) = s.cli(&[
        "connect",
        "ca",
        "set-config",
        "-config-file",
        &bad.display().to_string(),
    ]);
    assert_eq!(code, 1);
    assert!(err.starts_with("Error parsing config file: "), "{err}");
    assert_eq!(ca_roots(&h).len(), 2, "a refused change rotated the root");
    std::fs::remove_dir_all(&dir).ok();
}
