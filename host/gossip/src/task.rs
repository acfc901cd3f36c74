//! The pool task: one tokio task per pool owns the socket's traffic, the `Foca` instance, its
//! timers, the member table, the keyring, RTT probes and keyring queries; the [`crate::Pool`]
//! handle talks to it through commands.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use foca::{AccumulatingRuntime, Foca, OwnedNotification, PostcardCodec, State, Timer};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior, sleep_until};
use tracing::{debug, info, warn};

use crate::broadcast::{Handler, Item, LeaveItem, Shared, TagsItem, UserEvent, lock};
use crate::config::{Profile, Timing, foca_config};
use crate::envelope::{Envelope, FOCA_MAX_PACKET, Kind};
use crate::error::GossipError;
use crate::identity::NodeId;
use crate::keyfile;
use crate::keyops::{self, KeyOp, KeyOpOutcome, KeyOps, KeyQuery, KeyReply};
use crate::keyring::Key;
use crate::member::{Member, MemberEvent, MemberStatus};
use crate::outbox::Outbox;
use crate::probe::{ProbeMsg, Prober, RttSample};
use crate::stats::Counters;
use crate::sync::{self as state_sync, ReplyBudget, SyncMsg};
use crate::table::{NotFound, Table};
use crate::timers::{TimerQueue, later};
use crate::wire::Inbound;

/// Largest encoded tags (memberlist's MetaMaxSize).
pub(crate) const MAX_TAGS_BYTES: usize = 512;
/// Largest user-event body (serf's `UserEventSizeLimit` default; Consul's events fit in it).
pub const MAX_EVENT_BYTES: usize = 512;
/// Receive buffer: any UDP datagram fits, oversized ones are then rejected by foca.
const RECV_BUF: usize = 65_536;
/// How long a graceful leave waits at most for its intent to spread before leaving.
const MAX_INTENT_WAIT: Duration = Duration::from_secs(5);
/// Gossip rounds after `leave_cluster` before `leave` returns.
const LEAVE_PROPAGATE_ROUNDS: u8 = 2;
/// How often failed/left members are checked for reaping.
const REAP_INTERVAL: Duration = Duration::from_secs(1);

type Reply<T> = oneshot::Sender<Result<T, GossipError>>;

/// A membership change foca notified.
enum Change {
    Up(NodeId),
    Down(NodeId),
    Rename(NodeId, NodeId),
}
type Swim = Foca<NodeId, PostcardCodec, StdRng, Handler>;

/// Requests from the [`crate::Pool`] handle.
pub(crate) enum Command {
    Join {
        addrs: Vec<SocketAddr>,
        timeout: Duration,
        reply: Reply<usize>,
    },
    SetTags {
        tags: BTreeMap<String, String>,
        reply: Reply<()>,
    },
    Leave {
        timeout: Duration,
        reply: Reply<()>,
    },
    ForceLeave {
        name: String,
        prune: bool,
        reply: Reply<()>,
    },
    KeyOp {
        op: KeyOp,
        timeout: Duration,
        reply: Reply<KeyOpOutcome>,
    },
    /// Sends a user event to every member (and delivers it here); replies its Lamport time.
    UserEvent {
        id: String,
        body: Vec<u8>,
        reply: Reply<u64>,
    },
    Shutdown,
}

/// The local keyring as the handle shows it: primary, all installed keys.
pub(crate) type KeysView = (Option<Key>, Vec<Key>);

/// Fixed settings of a running pool.
pub(crate) struct Settings {
    pub name: String,
    pub local_addr: SocketAddr,
    pub advertise: SocketAddr,
    pub profile: Profile,
    pub timing: Timing,
    pub reconnect_timeout: Duration,
    pub tombstone_timeout: Duration,
    pub keyring_file: Option<PathBuf>,
    pub test_cut: Option<Arc<AtomicBool>>,
}

impl Settings {
    /// foca forgets down members after the longer of our own retention times.
    fn forget_down_after(&self) -> Duration {
        self.reconnect_timeout.max(self.tombstone_timeout)
    }
}

/// Channels the task publishes on.
pub(crate) struct Outputs {
    pub events: broadcast::Sender<MemberEvent>,
    /// Every known member by name, the local one included.
    pub snapshot: watch::Sender<BTreeMap<String, Member>>,
    pub counters: Arc<Counters>,
    pub rtt: broadcast::Sender<RttSample>,
    pub keys: watch::Sender<KeysView>,
    /// User events, delivered once each (local ones included).
    pub user_events: broadcast::Sender<UserEvent>,
}

struct PendingJoin {
    targets: Vec<SocketAddr>,
    answered: HashSet<SocketAddr>,
    timeout: Duration,
    deadline: Instant,
    next_retry: Instant,
    reply: Reply<usize>,
}

