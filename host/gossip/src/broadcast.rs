//! Custom broadcasts carried by foca: versioned member tags and leave intents, the foca
//! `BroadcastHandler` that decides what is new, and the inbox it fills for the pool task.
//!
//! Item wire format: `[item kind u8][postcard body]`; unknown kinds are ignored (not relayed), so
//! newer versions can add items.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

use crate::identity::NodeId;

const KIND_TAGS: u8 = 1;
const KIND_LEAVE: u8 = 2;
const KIND_EVENT: u8 = 3;

/// How many user-event IDs a pool remembers to drop duplicates (serf keeps a buffer by
/// Lamport time; an ID set of this size covers far more than one gossip round).
const RECENT_EVENTS: usize = 4096;

/// A broadcast item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    /// A member's tags; a higher `version` replaces a lower one.
    Tags(TagsItem),
    /// "This member (at this incarnation) leaves": graceful, or a force-leave by an operator.
    Leave(LeaveItem),
    /// A user event (serf's `UserEvent`): delivered once to every member, body opaque here.
    Event(UserEvent),
}

/// A user event: a unique ID, the sender's event Lamport time, and a body the pool does not
/// interpret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEvent {
    pub id: String,
    pub ltime: u64,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TagsItem {
    pub name: String,
    pub version: u64,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LeaveItem {
    pub name: String,
    pub incarnation: u64,
    pub forced: bool,
}

impl Item {
    pub fn name(&self) -> &str {
        match self {
            Item::Tags(t) => &t.name,
            Item::Leave(l) => &l.name,
            Item::Event(e) => &e.id,
        }
    }

    fn kind(&self) -> u8 {
        match self {
            Item::Tags(_) => KIND_TAGS,
            Item::Leave(_) => KIND_LEAVE,
            Item::Event(_) => KIND_EVENT,
        }
    }

    fn version(&self) -> u64 {
        match self {
            Item::Tags(t) => t.version,
            Item::Leave(l) => l.incarnation,
            Item::Event(e) => e.ltime,
        }
    }

    pub fn encode(&self) -> Result<Vec<u8>, postcard::Error> {
        let mut out = vec![self.kind()];
        let body = match self {
            Item::Tags(t) => postcard::to_allocvec(t)?,
            Item::Leave(l) => postcard::to_allocvec(l)?,
            Item::Event(e) => postcard::to_allocvec(e)?,
        };
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// `Ok(None)` for an item kind this version does not know.
    pub fn decode(data: &[u8]) -> Result<Option<Item>, postcard::Error> {
        let Some((kind, body)) = data.split_first() else {
            return Err(postcard::Error::DeserializeUnexpectedEnd);
        };
        match *kind {
            KIND_TAGS => Ok(Some(Item::Tags(postcard::from_bytes(body)?))),
            KIND_LEAVE => Ok(Some(Item::Leave(postcard::from_bytes(body)?))),
            KIND_EVENT => Ok(Some(Item::Event(postcard::from_bytes(body)?))),
            _ => Ok(None),
        }
    }

    fn key(&self) -> ItemKey {
        ItemKey {
            kind: self.kind(),
            name: self.name().to_owned(),
            version: self.version(),
        }
    }
}

/// foca's dissemination key: one live item per (kind, member); a newer (or equal, when re-sent)
/// version replaces what is still queued.
#[derive(Debug)]
pub(crate) struct ItemKey {
    kind: u8,
    name: String,
    version: u64,
}

impl foca::Invalidates for ItemKey {
    fn invalidates(&self, other: &Self) -> bool {
        self.kind == other.kind && self.name == other.name && self.version >= other.version
    }
}

/// State shared between the handler (inside foca) and the pool task.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Highest version seen per (item kind, member name).
    known: HashMap<(u8, String), u64>,
    /// New items received from peers, to be applied by the pool task.
    inbox: Vec<Item>,
    /// IDs of the user events seen lately (oldest first), to deliver each once.
    recent_events: std::collections::VecDeque<String>,
    recent_event_ids: std::collections::HashSet<String>,
}

impl Shared {
    pub fn take_inbox(&mut self) -> Vec<Item> {
        std::mem::take(&mut self.inbox)
    }

    /// Takes an item received from a peer (broadcast or state sync) into the inbox if it is
    /// newer than what was seen; `true` when it was new (and should be relayed).
    pub fn offer(&mut self, own_name: &str, item: Item) -> bool {
        if let Item::Event(e) = &item {
            if !self.remember_event(&e.id) {
                return false;
            }
            self.inbox.push(item);
            return true;
        }
        if item.name() == own_name {
            // Our own (possibly previous-life) data echoed back: we are the authority.
            return false;
        }
        let slot = (item.kind(), item.name().to_owned());
        let version = item.version();
        if self.known.get(&slot).is_some_and(|&seen| seen >= version) {
            return false;
        }
        self.known.insert(slot, version);
        self.inbox.push(item);
        true
    }

    /// Records a user event's ID; false if it was seen already.
    pub fn remember_event(&mut self, id: &str) -> bool {
        if !self.recent_event_ids.insert(id.to_owned()) {
            return false;
        }
        self.recent_events.push_back(id.to_owned());
        while self.recent_events.len() > RECENT_EVENTS {
            if let Some(old) = self.recent_events.pop_front() {
                self.recent_event_ids.remove(&old);
            }
        }
        true
    }

    /// Forget versions of members that were reaped.
    pub fn forget(&mut self, name: &str) {
        self.known.retain(|(_, n), _| n != name);
    }
}

pub(crate) fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A broadcast item that could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("malformed broadcast item: {0}")]
pub(crate) struct BroadcastError(#[from] postcard::Error);

/// foca's `BroadcastHandler`: accepts (and relays) only items newer than what it has seen.
pub(crate) struct Handler {
    own_name: String,
    shared: Arc<Mutex<Shared>>,
}

impl Handler {
    pub fn new(own_name: String, shared: Arc<Mutex<Shared>>) -> Self {
        Self { own_name, shared }
    }
}

impl foca::BroadcastHandler<NodeId> for Handler {
    type Key = ItemKey;
    type Error = BroadcastError;

    fn receive_item(
        &mut self,
        data: &[u8],
        sender: Option<&NodeId>,
    ) -> Result<Option<ItemKey>, BroadcastError> {
        let Some(item) = Item::decode(data)? else {
            return Ok(None);
        };
        let key = item.key();
        let mut shared = lock(&self.shared);
        let slot = (key.kind, key.name.clone());
        if sender.is_none() && key.kind == KIND_EVENT {
            // Our own event: the pool task remembered and delivered it already.
            return Ok(Some(key));
        }
        if sender.is_none() {
            // Added locally (our own tags, our leave, a force-leave): always (re)send it.
            let known = shared.known.entry(slot).or_insert(0);
            *known = (*known).max(key.version);
            return Ok(Some(key));
        }
        Ok(shared.offer(&self.own_name, item).then_some(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use foca::{BroadcastHandler, Invalidates};

    fn tags(name: &str, version: u64) -> Item {
        Item::Tags(TagsItem {
            name: name.into(),
            version,
            tags: BTreeMap::from([("role".to_string(), "node".to_string())]),
        })
    }

    fn peer() -> NodeId {
        NodeId::new("peer".into(), "127.0.0.1:9".parse().unwrap(), 1)
    }

    #[test]
    fn items_round_trip_and_unknown_kind_is_ignored() {
        let item = tags("a", 3);
        assert_eq!(Item::decode(&item.encode().unwrap()).unwrap(), Some(item));
        let leave = Item::Leave(LeaveItem {
            name: "b".into(),
            incarnation: 9,
            forced: true,
        });
        assert_eq!(Item::decode(&leave.encode().unwrap()).unwrap(), Some(leave));
        assert_eq!(Item::decode(&[200, 1, 2, 3]).unwrap(), None);
        assert!(Item::decode(&[]).is_err());
        assert!(Item::decode(&[KIND_TAGS, 0xff]).is_err());
    }

    #[test]
    fn stale_or_repeated_items_are_not_relayed() {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let mut h = Handler::new("me".into(), shared.clone());
        let p = peer();
        let v2 = tags("a", 2).encode().unwrap();
        let v1 = tags("a", 1).encode().unwrap();
        assert!(h.receive_item(&v2, Some(&p)).unwrap().is_some());
        assert!(h.receive_item(&v2, Some(&p)).unwrap().is_none(), "repeat");
        assert!(h.receive_item(&v1, Some(&p)).unwrap().is_none(), "stale");
        let v3 = tags("a", 3).encode().unwrap();
        assert!(h.receive_item(&v3, Some(&p)).unwrap().is_some());
        let inbox = lock(&shared).take_inbox();
        assert_eq!(inbox, vec![tags("a", 2), tags("a", 3)]);
    }

    #[test]
    fn own_items_from_peers_are_ignored_but_local_adds_always_go_out() {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let mut h = Handler::new("me".into(), shared.clone());
        let mine = tags("me", 5).encode().unwrap();
        assert!(h.receive_item(&mine, Some(&peer())).unwrap().is_none());
        assert!(h.receive_item(&mine, None).unwrap().is_some());
        assert!(h.receive_item(&mine, None).unwrap().is_some(), "re-send");
        assert!(lock(&shared).take_inbox().is_empty());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let mut h = Handler::new("me".into(), shared);
        assert!(
            h.receive_item(&[KIND_LEAVE, 0xff, 0xff], Some(&peer()))
                .is_err()
        );
    }

    #[test]
    fn keys_invalidate_same_kind_and_name_only() {
        let a2 = tags("a", 2).key();
        assert!(a2.invalidates(&tags("a", 1).key()));
        assert!(a2.invalidates(&tags("a", 2).key()));
        assert!(!a2.invalidates(&tags("a", 3).key()));
        assert!(!a2.invalidates(&tags("b", 1).key()));
        let leave = Item::Leave(LeaveItem {
            name: "a".into(),
            incarnation: 100,
            forced: false,
        });
        assert!(!leave.key().invalidates(&a2));
    }
}
