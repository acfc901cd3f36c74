//! The public [`Pool`] handle: starts the pool task and sends it commands.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{Instrument, Span, warn};

use crate::broadcast::UserEvent;
use crate::config::PoolConfig;
use crate::envelope::Envelope;
use crate::error::GossipError;
use crate::hub::StreamHub;
use crate::identity::start_incarnation;
use crate::keyfile;
use crate::keyops::{KeyOp, KeyOpOutcome};
use crate::keyring::Keyring;
use crate::member::{Member, MemberEvent, MemberStatus};
use crate::outbox::Outbox;
use crate::probe::{MAX_PROBE_PAYLOAD, RttSample};
use crate::stats::{Counters, PoolStats};
use crate::stream::{BoxStream, Hello, Transport};
use crate::task::{Command, KeysView, Outputs, PoolTask, Settings, check_tags};
use crate::wire::{Inbound, Wire};

const COMMAND_QUEUE: usize = 64;
const EVENT_QUEUE: usize = 1024;
const RTT_QUEUE: usize = 256;
const USER_EVENT_QUEUE: usize = 256;

/// Handle to a running gossip pool (cheap to clone). The pool stops on [`Pool::shutdown`] or
/// when the last handle is dropped.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    local_addr: SocketAddr,
    advertise: SocketAddr,
    cmds: mpsc::Sender<Command>,
    events: broadcast::Sender<MemberEvent>,
    members: watch::Receiver<BTreeMap<String, Member>>,
    counters: Arc<Counters>,
    rtt: broadcast::Sender<RttSample>,
    keys: watch::Receiver<KeysView>,
    user_events: broadcast::Sender<UserEvent>,
    probe_payload: watch::Sender<Vec<u8>>,
    /// The stream connections (stream transport only).
    hub: Option<Arc<StreamHub>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// A pool's open transport.
struct Opened {
    wire: Wire,
    inbound: Inbound,
    local_addr: SocketAddr,
    advertise: SocketAddr,
    hub: Option<Arc<StreamHub>>,
}

/// Binds the UDP socket, or sets up the stream connections.
async fn open_transport(
    cfg: &PoolConfig,
    transport: Transport,
    counters: &Arc<Counters>,
    span: &Span,
) -> Result<Opened, GossipError> {
    match transport {
        Transport::Udp => {
            let bind_err = |source| GossipError::Bind {
                addr: cfg.bind,
                source,
            };
            let socket = Arc::new(UdpSocket::bind(cfg.bind).await.map_err(bind_err)?);
            let local_addr = socket.local_addr().map_err(bind_err)?;
            Ok(Opened {
                wire: Wire::Udp(socket.clone()),
                inbound: Inbound::Udp(socket),
                local_addr,
                advertise: resolve_advertise(cfg.advertise, local_addr)?,
                hub: None,
            })
        }
        Transport::Stream { pool_id, dialer } => {
            let advertise = cfg.advertise;
            if advertise.ip().is_unspecified() || advertise.port() == 0 {
                return Err(GossipError::InvalidConfig(format!(
                    "a stream pool needs a specific advertise address (ip:port), not {advertise}"
                )));
            }
            if pool_id.is_empty() {
                return Err(GossipError::InvalidConfig(
                    "stream pool id must not be empty".into(),
                ));
            }
            let (hub, received) =
                StreamHub::new(pool_id, advertise, dialer, counters.clone(), span)?;
            Ok(Opened {
                wire: Wire::Stream(hub.clone()),
                inbound: Inbound::Stream(received),
                local_addr: advertise,
                advertise,
                hub: Some(hub),
            })
        }
    }
}

/// Fills an unspecified advertise IP or port from the bound socket.
fn resolve_advertise(advertise: SocketAddr, local: SocketAddr) -> Result<SocketAddr, GossipError> {
    let ip = if advertise.ip().is_unspecified() {
        local.ip()
    } else {
        advertise.ip()
    };
    if ip.is_unspecified() {
        return Err(GossipError::InvalidConfig(format!(
            "advertise address {advertise} must have a specific IP when binding to {local}"
        )));
    }
    let port = if advertise.port() == 0 {
        local.port()
    } else {
        advertise.port()
    };
    Ok(SocketAddr::new(ip, port))
}

impl Pool {
    /// Binds the UDP socket and starts the pool task (alone until [`Pool::join`]).
    pub async fn start(cfg: PoolConfig) -> Result<Pool, GossipError> {
        Self::start_with(cfg, Transport::Udp).await
    }