enum LeavePhase {
    /// The leave intent is being spread; `leave_cluster` comes at `leave_at` or when drained.
    Intent { leave_at: Instant },
    /// `leave_cluster` done; a few more gossip rounds before answering.
    Propagate { rounds_left: u8 },
}

struct Leaving {
    phase: LeavePhase,
    deadline: Instant,
    replies: Vec<Reply<()>>,
}

pub(crate) struct PoolTask {
    s: Settings,
    foca: Swim,
    rt: AccumulatingRuntime<NodeId>,
    timers: TimerQueue<Timer<NodeId>>,
    shared: Arc<Mutex<Shared>>,
    table: Table,
    own_tags: BTreeMap<String, String>,
    tags_version: u64,
    own_status: MemberStatus,
    cluster_size: usize,
    seeds: Vec<SocketAddr>,
    joins: Vec<PendingJoin>,
    leaving: Option<Leaving>,
    /// `leave_cluster` was called: foca is not fed any more, so nothing can make it rejoin.
    departed: bool,
    next_tags_at: Instant,
    next_rejoin_at: Instant,
    next_seed_announce_at: Instant,
    next_reap_at: Instant,
    next_push_pull_at: Instant,
    next_reconnect_at: Instant,
    sync_budget: ReplyBudget,
    out: Outputs,
    envelope: Envelope,
    send_buf: Vec<u8>,
    recv_plain: Vec<u8>,
    /// Datagrams other than foca's, sent on the next flush: `(to, kind, body)`.
    extra_out: Vec<(SocketAddr, Kind, Vec<u8>)>,
    prober: Prober,
    probe_payload: watch::Receiver<Vec<u8>>,
    keyops: KeyOps,
    /// serf's event Lamport clock: the next user event's time.
    event_clock: u64,
    dirty: bool,
}

/// Encoded size of a tag map, checked against [`MAX_TAGS_BYTES`].
pub(crate) fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), GossipError> {
    let size = postcard::to_allocvec(tags)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_TAGS_BYTES {
        return Err(GossipError::TagsTooLarge {
            size,
            max: MAX_TAGS_BYTES,
        });
    }
    Ok(())
}

impl PoolTask {
    pub fn new(
        s: Settings,
        incarnation: u64,
        tags: BTreeMap<String, String>,
        envelope: Envelope,
        probe_payload: watch::Receiver<Vec<u8>>,
        out: Outputs,
    ) -> Self {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let id = NodeId::new(s.name.clone(), s.advertise, incarnation);
        let config = foca_config(s.profile, &s.timing, 1, s.forget_down_after());
        let rng: StdRng = rand::make_rng();
        let handler = Handler::new(s.name.clone(), shared.clone());
        let foca = Foca::with_custom_broadcast(id, config, rng, PostcardCodec, handler);
        let now = Instant::now();
        let mut task = Self {
            table: Table::new(s.name.clone()),
            foca,
            rt: AccumulatingRuntime::new(),
            timers: TimerQueue::new(),
            shared,
            own_tags: tags,
            // Start-time based, so a restarted member's tags beat its previous life's.
            tags_version: incarnation.saturating_mul(1000),
            own_status: MemberStatus::Alive,
            cluster_size: 1,
            seeds: Vec::new(),
            joins: Vec::new(),
            leaving: None,
            departed: false,
            next_tags_at: later(now, s.timing.tags_interval),
            next_rejoin_at: later(now, s.timing.rejoin_interval),
            next_seed_announce_at: later(now, s.timing.seed_announce_interval),
            next_reap_at: later(now, REAP_INTERVAL),
            // Staggered like memberlist's timers, so pools started together do not sync together.
            next_push_pull_at: later(
                now,
                s.timing
                    .push_pull_interval
                    .mul_f64(rand::random_range(0.0..1.0)),
            ),
            next_reconnect_at: later(now, s.timing.reconnect_interval),
            sync_budget: ReplyBudget::new(now),
            out,
            envelope,
            send_buf: Vec::new(),
            recv_plain: Vec::new(),
            extra_out: Vec::new(),
            prober: Prober::default(),
            probe_payload,
            keyops: KeyOps::default(),
            event_clock: 0,
            dirty: true,
            s,
        };
        task.advertise_tags();
        task.publish_keys();
        task
    }

