//! Cluster-wide keyring operations (serf's KeyManager): the public [`KeyOp`] and
//! [`KeyOpOutcome`], the KeyQuery/KeyReply messages, the pending queries of this member
//! (retransmitted to the members that have not answered) and the answers it gave (so a
//! repeated query is answered again without being applied twice).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::error::GossipError;
use crate::keyring::{Key, Keyring};
use crate::timers::later;

/// How often a query is sent again to the members that have not answered.
pub(crate) const RETRANSMIT: Duration = Duration::from_millis(200);
/// How long a member remembers the answer it gave to a query id.
const ANSWER_TTL: Duration = Duration::from_secs(300);
/// The `messages` entry of a member that did not answer in time.
pub(crate) const NO_RESPONSE: &str = "no response";
/// serf's answer to `List` without a keyring.
pub(crate) const ERR_LIST_DISABLED: &str = "Keyring is empty (encryption not enabled)";
/// serf's answer to `Install`/`Use`/`Remove` without a keyring.
pub(crate) const ERR_MODIFY_DISABLED: &str = "No keyring to modify (encryption not enabled)";

/// A keyring operation, applied on every alive member (Consul's `keyring -list|-install|-use|-remove`).
/// Its `Debug` output names the operation, never the key.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyOp {
    /// Report the installed keys.
    List,
    /// Add a key (already installed: fine).
    Install([u8; 32]),
    /// Make an installed key the primary (error `Requested key is not in the keyring`).
    Use([u8; 32]),
    /// Remove a key (error `Removing the primary key is not allowed` where it is the primary).
    Remove([u8; 32]),
}

impl std::fmt::Debug for KeyOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.verb())
    }
}

impl KeyOp {
    /// `list`, `install`, `use` or `remove`.
    pub fn verb(&self) -> &'static str {
        match self {
            KeyOp::List => "list",
            KeyOp::Install(_) => "install",
            KeyOp::Use(_) => "use",
            KeyOp::Remove(_) => "remove",
        }
    }

    /// The error of a member without a keyring.
    pub(crate) fn disabled_message(&self) -> &'static str {
        match self {
            KeyOp::List => ERR_LIST_DISABLED,
            KeyOp::Install(_) | KeyOp::Use(_) | KeyOp::Remove(_) => ERR_MODIFY_DISABLED,
        }
    }

    /// Applies the operation to a keyring: `Ok(true)` when it changed.
    pub(crate) fn apply(&self, keyring: Option<&mut Keyring>) -> Result<bool, String> {
        let Some(keyring) = keyring else {
            return Err(self.disabled_message().to_string());
        };
        match *self {
            KeyOp::List => Ok(false),
            KeyOp::Install(key) => keyring.install(key),
            KeyOp::Use(key) => keyring.use_key(key),
            KeyOp::Remove(key) => keyring.remove(key),
        }
    }
}

/// What a keyring operation found across the pool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyOpOutcome {
    /// Alive members asked, the local one included.
    pub num_nodes: u32,
    /// Members that answered, the local one included.
    pub num_resp: u32,
    /// Key -> how many members have it installed.
    pub keys: BTreeMap<[u8; 32], u32>,
    /// Key -> how many members use it as their primary key.
    pub primary_keys: BTreeMap<[u8; 32], u32>,
    /// Member name -> error (the operation failed there, or `no response`).
    pub messages: BTreeMap<String, String>,
}

impl KeyOpOutcome {
    fn add(&mut self, reply: &KeyReply) {
        self.num_resp = self.num_resp.saturating_add(1);
        for key in &reply.keys {
            let n = self.keys.entry(*key).or_insert(0);
            *n = n.saturating_add(1);
        }
        if let Some(primary) = reply.primary {
            let n = self.primary_keys.entry(primary).or_insert(0);
            *n = n.saturating_add(1);
        }
        if let Some(error) = &reply.error {
            self.messages.insert(reply.name.clone(), error.clone());
        }
    }
}

/// The query sent to every alive member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KeyQuery {
    pub id: u64,
    pub op: KeyOp,
}

/// A member's answer: its keyring after the operation, and its error if it failed there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KeyReply {
    pub id: u64,
    pub name: String,
    pub error: Option<String>,
    pub primary: Option<Key>,
    pub keys: Vec<Key>,
}

impl KeyReply {
    /// The reply of member `name` with `keyring` in its current state.
    pub fn new(id: u64, name: &str, result: Result<(), String>, keyring: Option<&Keyring>) -> Self {
        Self {
            id,
            name: name.to_owned(),
            error: result.err(),
            primary: keyring.map(Keyring::primary),
            keys: keyring.map(Keyring::keys).unwrap_or_default(),
        }
    }
}

pub(crate) fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, postcard::Error> {
    postcard::to_allocvec(msg)
}