    /// Starts the pool task on `transport`. With [`Transport::Stream`] no socket is bound
    /// (`cfg.bind` is ignored), `cfg.advertise` must be a specific `ip:port`, and streams
    /// accepted for this pool are handed over with [`Pool::accept_stream`].
    pub async fn start_with(cfg: PoolConfig, transport: Transport) -> Result<Pool, GossipError> {
        cfg.validate()?;
        check_tags(&cfg.tags)?;
        let keys = keyfile::initial_keys(cfg.encrypt_key, cfg.keyring_file.as_deref())?;
        let counters = Arc::new(Counters::default());
        let span = tracing::info_span!("gossip", node = %cfg.node_name, profile = ?cfg.profile);
        let Opened {
            wire,
            inbound,
            local_addr,
            advertise,
            hub,
        } = open_transport(&cfg, transport, &counters, &span).await?;
        let envelope = Envelope::new(Keyring::new(&keys));
        let timing = cfg.effective_timing();
        let (events, _) = broadcast::channel(EVENT_QUEUE);
        let (rtt, _) = broadcast::channel(RTT_QUEUE);
        let (user_events, _) = broadcast::channel(USER_EVENT_QUEUE);
        let (snapshot, members) = watch::channel(BTreeMap::new());
        let (keys_tx, keys_rx) = watch::channel((None, Vec::new()));
        let (probe_payload, probe_payload_rx) = watch::channel(Vec::new());
        let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_QUEUE);
        let settings = Settings {
            name: cfg.node_name.clone(),
            local_addr,
            advertise,
            profile: cfg.profile,
            timing,
            reconnect_timeout: cfg.reconnect_timeout,
            tombstone_timeout: cfg.tombstone_timeout,
            keyring_file: cfg.keyring_file,
            test_cut: cfg.test_cut,
        };
        let outputs = Outputs {
            events: events.clone(),
            snapshot,
            counters: counters.clone(),
            rtt: rtt.clone(),
            keys: keys_tx,
            user_events: user_events.clone(),
        };
        let task = PoolTask::new(
            settings,
            start_incarnation(),
            cfg.tags,
            envelope,
            probe_payload_rx,
            outputs,
        );
        let outbox = {
            let _entered = span.enter();
            Outbox::new(wire, counters.clone(), cfg.send_delay)
        };
        let handle = tokio::spawn(task.run(inbound, outbox, cmd_rx).instrument(span));
        Ok(Pool {
            inner: Arc::new(Inner {
                name: cfg.node_name,
                local_addr,
                advertise,
                cmds: cmd_tx,
                events,
                members,
                counters,
                rtt,
                keys: keys_rx,
                user_events,
                probe_payload,
                hub,
                task: Mutex::new(Some(handle)),
            }),
        })
    }

    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, GossipError>>) -> Command,
    ) -> Result<T, GossipError> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .cmds
            .send(make(tx))
            .await
            .map_err(|_| GossipError::Closed)?;
        rx.await.map_err(|_| GossipError::Closed)?
    }

    /// Announces to each address; `Ok(n)` = how many answered (seen alive) before `timeout`,
    /// `Err(JoinFailed)` if none did. The addresses are remembered and re-announced to while
    /// the pool has no alive peer (and every `seed_announce_interval` anyway), also after a
    /// failed join.
    pub async fn join(
        &self,
        addrs: &[SocketAddr],
        timeout: Duration,
    ) -> Result<usize, GossipError> {
        let addrs = addrs.to_vec();
        self.request(|reply| Command::Join {
            addrs,
            timeout,
            reply,
        })
        .await
    }

    /// All known members, the local one included, sorted by name.
    pub fn members(&self) -> Vec<Member> {
        self.inner.members.borrow().values().cloned().collect()
    }

    /// Replaces the local tags and broadcasts them.
    pub async fn set_tags(&self, tags: BTreeMap<String, String>) -> Result<(), GossipError> {
        check_tags(&tags)?;
        self.request(|reply| Command::SetTags { tags, reply }).await
    }

    /// Graceful leave: broadcasts the leave intent, then leaves, so the others see `left`.
    /// Returns when done or when `timeout` is over (the leave is completed either way).
    pub async fn leave(&self, timeout: Duration) -> Result<(), GossipError> {
        self.request(|reply| Command::Leave { timeout, reply })
            .await
    }

    /// Marks a failed member `left` here and tells the pool; unknown name -> `NoMember`.
    /// A member that is not failed is left alone.
    pub async fn force_leave(&self, name: &str, prune: bool) -> Result<(), GossipError> {
        let name = name.to_owned();
        self.request(|reply| Command::ForceLeave { name, prune, reply })
            .await
    }

    /// Runs a keyring operation on every alive member (Consul's `keyring` command, serf's
    /// KeyManager): applied here first, then sent to each alive member and retransmitted to
    /// those that have not answered until `timeout`. Errors of single members, and members
    /// that did not answer (`no response`), are in [`KeyOpOutcome::messages`]; `Err` only when
    /// the operation cannot run here (no keyring: `Keyring is empty (encryption not enabled)`
    /// or `No keyring to modify (encryption not enabled)`; left; shut down).
    pub async fn key_op(&self, op: KeyOp, timeout: Duration) -> Result<KeyOpOutcome, GossipError> {
        self.request(|reply| Command::KeyOp { op, timeout, reply })
            .await
    }

    /// The local keyring: the primary key and every installed key (primary first);
    /// `(None, [])` without encryption.
    pub fn keys(&self) -> (Option<[u8; 32]>, Vec<[u8; 32]>) {
        self.inner.keys.borrow().clone()
    }

    /// Sends a user event to every member of the pool (this one included); returns its
    /// Lamport time. The body is opaque to the pool, at most [`crate::MAX_EVENT_BYTES`].
    pub async fn user_event(&self, id: String, body: Vec<u8>) -> Result<u64, GossipError> {
        self.request(|reply| Command::UserEvent { id, body, reply })
            .await
    }

    /// User events as they arrive, each once (a slow receiver may see `Lagged`).
    pub fn subscribe_user_events(&self) -> broadcast::Receiver<UserEvent> {
        self.inner.user_events.subscribe()
    }

    /// What this member sends in its RTT pings and acks (e.g. its network coordinate), at most
    /// 256 bytes; a larger payload is refused (logged, the previous one stays).
    pub fn set_probe_payload(&self, payload: Vec<u8>) {
        if payload.len() > MAX_PROBE_PAYLOAD {
            warn!(
                len = payload.len(),
                max = MAX_PROBE_PAYLOAD,
                "probe payload too large; ignored"
            );
            return;
        }
        self.inner.probe_payload.send_replace(payload);
    }

    /// RTT samples from now on: one per probe period, to a member chosen round robin (a slow
    /// receiver may see `Lagged`).
    pub fn subscribe_rtt(&self) -> broadcast::Receiver<RttSample> {
        self.inner.rtt.subscribe()
    }

    /// How many members are alive, the local one included (cheap: no copy of the list).
    pub fn alive_count(&self) -> usize {
        self.inner
            .members
            .borrow()
            .values()
            .filter(|m| m.status == MemberStatus::Alive)
            .count()
    }

    /// Membership events from now on (a slow receiver may see `Lagged`).
    pub fn subscribe(&self) -> broadcast::Receiver<MemberEvent> {
        self.inner.events.subscribe()
    }

    /// Stops the pool without leaving (the others will see it `failed`); returns once the
    /// socket, or every stream connection, is closed.
    pub async fn shutdown(&self) {
        let _ = self.inner.cmds.send(Command::Shutdown).await;
        let handle = self
            .inner
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle
            && let Err(error) = handle.await
        {
            warn!(%error, "gossip pool task ended abnormally");
        }
    }

    /// Gives the pool a stream accepted by the listener, after [`crate::read_hello`] read its
    /// `hello`: its datagrams are handled as if they came from `hello.from`. The stream is
    /// closed at once if this pool uses UDP, is stopped, or is not `hello.pool_id`. Call it
    /// within the tokio runtime.
    pub fn accept_stream(&self, hello: Hello, stream: BoxStream) {
        match &self.inner.hub {
            Some(hub) => hub.accept(hello, stream),
            None => warn!(
                from = %hello.from,
                pool = %hello.pool_id,
                "gossip stream for a UDP pool; closed"
            ),
        }
    }

    /// The bound socket address (stream transport: the advertised address).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// The address announced to the other members.
    pub fn advertise_addr(&self) -> SocketAddr {
        self.inner.advertise
    }

    /// This member's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Traffic counters.
    pub fn stats(&self) -> PoolStats {
        self.inner.counters.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertise_is_completed_from_the_socket() {
        let local: SocketAddr = "127.0.0.1:4567".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:0".parse().unwrap();
        assert_eq!(resolve_advertise(any, local).unwrap(), local);
        let adv: SocketAddr = "10.0.0.1:8301".parse().unwrap();
        assert_eq!(resolve_advertise(adv, local).unwrap(), adv);
        let wildcard_local: SocketAddr = "0.0.0.0:4567".parse().unwrap();
        assert!(resolve_advertise(any, wildcard_local).is_err());
        let ip_only: SocketAddr = "10.0.0.1:0".parse().unwrap();
        assert_eq!(
            resolve_advertise(ip_only, wildcard_local).unwrap(),
            "10.0.0.1:4567".parse::<SocketAddr>().unwrap()
        );
    }
}