    /// Runs until `Shutdown` or until every [`crate::Pool`] handle is dropped.
    pub async fn run(
        mut self,
        mut inbound: Inbound,
        outbox: Outbox,
        mut cmds: mpsc::Receiver<Command>,
    ) {
        let mut buf = vec![0u8; RECV_BUF];
        let mut tick = tokio::time::interval(self.s.timing.tick());
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let probe_period = self.s.timing.probe_period;
        let mut probe_tick = tokio::time::interval_at(Instant::now() + probe_period, probe_period);
        probe_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        info!(
            advertise = %self.s.advertise,
            bind = %self.s.local_addr,
            encrypted = self.envelope.keyring().is_some(),
            "gossip pool started"
        );
        self.publish();
        loop {
            let next_timer = self.timers.next_deadline();
            let next_key_timer = self.keyops.next_deadline();
            tokio::select! {
                cmd = cmds.recv() => match cmd {
                    None | Some(Command::Shutdown) => break,
                    Some(cmd) => self.handle_command(cmd),
                },
                received = inbound.recv(&mut buf) => match received {
                    Ok((len, src)) => self.handle_datagram(&buf[..len], src),
                    Err(error) => debug!(%error, "gossip receive failed"),
                },
                () = sleep_until(next_timer.unwrap_or_else(Instant::now)), if next_timer.is_some() => {
                    self.fire_timers();
                }
                () = sleep_until(next_key_timer.unwrap_or_else(Instant::now)), if next_key_timer.is_some() => {
                    self.key_timer(Instant::now());
                }
                _ = tick.tick() => self.housekeeping(Instant::now()),
                _ = probe_tick.tick() => self.probe(Instant::now()),
            }
            self.flush(&outbox).await;
        }
        outbox.close().await;
        info!("gossip pool stopped");
    }

    fn handle_command(&mut self, cmd: Command) {
        let now = Instant::now();
        match cmd {
            Command::Join {
                addrs,
                timeout,
                reply,
            } => self.start_join(addrs, timeout, reply, now),
            Command::SetTags { tags, reply } => {
                let result = self.set_tags(tags);
                self.publish_if_dirty();
                let _ = reply.send(result);
            }
            Command::Leave { timeout, reply } => self.start_leave(timeout, reply, now),
            Command::ForceLeave { name, prune, reply } => {
                let result = self.force_leave(&name, prune, now);
                self.publish_if_dirty();
                let _ = reply.send(result);
            }
            Command::KeyOp { op, timeout, reply } => self.start_key_op(op, timeout, reply, now),
            Command::UserEvent { id, body, reply } => {
                let _ = reply.send(self.user_event(id, body));
            }
            Command::Shutdown => {}
        }
    }

    fn handle_datagram(&mut self, data: &[u8], src: SocketAddr) {
        if self
            .s
            .test_cut
            .as_ref()
            .is_some_and(|cut| cut.load(Ordering::Relaxed))
        {
            return;
        }
        self.out.counters.received(data.len());
        let mut plain = std::mem::take(&mut self.recv_plain);
        match self.envelope.open(data, &mut plain) {
            Ok(_) if self.departed => {}
            Ok(kind) => {
                if let Err(error) = self.dispatch(kind, &plain, src) {
                    self.out.counters.malformed();
                    debug!(%src, ?kind, %error, "rejected datagram");
                }
            }
            Err(reason) => {
                if reason.is_decrypt_failure() {
                    self.out.counters.decrypt_failure();
                } else {
                    self.out.counters.malformed();
                }
                debug!(%src, ?reason, "dropped datagram");
            }
        }
        self.recv_plain = plain;
    }

    /// Handles an opened datagram; an error means it was malformed.
    fn dispatch(&mut self, kind: Kind, payload: &[u8], src: SocketAddr) -> Result<(), String> {
        match kind {
            Kind::Foca => {
                self.foca
                    .handle_data(payload, &mut self.rt)
                    .map_err(|e| e.to_string())?;
                for join in &mut self.joins {
                    if join.targets.contains(&src) {
                        join.answered.insert(src);
                    }
                }
            }
            Kind::Ping => {
                let ping = ProbeMsg::decode(payload).map_err(|e| e.to_string())?;
                let ack = ProbeMsg {
                    seq: ping.seq,
                    payload: self.probe_payload.borrow().clone(),
                };
                self.queue(src, Kind::Ack, ack.encode().map_err(|e| e.to_string())?);
            }
            Kind::Ack => {
                let ack = ProbeMsg::decode(payload).map_err(|e| e.to_string())?;
                if let Some(sample) = self.prober.on_ack(ack, Instant::now()) {
                    // No subscriber is fine.
                    let _ = self.out.rtt.send(sample);
                }
            }
            Kind::KeyQuery => {
                let query: KeyQuery = keyops::decode(payload).map_err(|e| e.to_string())?;
                self.answer_key_query(query, src);
            }
            Kind::KeyReply => {
                let reply: KeyReply = keyops::decode(payload).map_err(|e| e.to_string())?;
                self.keyops.on_reply(reply);
            }
            Kind::Sync => {
                let msg = SyncMsg::decode(payload).map_err(|e| e.to_string())?;
                if msg.want_reply {
                    if self.sync_budget.take(Instant::now()) {
                        self.push_state(src, false);
                    } else {
                        debug!(%src, "state sync request over budget; not answered");
                    }
                }
                let (members, tags) = msg.into_parts();
                // Members we already know alive with this very identity are skipped: foca
                // looks members up linearly, so applying a whole view is O(n²).
                let table = &self.table;
                let news: Vec<_> = members.filter(|m| !table.is_alive_as(m.id())).collect();
                self.foca
                    .apply_many(news.into_iter(), false, &mut self.rt)
                    .map_err(|e| e.to_string())?;
                // Straight into the table: the broadcast handler does not count them as seen,
                // so the same tags arriving as a broadcast are still relayed as before.
                let now = Instant::now();
                for t in tags {
                    if t.name == self.s.name {
                        continue;
                    }
                    if let Some(event) = self.table.apply(Item::Tags(t), now) {
                        self.emit(event);
                    }
                    self.dirty = true;
                }
            }
        }
        Ok(())
    }

