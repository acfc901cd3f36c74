//! The web UI (issue 14) in a real browser: Debian's headless Chromium against two WAN-joined
//! datacenters with ACLs default deny. Logs in with a token, switches datacenter, edits KV
//! with CAS (a concurrent edit is refused and shown), manages an intention, sees the
//! federation map, swaps a plugin, is denied KV with a token that lacks it, and keeps a page
//! with words on it when a datacenter goes away. Screenshots land in
//! `$CARGO_TARGET_DIR/ui-screenshots/`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use praetor_tests::acl_pair::{self, ROOT};
use praetor_tests::browser::{Browser, chromium_bin};
use praetor_tests::{Http, Resp, plugin_wasm, scratch, wait_for};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(60);
/// Every wait on the page (the suite shares two cores with other tests).
const UI: Duration = Duration::from_secs(30);
const READER: &str = "2b3c4d5e-6f70-4a1b-8c2d-3e4f5a6b7c8d";

fn status(r: &Resp, want: u16, what: &str) {
    assert_eq!(r.status, want, "{what}: {}", r.text());
}

fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("ui-screenshots")
}

/// A JS expression: the element `selector` names exists.
fn exists(selector: &str) -> String {
    format!("!!document.querySelector({})", json!(selector))
}

/// A JS expression: the error banner's text, when shown.
const ERROR_TEXT: &str = "(document.querySelector('[data-test=error]') || {}).textContent || ''";

fn path_is(path: &str) -> String {
    format!("location.pathname === {}", json!(path))
}

fn kv_value(h: &Http, key: &str) -> Option<String> {
    h.kv_get(key, "")
        .map(|v| String::from_utf8_lossy(&v).into_owned())
}

