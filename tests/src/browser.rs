//! A real browser for the UI tests: Debian's headless Chromium, driven over the DevTools
//! protocol (CDP) on a loopback WebSocket. Host names never resolve in it (only the test's
//! loopback addresses are reachable) and its background services are off, so it sends no
//! traffic anywhere else.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// What went wrong talking to the browser.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error("chromium: {0}")]
    Start(String),
    #[error("devtools connection: {0}")]
    Socket(#[from] tungstenite::Error),
    #[error("devtools {method}: {message}")]
    Protocol { method: String, message: String },
    #[error("page script threw: {0}")]
    Script(String),
    #[error("no answer to {0} in time")]
    Timeout(String),
}

/// The Chromium binary: `$PRAETOR_CHROMIUM`, else the first of Debian's names on `PATH`.
pub fn chromium_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PRAETOR_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

/// One headless Chromium with one page attached.
pub struct Browser {
    child: Child,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    /// The page last asked for, and how often it was loaded again after a network change.
    last_url: String,
    reloads: u32,
    /// Where screenshots go.
    pub artifacts: PathBuf,
}

/// How often one navigation is repeated when Chromium drops it for a network change.
const MAX_RELOADS: u32 = 3;

impl Browser {
    /// Starts Chromium with a profile in `profile_dir` and a 1280×800 page.
    pub fn start(profile_dir: &Path, artifacts: &Path) -> Result<Browser, BrowserError> {
        let bin = chromium_bin().ok_or_else(|| {
            BrowserError::Start("not installed (tests/run.sh installs it)".into())
        })?;
        std::fs::create_dir_all(artifacts).map_err(|e| BrowserError::Start(e.to_string()))?;
        let log = std::fs::File::create(profile_dir.join("chromium.log"))
            .map_err(|e| BrowserError::Start(e.to_string()))?;
        let child = Command::new(bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-default-apps",
                "--disable-features=Translate,OptimizationHints,MediaRouter",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.*",
                "--window-size=1280,800",
            ])
            .arg(format!("--user-data-dir={}", profile_dir.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| BrowserError::Start(e.to_string()))?;
        // Chromium writes the port it chose, then the browser's WebSocket path.
        let port_file = profile_dir.join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                let mut lines = text.lines();
                if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                    break format!("ws://127.0.0.1:{port}{path}");
                }
            }
            if Instant::now() > deadline {
                return Err(BrowserError::Start(format!(
                    "no DevToolsActivePort after 30 s; log: {}",
                    std::fs::read_to_string(profile_dir.join("chromium.log")).unwrap_or_default()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let (ws, _) = tungstenite::connect(url.as_str())?;
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .map_err(|e| BrowserError::Start(e.to_string()))?;
        }
        let mut b = Browser {
            child,
            ws,
            session: String::new(),
            next_id: 0,
            last_url: String::new(),
            reloads: 0,
            artifacts: artifacts.to_path_buf(),
        };
        let target = b.browser_call("Target.createTarget", json!({"url": "about:blank"}))?;
        let target_id = target["targetId"].as_str().unwrap_or_default().to_string();
        let attached = b.browser_call(
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        )?;
        b.session = attached["sessionId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": false}),
        )?;
        Ok(b)
    }

    fn browser_call(&mut self, method: &str, params: Value) -> Result<Value, BrowserError> {
        self.send(method, params, None)
    }

    /// A CDP command to the page; its `result`.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, BrowserError> {
        let session = self.session.clone();
        self.send(method, params, Some(&session))
    }

    fn send(
        &mut self,
        method: &str,
        params: Value,
        session: Option<&str>,
    ) -> Result<Value, BrowserError> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.ws.send(Message::text(msg.to_string()))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if Instant::now() > deadline {
                return Err(BrowserError::Timeout(method.into()));
            }
            let frame = match self.ws.read() {
                Ok(f) => f,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let Message::Text(text) = frame else { continue };
            let Ok(v) = serde_json::from_str::<Value>(text.as_str()) else {
                continue;
            };
            // Events (no id) and answers to other commands are not ours.
            if v["id"].as_u64() != Some(id) {
                continue;
            }
            if let Some(err) = v.get("error") {
                return Err(BrowserError::Protocol {
                    method: method.into(),
                    message: err["message"].as_str().unwrap_or_default().to_string(),
                });
            }
            return Ok(v["result"].clone());
        }
    }

    /// Loads `url` in the page.
    pub fn navigate(&mut self, url: &str) -> Result<(), BrowserError> {
        self.last_url = url.to_string();
        self.reloads = 0;
        self.call("Page.navigate", json!({"url": url}))?;
        Ok(())
    }

    /// Chromium aborts a load with `ERR_NETWORK_CHANGED` when an interface appears or goes
    /// (another suite making network namespaces on this machine): the same page is loaded
    /// again, a bounded number of times.
    fn reload_after_network_change(&mut self) {
        let href = self.eval("location.href").unwrap_or_default();
        if href
            .as_str()
            .is_some_and(|h| h.starts_with("chrome-error://"))
            && self.reloads < MAX_RELOADS
            && !self.last_url.is_empty()
        {
            self.reloads += 1;
            let url = self.last_url.clone();
            let _ = self.call("Page.navigate", json!({"url": url}));
        }
    }

    /// Evaluates `js` in the page (promises awaited); its value as JSON.
    pub fn eval(&mut self, js: &str) -> Result<Value, BrowserError> {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": js, "returnByValue": true, "awaitPromise": true}),
        )?;
        if let Some(ex) = r.get("exceptionDetails") {
            let text = ex["exception"]["description"]
                .as_str()
                .or(ex["text"].as_str())
                .unwrap_or("exception");
            return Err(BrowserError::Script(text.to_string()));
        }
        Ok(r["result"]["value"].clone())
    }

    /// Polls `js` until it returns something truthy (not null, false, 0 or ""), then returns
    /// it. On timeout: a screenshot and the page's text in the panic message.
    pub fn wait(&mut self, what: &str, deadline: Duration, js: &str) -> Value {
        let start = Instant::now();
        loop {
            let v = self.eval(js);
            if let Ok(v) = &v
                && truthy(v)
            {
                return v.clone();
            }
            self.reload_after_network_change();
            if start.elapsed() > deadline {
                let shot = self.screenshot(&format!("timeout-{}", slug(what)));
                let text = self
                    .eval("document.body ? document.body.innerText : ''")
                    .unwrap_or_default();
                // The page's last requests: what it waited on, and how long each took.
                let requests = self
                    .eval(
                        "performance.getEntriesByType('resource').slice(-15).map(e => \
                         `${Math.round(e.startTime)}ms +${Math.round(e.duration)}ms \
                         ${e.responseStatus || ''} ${e.name}`).join('\\n')",
                    )
                    .unwrap_or_default();
                panic!(
                    "timed out after {deadline:?} waiting for {what} (last: {v:?}); url {}; \
                     screenshot {shot:?}; last requests:\n{}\npage text:\n{}",
                    self.eval("location.href").unwrap_or_default(),
                    requests.as_str().unwrap_or_default(),
                    text.as_str().unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Clicks the element `selector` names (it must exist).
    pub fn click(&mut self, selector: &str) -> Result<(), BrowserError> {
        self.eval(&format!(
            "(() => {{ const e = document.querySelector({s}); \
               if (!e) throw new Error('no element ' + {s}); e.click(); return true; }})()",
            s = json!(selector)
        ))?;
        Ok(())
    }

    /// Sets the value of the input or select `selector` names as typing would (input and
    /// change events).
    pub fn fill(&mut self, selector: &str, value: &str) -> Result<(), BrowserError> {
        self.eval(&format!(
            "(() => {{ const e = document.querySelector({s}); \
               if (!e) throw new Error('no element ' + {s}); e.focus(); e.value = {v}; \
               e.dispatchEvent(new Event('input', {{bubbles: true}})); \
               e.dispatchEvent(new Event('change', {{bubbles: true}})); return true; }})()",
            s = json!(selector),
            v = json!(value)
        ))?;
        Ok(())
    }

    /// Puts `file` into the `<input type=file>` that `selector` names.
    pub fn set_file(&mut self, selector: &str, file: &Path) -> Result<(), BrowserError> {
        let doc = self.call("DOM.getDocument", json!({"depth": 0}))?;
        let node = self.call(
            "DOM.querySelector",
            json!({"nodeId": doc["root"]["nodeId"], "selector": selector}),
        )?;
        self.call(
            "DOM.setFileInputFiles",
            json!({"files": [file.display().to_string()], "nodeId": node["nodeId"]}),
        )?;
        Ok(())
    }

    /// Saves a PNG of the page as `<artifacts>/<name>.png`.
    pub fn screenshot(&mut self, name: &str) -> Option<PathBuf> {
        let r = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .ok()?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str()?)
            .ok()?;
        let path = self.artifacts.join(format!("{name}.png"));
        std::fs::write(&path, png).ok()?;
        Some(path)
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.ws.close(None);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