    /// Sends our view of the active members and their tags (push-pull); `want_reply` asks
    /// for theirs.
    fn push_state(&mut self, to: SocketAddr, want_reply: bool) {
        let chunks = state_sync::chunks(
            self.foca.identity(),
            self.foca.iter_membership_state(),
            std::iter::once(self.own_tags_item()).chain(self.table.tags_items()),
            want_reply,
            FOCA_MAX_PACKET.get(),
        );
        for chunk in chunks {
            self.queue(to, Kind::Sync, chunk);
        }
    }

    /// Queues a non-foca datagram for the next flush.
    fn queue(&mut self, to: SocketAddr, kind: Kind, body: Vec<u8>) {
        self.extra_out.push((to, kind, body));
    }

    /// Sends an RTT probe to the next alive member.
    fn probe(&mut self, now: Instant) {
        if self.own_status != MemberStatus::Alive || self.departed {
            return;
        }
        let table = &self.table;
        let next = self.prober.next_ping(
            |name| table.alive_addr(name),
            || {
                table
                    .alive_addrs()
                    .map(|(name, _)| name.to_owned())
                    .collect()
            },
            now,
        );
        let Some((to, seq)) = next else {
            return;
        };
        let ping = ProbeMsg {
            seq,
            payload: self.probe_payload.borrow().clone(),
        };
        match ping.encode() {
            Ok(body) => self.queue(to, Kind::Ping, body),
            Err(error) => debug!(%error, "could not encode ping"),
        }
    }

    fn start_key_op(
        &mut self,
        op: KeyOp,
        timeout: Duration,
        reply: Reply<KeyOpOutcome>,
        now: Instant,
    ) {
        if self.own_status != MemberStatus::Alive {
            let _ = reply.send(Err(GossipError::Left));
            return;
        }
        if self.envelope.keyring().is_none() {
            let _ = reply.send(Err(GossipError::Keyring(op.disabled_message().into())));
            return;
        }
        let id: u64 = rand::random();
        let result = self.apply_key_op(op);
        let local = KeyReply::new(id, &self.s.name, result, self.envelope.keyring());
        let targets: BTreeMap<String, SocketAddr> = self
            .table
            .alive_addrs()
            .map(|(name, addr)| (name.to_owned(), addr))
            .collect();
        info!(op = op.verb(), id, members = targets.len(), "keyring query");
        let mut out = Vec::new();
        let query = KeyQuery { id, op };
        self.keyops
            .start(&query, &local, targets, timeout, reply, now, &mut out);
        for (to, body) in out {
            self.queue(to, Kind::KeyQuery, body);
        }
    }

    fn answer_key_query(&mut self, query: KeyQuery, src: SocketAddr) {
        let result = match self.keyops.answered(query.id) {
            Some(result) => result,
            None => {
                let result = self.apply_key_op(query.op);
                self.keyops
                    .remember(query.id, result.clone(), Instant::now());
                result
            }
        };
        let reply = KeyReply::new(query.id, &self.s.name, result, self.envelope.keyring());
        match keyops::encode(&reply) {
            Ok(body) => self.queue(src, Kind::KeyReply, body),
            Err(error) => debug!(%error, "could not encode key reply"),
        }
    }

    /// Applies a keyring operation here; on a change, publishes the keys and rewrites the
    /// keyring file.
    fn apply_key_op(&mut self, op: KeyOp) -> Result<(), String> {
        let changed = op.apply(self.envelope.keyring_mut());
        match &changed {
            Ok(true) => info!(op = op.verb(), "keyring changed"),
            Ok(false) => debug!(op = op.verb(), "keyring unchanged"),
            Err(error) => info!(op = op.verb(), %error, "keyring operation failed"),
        }
        if !changed? {
            return Ok(());
        }
        self.publish_keys();
        if let (Some(path), Some(keyring)) = (&self.s.keyring_file, self.envelope.keyring()) {
            keyfile::save(path, &keyring.keys()).map_err(|e| {
                warn!(%e, "could not persist the keyring");
                e.to_string()
            })?;
        }
        Ok(())
    }