#[test]
fn the_ui_in_a_real_browser_across_two_datacenters() {
    assert!(
        chromium_bin().is_some(),
        "chromium is not installed: tests/run.sh installs it (apt package `chromium`)"
    );
    let (p, mut s) = acl_pair::start(
        "ui",
        "127.0.1.49",
        "127.0.2.49",
        &json!({"ui_config": {"enabled": true}}),
    );
    let root1 = p.http().with_token(ROOT);
    let root2 = s.http().with_token(ROOT);
    // A token that may read services and nodes but no KV.
    status(
        &root1.put_json(
            "/v1/acl/policy",
            &json!({"Name": "catalog-reader", "Rules":
                "service_prefix \"\" { policy = \"read\" }\nnode_prefix \"\" { policy = \"read\" }"}),
        ),
        200,
        "reader policy",
    );
    status(
        &root1.put_json(
            "/v1/acl/token",
            &json!({"SecretID": READER, "Description": "catalog reader", "Policies": [{"Name": "catalog-reader"}]}),
        ),
        200,
        "reader token",
    );
    wait_for("dc1 lists dc2", LONG, || {
        let r = p.http().get("/v1/catalog/datacenters");
        (r.json() == json!(["dc1", "dc2"])).then_some(())
    });
    for (h, name, port) in [(&root1, "web", 8080), (&root2, "api2", 9090)] {
        status(
            &h.put_json(
                "/v1/agent/service/register",
                &json!({"Name": name, "Port": port, "Tags": ["v1"],
                    "Check": {"TTL": "60s", "Name": format!("{name} ttl")}}),
            ),
            200,
            "register",
        );
    }
    status(
        &root1.put("/v1/agent/check/pass/service:web?note=all+good", b""),
        200,
        "web passing",
    );
    status(&root1.put("/v1/kv/app/config", b"v1"), 200, "seed kv");

    // The agent serves the UI: `/` redirects (301, as Consul), any /ui/ path is the page.
    let plain = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent();
    let base = "http://127.0.1.49:8500";
    let r = plain.get(format!("{base}/")).call().expect("GET /");
    assert_eq!(r.status().as_u16(), 301);
    assert_eq!(r.headers()["location"], "/ui/");
    let r = plain
        .get(format!("{base}/ui/dc1/kv/app/config/edit"))
        .call()
        .expect("GET page");
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    let mut gzipped = 0usize;
    for asset in ["app.js", "app.css"] {
        let mut r = plain
            .get(format!("{base}/ui/assets/{asset}"))
            .header("Accept-Encoding", "gzip")
            .call()
            .expect("GET asset");
        assert_eq!(r.status().as_u16(), 200, "{asset}");
        assert_eq!(r.headers()["content-encoding"], "gzip", "{asset}");
        gzipped += r.body_mut().read_to_vec().expect("body").len();
    }
    let mut r = plain
        .get(format!("{base}/ui/"))
        .header("Accept-Encoding", "gzip")
        .call()
        .expect("GET index");
    gzipped += r.body_mut().read_to_vec().expect("body").len();
    println!("UI assets served gzipped: {gzipped} bytes");
    assert_eq!(
        plain
            .get(format!("{base}/ui/assets/nope.js"))
            .call()
            .expect("GET missing")
            .status()
            .as_u16(),
        404
    );

    let profile = scratch("ui-chromium");
    let mut b = Browser::start(&profile, &artifacts()).expect("chromium starts");

    // `/` lands on the services page of the local datacenter; anonymous sees no services.
    b.navigate(&format!("{base}/")).unwrap();
    b.wait(
        "redirect to /ui/dc1/services",
        UI,
        &path_is("/ui/dc1/services"),
    );
    b.wait(
        "services page ready",
        UI,
        "document.querySelector('main').dataset.state === 'ready'",
    );
    assert_eq!(
        b.eval(&exists("[data-test=service-row][data-name=web]"))
            .unwrap(),
        json!(false),
        "anonymous must not see web under default deny"
    );

    // Log in with the management token.
    b.navigate(&format!("{base}/ui/dc1/login")).unwrap();
    b.wait("login form", UI, &exists("#login-token"));
    b.fill("#login-token", ROOT).unwrap();
    b.click("#login-submit").unwrap();
    b.wait(
        "back on services after login",
        UI,
        &path_is("/ui/dc1/services"),
    );
    b.wait(
        "web listed",
        UI,
        &exists("[data-test=service-row][data-name=web]"),
    );

    // First render of the services page on a fresh load (token already stored).
    let started = Instant::now();
    b.navigate(&format!("{base}/ui/dc1/services")).unwrap();
    let first = b.wait(
        "first render of the services page",
        UI,
        "window.__praetorFirstRender || 0",
    );
    println!(
        "first render of the services page: {:.0} ms after navigation start \
         ({} ms wall, CDP polling included)",
        first.as_f64().unwrap_or_default(),
        started.elapsed().as_millis()
    );
    b.wait(
        "web row",
        UI,
        &exists("[data-test=service-row][data-name=web]"),
    );
    b.screenshot("services-dc1");

    // Live: a new service appears without a reload (blocking query).
    status(
        &root1.put_json(
            "/v1/agent/service/register",
            &json!({"Name": "late", "Port": 7070}),
        ),
        200,
        "register late",
    );
    b.wait(
        "late appears without reload",
        UI,
        &exists("[data-test=service-row][data-name=late]"),
    );

    // The service page shows instances and check output.
    b.navigate(&format!("{base}/ui/dc1/services/web")).unwrap();
    b.wait("web instance", UI, &exists("[data-test=instance-row]"));
    b.wait(
        "check output shown",
        UI,
        "document.querySelector('main').innerText.includes('all good')",
    );

    // Switch datacenter: dc2's services, not dc1's.
    b.navigate(&format!("{base}/ui/dc1/services")).unwrap();
    b.wait(
        "dc2 in the switcher",
        UI,
        "[...document.querySelectorAll('#dc-switcher option')].map(o => o.value).join(',') === 'dc1,dc2'",
    );
    b.fill("#dc-switcher", "dc2").unwrap();
    b.wait("on dc2", UI, &path_is("/ui/dc2/services"));
    b.wait(
        "api2 listed in dc2",
        UI,
        &exists("[data-test=service-row][data-name=api2]"),
    );
    assert_eq!(
        b.eval(&exists("[data-test=service-row][data-name=web]"))
            .unwrap(),
        json!(false),
        "dc1's web must not show in dc2"
    );
    b.screenshot("services-dc2");

    // Nodes, with checks.
    b.navigate(&format!("{base}/ui/dc1/nodes")).unwrap();
    b.wait(
        "node uip",
        UI,
        &exists("[data-test=node-row][data-name=uip]"),
    );

    // KV: browse, edit with CAS, a concurrent edit refused and shown, create, delete.
    b.navigate(&format!("{base}/ui/dc1/kv/app/")).unwrap();
    b.wait(
        "app/config listed",
        UI,
        &exists("[data-test=kv-row][data-key=\"app/config\"]"),
    );
    b.navigate(&format!("{base}/ui/dc1/kv/app/config/edit"))
        .unwrap();
    b.wait(
        "value loaded",
        UI,
        "(document.querySelector('#kv-value') || {}).value === 'v1'",
    );
    b.fill("#kv-value", "v2 from the ui").unwrap();
    b.click("#kv-save").unwrap();
    b.wait("saved", UI, &exists("[data-test=status]"));
    assert_eq!(
        kv_value(&root1, "app/config").as_deref(),
        Some("v2 from the ui")
    );
    b.navigate(&format!("{base}/ui/dc1/kv/app/config")).unwrap();
    b.wait(
        "value reloaded",
        UI,
        "(document.querySelector('#kv-value') || {}).value === 'v2 from the ui'",
    );
    status(
        &root1.put("/v1/kv/app/config", b"v3 from elsewhere"),
        200,
        "concurrent write",
    );
    b.fill("#kv-value", "v4 from the ui").unwrap();
    b.click("#kv-save").unwrap();
    let err = b.wait("CAS refusal shown", UI, ERROR_TEXT);
    assert!(err.as_str().unwrap().contains("CAS"), "{err}");
    b.screenshot("kv-cas-refused");
    assert_eq!(
        kv_value(&root1, "app/config").as_deref(),
        Some("v3 from elsewhere"),
        "the concurrent edit must not be lost"
    );
    assert_eq!(
        b.eval("document.querySelector('#kv-value').value").unwrap(),
        json!("v4 from the ui"),
        "the user's text is kept"
    );
    b.navigate(&format!("{base}/ui/dc1/kv/app/create")).unwrap();
    b.wait("create form", UI, &exists("#kv-key"));
    b.fill("#kv-key", "app/new").unwrap();
    b.fill("#kv-value", "fresh").unwrap();
    b.click("#kv-save").unwrap();
    b.wait("on the new key", UI, &path_is("/ui/dc1/kv/app/new"));
    assert_eq!(kv_value(&root1, "app/new").as_deref(), Some("fresh"));
    b.wait("delete button", UI, &exists("#kv-delete"));
    b.click("#kv-delete").unwrap();
    b.wait("confirm button", UI, &exists("#kv-delete-confirm"));
    b.click("#kv-delete-confirm").unwrap();
    b.wait("back in the folder", UI, &path_is("/ui/dc1/kv/app/"));
    assert_eq!(kv_value(&root1, "app/new"), None, "deleted");

    // Intentions: create, then delete.
    b.navigate(&format!("{base}/ui/dc1/intentions")).unwrap();
    b.wait("intention form", UI, &exists("#intention-source"));
    b.fill("#intention-source", "web").unwrap();
    b.fill("#intention-destination", "api2").unwrap();
    b.fill("#intention-action", "deny").unwrap();
    b.click("#intention-save").unwrap();
    b.wait(
        "intention listed",
        UI,
        &exists("[data-test=intention-row][data-source=web][data-destination=api2]"),
    );
    let exact = root1.get("/v1/connect/intentions/exact?source=web&destination=api2");
    status(&exact, 200, "intention stored");
    assert_eq!(exact.json()["Action"], "deny");
    b.click("[data-test=intention-row][data-source=web] [data-test=intention-delete]")
        .unwrap();
    b.wait(
        "intention delete confirm",
        UI,
        &exists("[data-test=intention-row][data-source=web] [data-test=intention-delete-confirm]"),
    );
    b.click("[data-test=intention-row][data-source=web] [data-test=intention-delete-confirm]")
        .unwrap();
    wait_for("intention deleted", UI, || {
        (root1
            .get("/v1/connect/intentions/exact?source=web&destination=api2")
            .status
            == 404)
            .then_some(())
    });

    // ACL pages list the tokens.
    b.navigate(&format!("{base}/ui/dc1/acls/tokens")).unwrap();
    b.wait(
        "tokens listed",
        UI,
        "document.querySelectorAll('[data-test=token-row]').length >= 3",
    );

    // The federation map: both datacenters and the WAN link between them.
    b.navigate(&format!("{base}/ui/dc1/federation")).unwrap();
    b.wait(
        "dc2 on the map",
        UI,
        &exists("[data-test=fed-dc][data-name=dc2]"),
    );
    b.wait(
        "WAN link to dc2",
        UI,
        &exists("[data-test=fed-link][data-datacenter=dc2][data-path=wan]"),
    );
    b.screenshot("federation");

    // Plugins: load the test guest into the intentions slot from the page, then revert.
    let allowed = |h: &Http| {
        h.get("/v1/connect/intentions/check?source=api9&destination=web")
            .json()["Allowed"]
            .as_bool()
    };
    assert_eq!(allowed(&root1), Some(false), "default deny before the swap");
    b.navigate(&format!("{base}/ui/dc1/plugins")).unwrap();
    b.wait(
        "intentions slot",
        UI,
        &exists("[data-test=plugin-row][data-slot=intentions]"),
    );
    b.fill("#plugin-slot", "intentions").unwrap();
    b.set_file("#plugin-file", &plugin_wasm("intentions_fixed"))
        .unwrap();
    b.fill("#plugin-config", r#"{"allowed": true}"#).unwrap();
    b.click("#plugin-load").unwrap();
    b.wait("loaded", UI, &exists("[data-test=status]"));
    assert_eq!(allowed(&root1), Some(true), "the loaded component decides");
    b.screenshot("plugins");
    b.click("[data-test=plugin-revert][data-slot=intentions]")
        .unwrap();
    wait_for("reverted", UI, || {
        (allowed(&root1) == Some(false)).then_some(())
    });

    // A narrow window: the page still fits (tables scroll inside their wrappers).
    b.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 400, "height": 800, "deviceScaleFactor": 1, "mobile": false}),
    )
    .unwrap();
    b.navigate(&format!("{base}/ui/dc1/services")).unwrap();
    b.wait(
        "web row (narrow)",
        UI,
        &exists("[data-test=service-row][data-name=web]"),
    );
    let width: Value = b.eval("document.documentElement.scrollWidth").unwrap();
    assert!(
        width.as_u64().unwrap_or(u64::MAX) <= 400,
        "the page overflows a 400 px window: {width}"
    );
    b.screenshot("services-narrow");
    b.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": false}),
    )
    .unwrap();

    // A token that cannot read KV sees the denial in words.
    b.navigate(&format!("{base}/ui/dc1/login")).unwrap();
    b.wait("login form", UI, &exists("#login-token"));
    b.fill("#login-token", READER).unwrap();
    b.click("#login-submit").unwrap();
    b.wait("logged in as reader", UI, &path_is("/ui/dc1/services"));
    b.navigate(&format!("{base}/ui/dc1/kv/app/config")).unwrap();
    let err = b.wait("KV denial shown", UI, ERROR_TEXT);
    assert!(err.as_str().unwrap().contains("403"), "{err}");
    assert!(err.as_str().unwrap().contains("Permission denied"), "{err}");
    b.screenshot("kv-denied");

    // dc2 goes away: its page says so in words, and the switcher marks it.
    b.navigate(&format!("{base}/ui/dc1/login")).unwrap();
    b.wait("login form", UI, &exists("#login-token"));
    b.fill("#login-token", ROOT).unwrap();
    b.click("#login-submit").unwrap();
    b.wait("logged in again", UI, &path_is("/ui/dc1/services"));
    s.kill();
    wait_for("dc1's router sees dc2 down", LONG, || {
        let r = root1.get("/v1/operator/routes").json();
        r["Routes"]
            .as_array()?
            .iter()
            .any(|x| x["Datacenter"] == "dc2" && x["HealthyServers"] == 0)
            .then_some(())
    });
    b.navigate(&format!("{base}/ui/dc2/services")).unwrap();
    let err = b.wait("dc2 error shown", UI, ERROR_TEXT);
    assert!(!err.as_str().unwrap().is_empty());
    b.wait(
        "switcher marks dc2 unreachable",
        UI,
        "[...document.querySelectorAll('#dc-switcher option')].some(o => o.value === 'dc2' && o.textContent.includes('unreachable'))",
    );
    b.screenshot("dc2-unreachable");
}
