//! `/v1/agent/monitor`: a tracing layer that copies the agent's log events, formatted as
//! Consul's log lines, to whoever is streaming them, and the endpoint that streams them.
//! Nothing is formatted while nobody listens. The layer is installed by the binary next to
//! its own output layer (the tap is process-wide, as the log is).

use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::OnceLock;

use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Lines buffered per listener before the slowest loses some (Consul keeps 512).
const BUFFER: usize = 512;

/// One formatted log line and its level.
#[derive(Clone, Debug)]
pub struct LogLine {
    pub level: Level,
    /// `2025-01-02T15:04:05.000Z [INFO]  agent.rpc: message: key=value`
    pub text: String,
    /// The same event as Consul's JSON log line (`-log-json`).
    pub json: String,
}

fn tap() -> &'static broadcast::Sender<LogLine> {
    static TAP: OnceLock<broadcast::Sender<LogLine>> = OnceLock::new();
    TAP.get_or_init(|| broadcast::channel(BUFFER).0)
}

/// Log lines from now on (see [`layer`]).
pub fn subscribe() -> broadcast::Receiver<LogLine> {
    tap().subscribe()
}

/// The layer that feeds [`subscribe`].
pub fn layer() -> MonitorLayer {
    MonitorLayer
}

/// Consul's `-log-level` names (`TRACE DEBUG INFO WARN ERR ERROR`, any case); `None` for
/// anything else (`Unknown log level: <as given>`).
pub fn parse_level(s: &str) -> Option<Level> {
    match s.to_ascii_uppercase().as_str() {
        "TRACE" => Some(Level::TRACE),
        "DEBUG" => Some(Level::DEBUG),
        "INFO" => Some(Level::INFO),
        "WARN" => Some(Level::WARN),
        "ERR" | "ERROR" => Some(Level::ERROR),
        _ => None,
    }
}

/// See [`layer`].
pub struct MonitorLayer;

#[derive(Default)]
struct Fields {
    message: String,
    pairs: Vec<(String, String)>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.pairs
                .push((field.name().to_string(), format!("{value:?}")));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.pairs
                .push((field.name().to_string(), value.to_string()));
        }
    }
}

/// hclog's level labels, padded to five characters plus a space.
fn label(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "[TRACE] ",
        Level::DEBUG => "[DEBUG] ",
        Level::INFO => "[INFO]  ",
        Level::WARN => "[WARN]  ",
        Level::ERROR => "[ERROR] ",
    }
}

fn timestamp() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

/// `praetor_agent::leader` reads as `agent.leader`, as Consul's named loggers do.
fn module(target: &str) -> String {
    target.trim_start_matches("praetor_").replace("::", ".")
}

fn format(event: &Event<'_>) -> LogLine {
    let mut fields = Fields::default();
    event.record(&mut fields);
    let meta = event.metadata();
    let ts = timestamp();
    let module = module(meta.target());
    let mut text = format!("{ts} {}{module}: {}", label(meta.level()), fields.message);
    if !fields.pairs.is_empty() {
        text.push(':');
        for (k, v) in &fields.pairs {
            let _ = write!(text, " {k}={v}");
        }
    }
    let mut json = serde_json::Map::new();
    json.insert(
        "@level".into(),
        meta.level().as_str().to_ascii_lowercase().into(),
    );
    json.insert("@message".into(), fields.message.into());
    json.insert("@module".into(), module.into());
    json.insert("@timestamp".into(), ts.into());
    for (k, v) in fields.pairs {
        json.insert(k, v.into());
    }
    LogLine {
        level: *meta.level(),
        text,
        json: serde_json::Value::Object(json).to_string(),
    }
}

impl<S: Subscriber> Layer<S> for MonitorLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let tx = tap();
        if tx.receiver_count() > 0 {
            let _ = tx.send(format(event));
        }
    }
}

/// `GET /v1/agent/monitor[?loglevel=INFO][&logjson]`: log lines at `loglevel` or more
/// severe, as they happen, until the client goes away. A listener that falls more than
/// 512 lines behind loses the oldest (Consul drops them too).
pub async fn monitor(
    axum::extract::State(st): axum::extract::State<crate::AppState>,
    p: crate::params::Params,
) -> crate::error::ApiResult<Response> {
    let node = st.agent.node_name();
    st.rpc
        .identity(&p)
        .await?
        .enforcer()
        .agent_read_allowed(&node)?;
    let level = match p.get("loglevel") {
        None | Some("") => Level::INFO,
        Some(l) => parse_level(l)
            .ok_or_else(|| crate::error::ApiError::BadRequest(format!("Unknown log level: {l}")))?,
    };
    let json = p.has("logjson");
    let stream = futures::stream::unfold(subscribe(), move |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(line) if line.level <= level => {
                    let mut text = if json { line.json } else { line.text };
                    text.push('\n');
                    return Some((Ok::<_, Infallible>(Bytes::from(text)), rx));
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        Body::from_stream(stream),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[test]
    fn levels_are_consuls() {
        assert_eq!(parse_level("err"), Some(Level::ERROR));
        assert_eq!(parse_level("Debug"), Some(Level::DEBUG));
        assert_eq!(parse_level("verbose"), None);
    }

    #[test]
    fn events_become_consul_lines_only_while_someone_listens() {
        let subscriber = tracing_subscriber::registry().with(layer());
        let mut rx = subscribe();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "praetor_agent::leader", node = "n1", "member joined");
        });
        let line = rx.try_recv().expect("one line");
        assert_eq!(line.level, Level::INFO);
        assert!(
            line.text
                .ends_with(" [INFO]  agent.leader: member joined: node=n1"),
            "{}",
            line.text
        );
        let json: serde_json::Value = serde_json::from_str(&line.json).unwrap();
        assert_eq!(json["@level"], "info");
        assert_eq!(json["node"], "n1");
    }
}