    fn key_timer(&mut self, now: Instant) {
        let mut out = Vec::new();
        self.keyops.on_timer(now, &mut out);
        for (to, body) in out {
            self.queue(to, Kind::KeyQuery, body);
        }
    }

    fn publish_keys(&mut self) {
        let view = match self.envelope.keyring() {
            Some(k) => (Some(k.primary()), k.keys()),
            None => (None, Vec::new()),
        };
        self.out.keys.send_replace(view);
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(timer) = self.timers.pop_due(now) {
            if let Err(error) = self.foca.handle_timer(timer, &mut self.rt) {
                debug!(%error, "foca timer");
            }
        }
    }

    fn announce(&mut self, addr: SocketAddr) {
        if let Err(error) = self.foca.announce(NodeId::seed(addr), &mut self.rt) {
            debug!(%addr, %error, "announce failed");
        }
    }

    /// Announce plus a full state exchange (joins, join retries, reconnects).
    fn announce_with_state(&mut self, addr: SocketAddr) {
        self.announce(addr);
        self.push_state(addr, true);
    }

    fn gossip(&mut self) {
        if let Err(error) = self.foca.gossip(&mut self.rt) {
            debug!(%error, "gossip failed");
        }
    }

    fn add_item(&mut self, item: &Item) {
        let result = item
            .encode()
            .map_err(|e| e.to_string())
            .and_then(|data| self.foca.add_broadcast(&data).map_err(|e| e.to_string()));
        if let Err(error) = result {
            warn!(%error, "could not queue broadcast");
        }
    }

    /// Stamps, delivers locally and broadcasts a user event.
    fn user_event(&mut self, id: String, body: Vec<u8>) -> Result<u64, GossipError> {
        if body.len() > MAX_EVENT_BYTES {
            return Err(GossipError::EventTooLarge {
                size: body.len(),
                max: MAX_EVENT_BYTES,
            });
        }
        let ltime = self.event_clock;
        self.event_clock += 1;
        let event = UserEvent { id, ltime, body };
        lock(&self.shared).remember_event(&event.id);
        let _ = self.out.user_events.send(event.clone());
        self.add_item(&Item::Event(event));
        Ok(ltime)
    }

    /// This member's tags as a broadcast item.
    fn own_tags_item(&self) -> TagsItem {
        TagsItem {
            name: self.s.name.clone(),
            version: self.tags_version,
            tags: self.own_tags.clone(),
        }
    }

    fn advertise_tags(&mut self) {
        let item = Item::Tags(self.own_tags_item());
        self.add_item(&item);
    }

    fn start_join(
        &mut self,
        addrs: Vec<SocketAddr>,
        timeout: Duration,
        reply: Reply<usize>,
        now: Instant,
    ) {
        if self.own_status != MemberStatus::Alive {
            let _ = reply.send(Err(GossipError::Left));
            return;
        }
        let mut targets = Vec::with_capacity(addrs.len());
        for addr in addrs {
            if addr == self.s.advertise || addr == self.s.local_addr || targets.contains(&addr) {
                continue;
            }
            targets.push(addr);
        }
        if targets.is_empty() {
            let _ = reply.send(Err(GossipError::JoinFailed {
                addrs: targets,
                timeout,
            }));
            return;
        }
        info!(?targets, "joining");
        for &addr in &targets {
            if !self.seeds.contains(&addr) {
                self.seeds.push(addr);
            }
            self.announce_with_state(addr);
        }
        self.joins.push(PendingJoin {
            targets,
            answered: HashSet::new(),
            timeout,
            deadline: later(now, timeout),
            next_retry: later(now, self.s.timing.probe_period),
            reply,
        });
    }

    fn check_joins(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.joins.len() {
            let join = &mut self.joins[i];
            for &addr in &join.targets {
                if self.table.has_present_addr(addr) {
                    join.answered.insert(addr);
                }
            }
            if join.answered.len() < join.targets.len() && now < join.deadline {
                i += 1;
                continue;
            }
            let join = self.joins.swap_remove(i);
            let answered = join.answered.len();
            let result = if answered > 0 {
                info!(answered, tried = join.targets.len(), "join completed");
                Ok(answered)
            } else {
                warn!(addrs = ?join.targets, "join failed: no answer");
                Err(GossipError::JoinFailed {
                    addrs: join.targets,
                    timeout: join.timeout,
                })
            };
            let _ = join.reply.send(result);
        }
    }

    fn set_tags(&mut self, tags: BTreeMap<String, String>) -> Result<(), GossipError> {
        if self.own_status != MemberStatus::Alive {
            return Err(GossipError::Left);
        }
        check_tags(&tags)?;
        self.own_tags = tags;
        self.tags_version = self.tags_version.saturating_add(1);
        self.advertise_tags();
        self.gossip();
        self.dirty = true;
        Ok(())
    }