pub(crate) fn decode<'a, T: Deserialize<'a>>(data: &'a [u8]) -> Result<T, postcard::Error> {
    postcard::from_bytes(data)
}

type Reply = oneshot::Sender<Result<KeyOpOutcome, GossipError>>;

struct Pending {
    id: u64,
    query: Vec<u8>,
    /// Members that have not answered yet.
    waiting: BTreeMap<String, SocketAddr>,
    outcome: KeyOpOutcome,
    deadline: Instant,
    next_retry: Instant,
    reply: Reply,
}

/// Datagrams to send: `(destination, encoded body)`; the kind is known by the caller.
pub(crate) type Outgoing = Vec<(SocketAddr, Vec<u8>)>;

/// This member's pending queries and the answers it gave.
#[derive(Default)]
pub(crate) struct KeyOps {
    pending: Vec<Pending>,
    answered: HashMap<u64, (Instant, Result<(), String>)>,
}

impl KeyOps {
    /// Starts a query already applied locally (`local` = the local member's reply), to be sent
    /// to `targets` (alive members but the local one).
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        &mut self,
        query: &KeyQuery,
        local: &KeyReply,
        targets: BTreeMap<String, SocketAddr>,
        timeout: Duration,
        reply: Reply,
        now: Instant,
        out: &mut Outgoing,
    ) {
        self.answered
            .insert(query.id, (now, local.error.clone().map_or(Ok(()), Err)));
        let mut outcome = KeyOpOutcome {
            num_nodes: u32::try_from(targets.len().saturating_add(1)).unwrap_or(u32::MAX),
            ..KeyOpOutcome::default()
        };
        outcome.add(local);
        let body = match encode(query) {
            Ok(body) => body,
            Err(error) => {
                let _ = reply.send(Err(GossipError::Keyring(format!(
                    "could not encode key query: {error}"
                ))));
                return;
            }
        };
        if targets.is_empty() {
            let _ = reply.send(Ok(outcome));
            return;
        }
        for addr in targets.values() {
            out.push((*addr, body.clone()));
        }
        self.pending.push(Pending {
            id: query.id,
            query: body,
            waiting: targets,
            outcome,
            deadline: later(now, timeout),
            next_retry: now + RETRANSMIT,
            reply,
        });
    }

    /// The result this member gave to a query it already answered.
    pub fn answered(&self, id: u64) -> Option<Result<(), String>> {
        self.answered.get(&id).map(|(_, result)| result.clone())
    }

    /// Remembers the result given to a query, so a retransmission is not applied twice.
    /// Answers older than [`ANSWER_TTL`] are forgotten here (a member that only answers
    /// others' queries has no timer of its own).
    pub fn remember(&mut self, id: u64, result: Result<(), String>, now: Instant) {
        self.answered
            .retain(|_, (at, _)| now.saturating_duration_since(*at) < ANSWER_TTL);
        self.answered.insert(id, (now, result));
    }

    /// Records an answer; completes the query when every member answered.
    pub fn on_reply(&mut self, reply: KeyReply) {
        let Some(i) = self.pending.iter().position(|p| p.id == reply.id) else {
            return;
        };
        let pending = &mut self.pending[i];
        if pending.waiting.remove(&reply.name).is_none() {
            return;
        }
        pending.outcome.add(&reply);
        if pending.waiting.is_empty() {
            let done = self.pending.swap_remove(i);
            let _ = done.reply.send(Ok(done.outcome));
        }
    }

    /// When [`KeyOps::on_timer`] has something to do next.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending
            .iter()
            .map(|p| p.next_retry.min(p.deadline))
            .min()
    }

    /// Retransmits to the members that have not answered; completes expired queries with
    /// `no response` for them; forgets old answers.
    pub fn on_timer(&mut self, now: Instant, out: &mut Outgoing) {
        let mut i = 0;
        while i < self.pending.len() {
            let p = &mut self.pending[i];
            if now >= p.deadline {
                let mut done = self.pending.swap_remove(i);
                for name in done.waiting.keys() {
                    done.outcome
                        .messages
                        .insert(name.clone(), NO_RESPONSE.to_string());
                }
                let _ = done.reply.send(Ok(done.outcome));
                continue;
            }
            if now >= p.next_retry {
                p.next_retry = now + RETRANSMIT;
                for addr in p.waiting.values() {
                    out.push((*addr, p.query.clone()));
                }
            }
            i += 1;
        }
    }

    /// Fails every pending query (the pool left).
    pub fn abort(&mut self, error: impl Fn() -> GossipError) {
        for p in self.pending.drain(..) {
            let _ = p.reply.send(Err(error()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Key = [1; 32];
    const B: Key = [2; 32];

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn reply(id: u64, name: &str, error: Option<&str>, keys: &[Key]) -> KeyReply {
        KeyReply {
            id,
            name: name.into(),
            error: error.map(str::to_string),
            primary: keys.first().copied(),
            keys: keys.to_vec(),
        }
    }

    #[test]
    fn ops_apply_with_serf_semantics() {
        let mut k = Keyring::new(&[A]).unwrap();
        assert_eq!(KeyOp::List.apply(Some(&mut k)), Ok(false));
        assert_eq!(KeyOp::Install(B).apply(Some(&mut k)), Ok(true));
        assert_eq!(KeyOp::Install(B).apply(Some(&mut k)), Ok(false));
        assert_eq!(
            KeyOp::Remove(A).apply(Some(&mut k)),
            Err("Removing the primary key is not allowed".to_string())
        );
        assert_eq!(KeyOp::Use(B).apply(Some(&mut k)), Ok(true));
        assert_eq!(
            KeyOp::Use([9; 32]).apply(Some(&mut k)),
            Err("Requested key is not in the keyring".to_string())
        );
        assert_eq!(KeyOp::List.apply(None), Err(ERR_LIST_DISABLED.to_string()));
        assert_eq!(
            KeyOp::Install(A).apply(None),
            Err(ERR_MODIFY_DISABLED.to_string())
        );
    }

    #[test]
    fn replies_are_aggregated_and_the_query_completes() {
        let mut ops = KeyOps::default();
        let now = Instant::now();
        let (tx, mut rx) = oneshot::channel();
        let query = KeyQuery {
            id: 7,
            op: KeyOp::List,
        };
        let targets = BTreeMap::from([("b".to_string(), addr(2)), ("c".to_string(), addr(3))]);
        let mut out = Vec::new();
        ops.start(
            &query,
            &reply(7, "a", None, &[A, B]),
            targets,
            Duration::from_secs(5),
            tx,
            now,
            &mut out,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(decode::<KeyQuery>(&out[0].1).unwrap(), query);
        assert_eq!(ops.answered(7), Some(Ok(())));
        ops.on_reply(reply(7, "b", None, &[A]));
        ops.on_reply(reply(7, "b", None, &[A]));
        ops.on_reply(reply(8, "c", None, &[A]));
        assert!(rx.try_recv().is_err(), "c has not answered");
        ops.on_reply(reply(7, "c", Some("boom"), &[B, A]));
        let outcome = rx.try_recv().unwrap().unwrap();
        assert_eq!(outcome.num_nodes, 3);
        assert_eq!(outcome.num_resp, 3);
        assert_eq!(outcome.keys, BTreeMap::from([(A, 3), (B, 2)]));
        assert_eq!(outcome.primary_keys, BTreeMap::from([(A, 2), (B, 1)]));
        assert_eq!(
            outcome.messages,
            BTreeMap::from([("c".to_string(), "boom".to_string())])
        );
        assert!(ops.next_deadline().is_none());
    }

    #[test]
    fn silent_members_get_retransmissions_then_no_response() {
        let mut ops = KeyOps::default();
        let t0 = Instant::now();
        let (tx, mut rx) = oneshot::channel();
        let query = KeyQuery {
            id: 1,
            op: KeyOp::Install(B),
        };
        let targets = BTreeMap::from([("b".to_string(), addr(2)), ("c".to_string(), addr(3))]);
        let mut out = Vec::new();
        ops.start(
            &query,
            &reply(1, "a", None, &[A, B]),
            targets,
            Duration::from_secs(1),
            tx,
            t0,
            &mut out,
        );
        out.clear();
        ops.on_reply(reply(1, "b", None, &[A, B]));
        assert_eq!(ops.next_deadline(), Some(t0 + RETRANSMIT));
        ops.on_timer(t0 + RETRANSMIT, &mut out);
        assert_eq!(out.iter().map(|(a, _)| *a).collect::<Vec<_>>(), [addr(3)]);
        ops.on_timer(t0 + Duration::from_secs(1), &mut out);
        let outcome = rx.try_recv().unwrap().unwrap();
        assert_eq!((outcome.num_nodes, outcome.num_resp), (3, 2));
        assert_eq!(outcome.messages["c"], NO_RESPONSE);
    }

    #[test]
    fn alone_completes_at_once() {
        let mut ops = KeyOps::default();
        let (tx, mut rx) = oneshot::channel();
        let q = KeyQuery {
            id: 3,
            op: KeyOp::List,
        };
        let mut out = Vec::new();
        ops.start(
            &q,
            &reply(3, "a", None, &[A]),
            BTreeMap::new(),
            Duration::from_secs(1),
            tx,
            Instant::now(),
            &mut out,
        );
        let outcome = rx.try_recv().unwrap().unwrap();
        assert_eq!((outcome.num_nodes, outcome.num_resp), (1, 1));
        assert!(out.is_empty());
    }
}