    fn start_leave(&mut self, timeout: Duration, reply: Reply<()>, now: Instant) {
        match self.own_status {
            MemberStatus::Left => {
                let _ = reply.send(Ok(()));
            }
            MemberStatus::Leaving => match &mut self.leaving {
                Some(leaving) => leaving.replies.push(reply),
                None => {
                    let _ = reply.send(Ok(()));
                }
            },
            MemberStatus::Alive | MemberStatus::Failed => {
                info!("leaving the pool");
                self.own_status = MemberStatus::Leaving;
                self.dirty = true;
                let item = Item::Leave(LeaveItem {
                    name: self.s.name.clone(),
                    incarnation: self.foca.identity().incarnation,
                    forced: false,
                });
                self.add_item(&item);
                self.gossip();
                self.leaving = Some(Leaving {
                    phase: LeavePhase::Intent {
                        leave_at: later(now, (timeout / 2).min(MAX_INTENT_WAIT)),
                    },
                    deadline: later(now, timeout),
                    replies: vec![reply],
                });
                self.step_leave(now);
            }
        }
    }

    fn step_leave(&mut self, now: Instant) {
        let Some(leaving) = &mut self.leaving else {
            return;
        };
        match &mut leaving.phase {
            LeavePhase::Intent { leave_at } => {
                let alone = self.foca.num_members() == 0;
                if alone || now >= *leave_at || self.foca.custom_broadcast_backlog() == 0 {
                    if let Err(error) = self.foca.leave_cluster(&mut self.rt) {
                        warn!(%error, "leave_cluster failed");
                    }
                    self.departed = true;
                    leaving.phase = if alone {
                        LeavePhase::Propagate { rounds_left: 0 }
                    } else {
                        LeavePhase::Propagate {
                            rounds_left: LEAVE_PROPAGATE_ROUNDS,
                        }
                    };
                } else if let Err(error) = self.foca.broadcast(&mut self.rt) {
                    debug!(%error, "broadcast failed");
                }
            }
            LeavePhase::Propagate { rounds_left } => {
                if *rounds_left > 0 && now < leaving.deadline {
                    *rounds_left -= 1;
                    if let Err(error) = self.foca.gossip(&mut self.rt) {
                        debug!(%error, "gossip failed");
                    }
                    return;
                }
                let replies = std::mem::take(&mut leaving.replies);
                self.leaving = None;
                self.own_status = MemberStatus::Left;
                self.dirty = true;
                info!("left the pool");
                self.publish_if_dirty();
                for reply in replies {
                    let _ = reply.send(Ok(()));
                }
                for join in self.joins.drain(..) {
                    let _ = join.reply.send(Err(GossipError::Left));
                }
                self.keyops.abort(|| GossipError::Left);
            }
        }
    }

    /// Consul's force-leave: a failed member becomes left (and the intent is gossiped); an
    /// alive member is untouched (in serf it refutes the intent, so the net effect is none).
    /// With `prune`, a left member is also forgotten here at once.
    fn force_leave(&mut self, name: &str, prune: bool, now: Instant) -> Result<(), GossipError> {
        if self.own_status != MemberStatus::Alive {
            return Err(GossipError::Left);
        }
        if name == self.s.name {
            return Ok(());
        }
        match self.table.force_leave(name, now) {
            Err(NotFound) => return Err(GossipError::NoMember(name.to_owned())),
            Ok(None) => {}
            Ok(Some((event, incarnation))) => {
                info!(member = name, "force-leave");
                self.emit(event);
                let item = Item::Leave(LeaveItem {
                    name: name.to_owned(),
                    incarnation,
                    forced: true,
                });
                self.add_item(&item);
                self.gossip();
                self.dirty = true;
            }
        }
        if prune && let Some(event) = self.table.prune(name) {
            info!(member = name, "force-leave: pruned");
            self.emit(event);
            self.dirty = true;
        }
        Ok(())
    }

    fn housekeeping(&mut self, now: Instant) {
        self.step_leave(now);
        if self.own_status == MemberStatus::Alive {
            if now >= self.next_tags_at {
                self.advertise_tags();
                self.next_tags_at = later(now, self.s.timing.tags_interval);
            }
            let alone = self.foca.num_members() == 0;
            if !self.seeds.is_empty()
                && ((alone && now >= self.next_rejoin_at) || now >= self.next_seed_announce_at)
            {
                debug!(seeds = ?self.seeds, alone, "re-announcing to join addresses");
                for seed in self.seeds.clone() {
                    self.announce(seed);
                    if alone {
                        // Coming back from isolation: get the whole view, not just a Feed.
                        self.push_state(seed, true);
                    }
                }
                self.next_rejoin_at = later(now, self.s.timing.rejoin_interval);
                self.next_seed_announce_at = later(now, self.s.timing.seed_announce_interval);
            }
            if now >= self.next_push_pull_at {
                // Ticks every push-pull interval (jittered); a tick syncs with the chance that
                // makes the mean interval the scaled one. So pools started together spread
                // their syncs over the scaled interval instead of all syncing in the first one.
                let base = self.s.timing.push_pull_interval;
                let scaled = state_sync::scaled_interval(base, self.cluster_size);
                self.next_push_pull_at = later(now, base.mul_f64(rand::random_range(0.5..1.5)));
                let chance = base.as_secs_f64() / scaled.as_secs_f64().max(f64::MIN_POSITIVE);
                let peer = if rand::random_bool(chance.clamp(0.0, 1.0)) {
                    let alive: Vec<SocketAddr> =
                        self.table.alive_addrs().map(|(_, addr)| addr).collect();
                    alive.choose(&mut rand::rng()).copied()
                } else {
                    None
                };
                if let Some(peer) = peer {
                    debug!(%peer, "push-pull state sync");
                    self.push_state(peer, true);
                }
            }
            if now >= self.next_reconnect_at {
                self.next_reconnect_at = later(now, self.s.timing.reconnect_interval);
                self.reconnect();
            }
            for i in 0..self.joins.len() {
                let join = &mut self.joins[i];
                if now < join.next_retry {
                    continue;
                }
                join.next_retry = later(now, self.s.timing.probe_period);
                let unanswered: Vec<SocketAddr> = join
                    .targets
                    .iter()
                    .filter(|a| !join.answered.contains(a))
                    .copied()
                    .collect();
                for addr in unanswered {
                    self.announce_with_state(addr);
                }
            }
        }
        if now >= self.next_reap_at {
            self.next_reap_at = later(now, REAP_INTERVAL);
            // Safety net for what one-by-one changes cannot see (two live identities with the
            // same name): reconcile with foca's whole view when the counts disagree.
            if self.table.present_count() != self.foca.num_members() {
                self.sync_members(now);
            }
            let events = self
                .table
                .reap(now, self.s.reconnect_timeout, self.s.tombstone_timeout);
            if !events.is_empty() {
                {
                    let mut shared = lock(&self.shared);
                    for event in &events {
                        shared.forget(&event.member().name);
                    }
                }
                for event in events {
                    self.emit(event);
                }
                self.dirty = true;
            }
        }
    }

    /// serf's reconnect: with the chance `failed / alive` (at least one alive: this member),
    /// announce to one random failed member. If it is back, foca tells whichever side was
    /// declared down to renew its identity, and both rejoin.
    fn reconnect(&mut self) {
        let failed: Vec<SocketAddr> = self.table.failed_addrs().collect();
        if failed.is_empty() {
            return;
        }
        let alive = self.table.alive_addrs().count().max(1);
        let chance = (failed.len() as f64 / alive as f64).min(1.0);
        if !rand::random_bool(chance) {
            return;
        }
        if let Some(&addr) = failed.choose(&mut rand::rng()) {
            debug!(%addr, "reconnecting to a failed member");
            self.announce_with_state(addr);
        }
    }

    /// Applies what the last foca call produced: broadcast items, notifications, datagrams
    /// and timers; then answers finished joins and publishes the member list.
    async fn flush(&mut self, outbox: &Outbox) {
        let now = Instant::now();
        // Items first: a leave intent arriving in the same packet as the member's down update
        // must turn it `left`, not `failed`.
        let items = lock(&self.shared).take_inbox();
        for item in items {
            if let Item::Event(e) = item {
                // serf's clock witness: our next event comes after every one we saw.
                self.event_clock = self.event_clock.max(e.ltime.saturating_add(1));
                let _ = self.out.user_events.send(e);
                continue;
            }
            if let Some(event) = self.table.apply(item, now) {
                self.emit(event);
            }
            self.dirty = true;
        }
        // Membership changes are applied one by one, in order (O(1) each, not O(members):
        // in a big pool a full reconcile per change costs more than the gossip itself).
        let mut changes = Vec::new();
        while let Some(notification) = self.rt.to_notify() {
            match notification {
                OwnedNotification::MemberUp(id) => changes.push(Change::Up(id)),
                OwnedNotification::MemberDown(id) => changes.push(Change::Down(id)),
                OwnedNotification::Rename(old, new) => changes.push(Change::Rename(old, new)),
                OwnedNotification::Rejoin(id) => {
                    info!(
                        incarnation = id.incarnation,
                        "declared down by the pool; rejoined"
                    );
                    self.dirty = true;
                    self.advertise_tags();
                }
                OwnedNotification::Active => debug!("pool active"),
                OwnedNotification::Idle => {
                    info!("no alive peers left");
                    self.next_rejoin_at = later(now, self.s.timing.rejoin_interval);
                }
                OwnedNotification::Defunct => {
                    if self.own_status == MemberStatus::Alive {
                        warn!("declared down by the pool and could not rejoin");
                    }
                }
            }
        }
        if !changes.is_empty() {
            let mut events = Vec::new();
            for change in changes {
                match change {
                    Change::Up(id) => events.extend(self.table.up(&id, now)),
                    Change::Down(id) => events.extend(self.table.down(&id, now)),
                    Change::Rename(old, new) => {
                        if old.name != new.name {
                            // Another member took over the address.
                            events.extend(self.table.down(&old, now));
                        }
                        let active = self
                            .foca
                            .iter_membership_state()
                            .find(|m| m.id() == &new)
                            .map(|m| m.state() != State::Down);
                        match active {
                            Some(true) => events.extend(self.table.up(&new, now)),
                            Some(false) => events.extend(self.table.down(&new, now)),
                            None => {}
                        }
                    }
                }
            }
            self.membership_changed(events);
        }
        self.publish_if_dirty();
        self.check_joins(now);
        while let Some((dst, data)) = self.rt.to_send() {
            self.send(outbox, dst.addr, Kind::Foca, &data).await;
        }
        for (to, kind, body) in std::mem::take(&mut self.extra_out) {
            self.send(outbox, to, kind, &body).await;
        }
        while let Some((after, timer)) = self.rt.to_schedule() {
            self.timers.push(later(now, after), timer);
        }
        self.publish_if_dirty();
    }

    fn sync_members(&mut self, now: Instant) {
        let view = self
            .foca
            .iter_membership_state()
            .map(|m| (m.id(), m.state() != State::Down));
        let events = self.table.sync(view, now);
        self.membership_changed(events);
    }

    /// Emits the events of a membership change and adapts foca to the new cluster size.
    fn membership_changed(&mut self, events: Vec<MemberEvent>) {
        // (A newcomer gets everybody's tags from the state sync it does when joining.)
        // serf carries tags in the alive message itself; here they follow as a broadcast. In
        // the server pools (WAN profile: a few servers per datacenter), every member that sees
        // a join advertises its own tags again soon, so those who learn of each other through
        // the newcomer get the tags with the membership instead of a tags interval later.
        if self.s.profile == Profile::Wan
            && events.iter().any(|e| matches!(e, MemberEvent::Join(_)))
        {
            let soon = later(Instant::now(), self.s.timing.gossip_interval);
            self.next_tags_at = self.next_tags_at.min(soon);
        }
        for event in events {
            self.emit(event);
        }
        self.dirty = true;
        let size = self.table.present_count() + 1;
        if size != self.cluster_size {
            let config = foca_config(
                self.s.profile,
                &self.s.timing,
                size,
                self.s.forget_down_after(),
            );
            match self.foca.set_config(config) {
                Ok(()) => self.cluster_size = size,
                Err(error) => warn!(%error, size, "could not adapt foca config"),
            }
        }
    }

    async fn send(&mut self, outbox: &Outbox, to: SocketAddr, kind: Kind, payload: &[u8]) {
        if self
            .envelope
            .seal(kind, payload, &mut self.send_buf)
            .is_err()
        {
            self.out.counters.send_error();
            warn!(%to, ?kind, "could not encrypt datagram");
            return;
        }
        if kind == Kind::Sync {
            outbox.send_bulk(to, &self.send_buf);
        } else {
            outbox.send(to, &self.send_buf).await;
        }
    }

    fn emit(&mut self, event: MemberEvent) {
        let m = event.member();
        match &event {
            MemberEvent::Join(_) => info!(member = %m.name, addr = %m.addr, "member joined"),
            MemberEvent::Update(_) => debug!(member = %m.name, "member updated"),
            MemberEvent::Failed(_) => info!(member = %m.name, "member failed"),
            MemberEvent::Left(_) => info!(member = %m.name, "member left"),
            MemberEvent::Reap(_) => info!(member = %m.name, status = %m.status, "member reaped"),
        }
        // No subscriber is fine.
        let _ = self.out.events.send(event);
    }

    fn own_member(&self) -> Member {
        Member {
            name: self.s.name.clone(),
            addr: self.s.advertise.ip(),
            port: self.s.advertise.port(),
            tags: self.own_tags.clone(),
            status: self.own_status,
            incarnation: self.foca.identity().incarnation,
        }
    }

    /// Publishes the member list if it changed; called before answering a command so the
    /// caller sees its own change.
    fn publish_if_dirty(&mut self) {
        if self.dirty {
            self.publish();
        }
    }

    /// Updates the published member map with what changed (O(changes), not O(members)).
    fn publish(&mut self) {
        let changed = self.table.take_changed();
        let own = self.own_member();
        let table = &self.table;
        self.out.snapshot.send_modify(|map| {
            for name in changed {
                match table.member(&name) {
                    Some(member) => map.insert(name, member),
                    None => map.remove(&name),
                };
            }
            map.insert(own.name.clone(), own);
        });
        self.dirty = false;
    }
}
