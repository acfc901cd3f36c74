//! The member table: serf statuses derived from foca's view plus tags and leave intents; emits
//! the [`MemberEvent`]s and reaps failed/left members. Pure logic, no I/O.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::broadcast::{Item, LeaveItem, TagsItem};
use crate::identity::NodeId;
use crate::member::{Member, MemberEvent, MemberStatus};

#[derive(Debug)]
struct Entry {
    id: NodeId,
    status: MemberStatus,
    since: Instant,
}

#[derive(Debug)]
struct TagRecord {
    version: u64,
    tags: BTreeMap<String, String>,
    at: Instant,
}

#[derive(Debug)]
struct Intent {
    incarnation: u64,
    at: Instant,
}

/// Peers of the local member, keyed by name.
#[derive(Debug)]
pub(crate) struct Table {
    own_name: String,
    entries: BTreeMap<String, Entry>,
    tags: HashMap<String, TagRecord>,
    intents: HashMap<String, Intent>,
    /// Entries alive or leaving (kept up to date, so the count is O(1)).
    present: usize,
    /// Names whose public view changed since [`Table::take_changed`].
    changed: HashSet<String>,
    /// When tags and intents of unknown names are next checked for expiry.
    next_orphan_sweep: Option<Instant>,
}

/// How often [`Table::reap`] looks for tags and intents of names it never saw alive.
const ORPHAN_SWEEP: Duration = Duration::from_secs(10);

/// `force_leave` of a name the table does not hold.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NotFound;

fn member_of(name: &str, entry: &Entry, tags: &HashMap<String, TagRecord>) -> Member {
    Member {
        name: name.to_owned(),
        addr: entry.id.addr.ip(),
        port: entry.id.addr.port(),
        tags: tags.get(name).map(|r| r.tags.clone()).unwrap_or_default(),
        status: entry.status,
        incarnation: entry.id.incarnation,
    }
}

impl Table {
    pub fn new(own_name: String) -> Self {
        Self {
            own_name,
            entries: BTreeMap::new(),
            tags: HashMap::new(),
            intents: HashMap::new(),
            present: 0,
            changed: HashSet::new(),
            next_orphan_sweep: None,
        }
    }

    fn touch(&mut self, name: &str) {
        if !self.changed.contains(name) {
            self.changed.insert(name.to_owned());
        }
    }

    /// Names whose member view changed (added, updated or removed) since the last call.
    pub fn take_changed(&mut self) -> HashSet<String> {
        std::mem::take(&mut self.changed)
    }

    /// The current view of one member.
    pub fn member(&self, name: &str) -> Option<Member> {
        self.entries
            .get(name)
            .map(|e| member_of(name, e, &self.tags))
    }

    /// Applies one foca `MemberUp` (the identity is active now), following the same rule as
    /// [`Table::sync`]: an active identity replaces an inactive one, or an active one with a
    /// lower or equal incarnation.
    pub fn up(&mut self, id: &NodeId, now: Instant) -> Option<MemberEvent> {
        if id.name.is_empty() || id.name == self.own_name {
            return None;
        }
        if let Some(e) = self.entries.get(&id.name)
            && e.status.is_present()
            && id.incarnation < e.id.incarnation
        {
            return None;
        }
        let name = id.name.clone();
        self.mark_up(&name, id, now)
    }

    /// Reconciles with foca's full membership (`(identity, active)` pairs, down ones included).
    pub fn sync<'a>(
        &mut self,
        view: impl IntoIterator<Item = (&'a NodeId, bool)>,
        now: Instant,
    ) -> Vec<MemberEvent> {
        // Best identity per name: active first, then the newest incarnation.
        let mut best: HashMap<&'a str, (&'a NodeId, bool)> = HashMap::new();
        for (id, active) in view {
            if id.name.is_empty() || id.name == self.own_name {
                continue;
            }
            match best.get(id.name.as_str()) {
                Some(&(cur, cur_active))
                    if (cur_active, cur.incarnation) >= (active, id.incarnation) => {}
                _ => {
                    best.insert(id.name.as_str(), (id, active));
                }
            }
        }

        let mut events = Vec::new();
        let vanished: Vec<String> = self
            .entries
            .iter()
            .filter(|(name, e)| e.status.is_present() && !best.contains_key(name.as_str()))
            .map(|(name, _)| name.clone())
            .collect();
        for name in vanished {
            events.extend(self.mark_down(&name, None, now));
        }
        for (name, (id, active)) in best {
            let event = if active {
                self.mark_up(name, id, now)
            } else {
                self.mark_down(name, Some(id), now)
            };
            events.extend(event);
        }
        events
    }

    fn mark_up(&mut self, name: &str, id: &NodeId, now: Instant) -> Option<MemberEvent> {
        let Some(e) = self.entries.get_mut(name) else {
            let entry = Entry {
                id: id.clone(),
                status: MemberStatus::Alive,
                since: now,
            };
            let member = member_of(name, &entry, &self.tags);
            self.entries.insert(name.to_owned(), entry);
            self.present += 1;
            self.touch(name);
            return Some(MemberEvent::Join(member));
        };
        if e.status.is_present() {
            if e.id == *id {
                return None;
            }
            if e.id.incarnation != id.incarnation {
                // A new life of the member: an old leave intent does not apply to it.
                e.status = MemberStatus::Alive;
            }
            e.id = id.clone();
            let event = MemberEvent::Update(member_of(name, e, &self.tags));
            self.touch(name);
            return Some(event);
        }
        e.id = id.clone();
        e.status = MemberStatus::Alive;
        e.since = now;
        let event = MemberEvent::Join(member_of(name, e, &self.tags));
        self.present += 1;
        self.touch(name);
        Some(event)
    }

    fn mark_down(&mut self, name: &str, id: Option<&NodeId>, now: Instant) -> Option<MemberEvent> {
        let e = self.entries.get_mut(name)?;
        if let Some(id) = id
            && id.incarnation >= e.id.incarnation
            && e.id != *id
        {
            e.id = id.clone();
            self.changed.insert(name.to_owned());
        }
        if !e.status.is_present() {
            return None;
        }
        self.present -= 1;
        self.changed.insert(name.to_owned());
        let left = e.status == MemberStatus::Leaving
            || self
                .intents
                .get(name)
                .is_some_and(|i| i.incarnation == e.id.incarnation);
        e.status = if left {
            MemberStatus::Left
        } else {
            MemberStatus::Failed
        };
        e.since = now;
        let member = member_of(name, e, &self.tags);
        Some(if left {
            MemberEvent::Left(member)
        } else {
            MemberEvent::Failed(member)
        })
    }

    /// Applies a broadcast item received from a peer.
    pub fn apply(&mut self, item: Item, now: Instant) -> Option<MemberEvent> {
        if item.name() == self.own_name {
            return None;
        }
        match item {
            Item::Tags(t) => self.apply_tags(t, now),
            Item::Leave(l) => self.apply_leave(l, now),
            // User events are delivered by the pool task, never applied to the table.
            Item::Event(_) => None,
        }
    }

    fn apply_tags(&mut self, t: TagsItem, now: Instant) -> Option<MemberEvent> {
        let previous = self.tags.get(&t.name);
        if previous.is_some_and(|r| r.version >= t.version) {
            return None;
        }
        let changed = previous.is_none_or(|r| r.tags != t.tags);
        self.tags.insert(
            t.name.clone(),
            TagRecord {
                version: t.version,
                tags: t.tags,
                at: now,
            },
        );
        let e = self.entries.get(&t.name)?;
        if changed {
            self.changed.insert(t.name.clone());
        }
        (changed && e.status.is_present())
            .then(|| MemberEvent::Update(member_of(&t.name, e, &self.tags)))
    }

    fn apply_leave(&mut self, l: LeaveItem, now: Instant) -> Option<MemberEvent> {
        if !l.forced
            && self
                .intents
                .get(&l.name)
                .is_none_or(|i| i.incarnation <= l.incarnation)
        {
            self.intents.insert(
                l.name.clone(),
                Intent {
                    incarnation: l.incarnation,
                    at: now,
                },
            );
        }
        let e = self.entries.get_mut(&l.name)?;
        if e.id.incarnation != l.incarnation {
            return None;
        }
        match e.status {
            MemberStatus::Alive if !l.forced => {
                e.status = MemberStatus::Leaving;
                self.changed.insert(l.name);
                None
            }
            MemberStatus::Failed => {
                e.status = MemberStatus::Left;
                e.since = now;
                let event = MemberEvent::Left(member_of(&l.name, e, &self.tags));
                self.changed.insert(l.name);
                Some(event)
            }
            _ => None,
        }
    }

    /// Operator force-leave: a failed member becomes left. Returns the event and the member's
    /// incarnation (for the intent to broadcast); `Ok(None)` when the member is not failed.
    pub fn force_leave(
        &mut self,
        name: &str,
        now: Instant,
    ) -> Result<Option<(MemberEvent, u64)>, NotFound> {
        let e = self.entries.get_mut(name).ok_or(NotFound)?;
        if e.status != MemberStatus::Failed {
            return Ok(None);
        }
        e.status = MemberStatus::Left;
        e.since = now;
        let event = MemberEvent::Left(member_of(name, e, &self.tags));
        let incarnation = e.id.incarnation;
        self.touch(name);
        Ok(Some((event, incarnation)))
    }

    /// Forgets a left member now (force-leave `-prune`) instead of at its tombstone timeout.
    /// Alive, leaving and failed members are kept: force-leave first turns failed into left.
    pub fn prune(&mut self, name: &str) -> Option<MemberEvent> {
        if self.entries.get(name)?.status != MemberStatus::Left {
            return None;
        }
        let e = self.entries.remove(name)?;
        let event = MemberEvent::Reap(member_of(name, &e, &self.tags));
        self.touch(name);
        self.tags.remove(name);
        self.intents.remove(name);
        Some(event)
    }

    /// Forgets failed members older than `reconnect` and left ones older than `tombstone`.
    pub fn reap(
        &mut self,
        now: Instant,
        reconnect: Duration,
        tombstone: Duration,
    ) -> Vec<MemberEvent> {
        let sweep_due = self.next_orphan_sweep.is_none_or(|at| now >= at);
        if self.entries.len() == self.present && !sweep_due {
            // Nobody failed or left, and no orphan sweep due: nothing to look at.
            return Vec::new();
        }
        let expired: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| {
                let age = now.saturating_duration_since(e.since);
                match e.status {
                    MemberStatus::Failed => age >= reconnect,
                    MemberStatus::Left => age >= tombstone,
                    MemberStatus::Alive | MemberStatus::Leaving => false,
                }
            })
            .map(|(name, _)| name.clone())
            .collect();
        let mut events = Vec::with_capacity(expired.len());
        for name in expired {
            if let Some(e) = self.entries.remove(&name) {
                events.push(MemberEvent::Reap(member_of(&name, &e, &self.tags)));
                self.touch(&name);
            }
            self.tags.remove(&name);
            self.intents.remove(&name);
        }
        if !sweep_due {
            return events;
        }
        self.next_orphan_sweep = Some(now + ORPHAN_SWEEP);
        // Tags and intents of names never seen alive do not live longer than a tombstone.
        let entries = &self.entries;
        self.tags.retain(|name, r| {
            now.saturating_duration_since(r.at) < tombstone || entries.contains_key(name)
        });
        self.intents.retain(|name, i| {
            now.saturating_duration_since(i.at) < tombstone || entries.contains_key(name)
        });
        events
    }

    /// Members alive or leaving.
    pub fn present_count(&self) -> usize {
        debug_assert_eq!(
            self.present,
            self.entries
                .values()
                .filter(|e| e.status.is_present())
                .count()
        );
        self.present
    }

    /// Whether a present member advertises `addr`.
    pub fn has_present_addr(&self, addr: SocketAddr) -> bool {
        self.entries
            .values()
            .any(|e| e.status.is_present() && e.id.addr == addr)
    }

    /// The tags of the members alive or leaving, as broadcast items (for a state sync).
    pub fn tags_items(&self) -> impl Iterator<Item = TagsItem> + '_ {
        self.entries
            .iter()
            .filter(|(_, e)| e.status.is_present())
            .filter_map(|(name, _)| {
                self.tags.get(name).map(|r| TagsItem {
                    name: name.clone(),
                    version: r.version,
                    tags: r.tags.clone(),
                })
            })
    }

    /// Applies one foca `MemberDown` (the identity is down now), following the same rule as
    /// [`Table::sync`]: a member whose current identity is another, active one stays as it is.
    pub fn down(&mut self, id: &NodeId, now: Instant) -> Option<MemberEvent> {
        if id.name.is_empty() || id.name == self.own_name {
            return None;
        }
        let e = self.entries.get(&id.name)?;
        if e.status.is_present() && e.id != *id {
            return None;
        }
        let name = id.name.clone();
        self.mark_down(&name, Some(id), now)
    }

    /// Whether `id` is the identity of a member known alive.
    pub fn is_alive_as(&self, id: &NodeId) -> bool {
        self.entries
            .get(&id.name)
            .is_some_and(|e| e.status == MemberStatus::Alive && e.id == *id)
    }

    /// The address of a member if it is alive.
    pub fn alive_addr(&self, name: &str) -> Option<SocketAddr> {
        self.entries
            .get(name)
            .filter(|e| e.status == MemberStatus::Alive)
            .map(|e| e.id.addr)
    }

    /// Names and addresses of the members currently alive.
    pub fn alive_addrs(&self) -> impl Iterator<Item = (&str, SocketAddr)> + '_ {
        self.entries
            .iter()
            .filter(|(_, e)| e.status == MemberStatus::Alive)
            .map(|(name, e)| (name.as_str(), e.id.addr))
    }

    /// Addresses of the members that failed (not left) and are not reaped yet.
    pub fn failed_addrs(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.entries
            .values()
            .filter(|e| e.status == MemberStatus::Failed)
            .map(|e| e.id.addr)
    }

    #[cfg(test)]
    pub fn members(&self) -> impl Iterator<Item = Member> + '_ {
        self.entries
            .iter()
            .map(|(name, e)| member_of(name, e, &self.tags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str, port: u16, inc: u64) -> NodeId {
        NodeId::new(name.into(), SocketAddr::from(([127, 0, 0, 1], port)), inc)
    }

    fn status(t: &Table, name: &str) -> Option<MemberStatus> {
        t.members().find(|m| m.name == name).map(|m| m.status)
    }

    fn kinds(events: &[MemberEvent]) -> Vec<(&'static str, String)> {
        events
            .iter()
            .map(|e| {
                let k = match e {
                    MemberEvent::Join(_) => "join",
                    MemberEvent::Update(_) => "update",
                    MemberEvent::Failed(_) => "failed",
                    MemberEvent::Left(_) => "left",
                    MemberEvent::Reap(_) => "reap",
                };
                (k, e.member().name.clone())
            })
            .collect()
    }

    fn leave(name: &str, incarnation: u64, forced: bool) -> Item {
        Item::Leave(LeaveItem {
            name: name.into(),
            incarnation,
            forced,
        })
    }

    #[test]
    fn up_then_down_without_intent_is_failed() {
        let now = Instant::now();
        let mut t = Table::new("me".into());
        let b = id("b", 2, 10);
        assert_eq!(kinds(&t.sync([(&b, true)], now)), [("join", "b".into())]);
        assert!(t.sync([(&b, true)], now).is_empty(), "no change, no event");
        assert_eq!(t.alive_addrs().collect::<Vec<_>>(), [("b", b.addr)]);
        assert_eq!(kinds(&t.sync([(&b, false)], now)), [("failed", "b".into())]);
        assert_eq!(status(&t, "b"), Some(MemberStatus::Failed));
        assert_eq!(t.present_count(), 0);
        assert_eq!(t.alive_addrs().count(), 0);
    }

    #[test]
    fn incremental_up_follows_the_sync_rule() {
        let now = Instant::now();
        let mut t = Table::new("me".into());
        let (b10, b20, b5) = (id("b", 2, 10), id("b", 2, 20), id("b", 2, 5));
        assert_eq!(
            kinds(&t.up(&b10, now).into_iter().collect::<Vec<_>>()),
            [("join", "b".into())]
        );
        assert!(t.up(&b10, now).is_none(), "same identity");
        assert!(t.up(&b5, now).is_none(), "older life while present");
        assert!(matches!(t.up(&b20, now), Some(MemberEvent::Update(_))));
        assert_eq!(t.members().next().unwrap().incarnation, 20);
        t.sync([(&b20, false)], now);
        assert_eq!(t.present_count(), 0);
        assert!(
            matches!(t.up(&b5, now), Some(MemberEvent::Join(_))),
            "active beats inactive"
        );
        assert_eq!(t.present_count(), 1);
        assert!(t.up(&id("me", 1, 1), now).is_none());
        assert!(t.up(&NodeId::seed(b5.addr), now).is_none());
    }

    #[test]
    fn incremental_down_follows_the_sync_rule() {
        let now = Instant::now();
        let mut t = Table::new("me".into());
        let (b10, b20) = (id("b", 2, 10), id("b", 3, 20));
        t.up(&b10, now);
        t.up(&b20, now);
        assert!(
            t.down(&b10, now).is_none(),
            "the current identity is another, active one"
        );
        assert_eq!(t.present_count(), 1);
        assert!(matches!(t.down(&b20, now), Some(MemberEvent::Failed(_))));
        assert_eq!(t.present_count(), 0);
        assert!(t.down(&b20, now).is_none(), "already down");
        assert!(t.down(&id("nobody", 9, 1), now).is_none());
        assert!(t.down(&id("me", 1, 1), now).is_none());
        // Same outcome as a full reconcile.
        let mut full = Table::new("me".into());
        full.sync([(&b10, true)], now);
        full.sync([(&b10, false), (&b20, false)], now);
        assert_eq!(
            full.members().collect::<Vec<_>>(),
            t.members().collect::<Vec<_>>()
        );
    }

    #[test]
    fn changed_names_are_tracked_for_publishing() {
        let now = Instant::now();
        let mut t = Table::new("me".into());
        let b = id("b", 2, 10);
        t.sync([(&b, true)], now);
        assert_eq!(t.take_changed(), HashSet::from(["b".to_string()]));
        assert!(t.take_changed().is_empty());
        t.sync([(&b, true)], now);
        assert!(t.take_changed().is_empty(), "nothing changed");
        let tags = Item::Tags(TagsItem {
            name: "b".into(),
            version: 1,
            tags: BTreeMap::from([("role".into(), "node".into())]),
        });
        t.apply(tags, now);
        assert_eq!(t.take_changed(), HashSet::from(["b".to_string()]));
        t.apply(leave("b", 10, false), now);
        assert_eq!(t.take_changed().len(), 1, "alive -> leaving");
        t.sync([(&b, false)], now);
        assert_eq!(t.take_changed().len(), 1, "left");
        t.reap(
            now + Duration::from_secs(100),
            Duration::from_secs(1),
            Duration::from_secs(1),
        );
        assert_eq!(t.take_changed().len(), 1, "reaped");
        assert!(t.member("b").is_none());
    }

    #[test]
    fn graceful_leave_is_left_even_if_intent_and_down_arrive_together() {
        let now = Instant::now();
        let mut t = Table::new("me".into());
        let b = id("b", 2, 10);
        t.sync([(&b, true)], now);
        assert_eq!(t.apply(leave("b", 10, false), now), None);
        assert_eq!(status(&t, "b"), Some(MemberStatus::Leaving));
        assert_eq!(kinds(&t.sync([(&b, false)], now)), [("left", "b".into())]);
    }

    #[test]
    fn intent_after_failure_upgrades_to_left_and_stale_intent_does_not() {
        let now = Instant::now();
        let mut t = Table::new("me".into());
        let b = id("b", 2, 10);
        t.sync([(&b, true)], now);
        t.sync([(&b, false)], now);
        assert_eq!(t.apply(leave("b", 9, false), now), None, "older life");
        assert_eq!(status(&t, "b"), Some(MemberStatus::Failed));
        let ev = t.apply(leave("b", 10, false), now).unwrap();
        assert!(matches!(ev, MemberEvent::Left(ref m) if m.name == "b"));
    }

    #[test]
    fn restart_with_newer_incarnation_rejoins() {
        let now = Instant::now();
        let mut t = Table::new("me".into());
        let old = id("b", 2, 10);
        let new = id("b", 2, 20);
        t.sync([(&old, true)], now);
        t.sync([(&old, false)], now);
        let ev = t.sync([(&old, false), (&new, true)], now);
        assert_eq!(kinds(&ev), [("join", "b".into())]);
        assert_eq!(t.members().next().unwrap().incarnation, 20);
    }

    #[test]
    fn member_that_vanishes_from_foca_is_failed() {
        let now = Instant::now();
        let mut t = Table::new("me".into());
        let b = id("b", 2, 10);
        t.sync([(&b, true)], now);
        assert_eq!(kinds(&t.sync([], now)), [("failed", "b".into())]);
    }

    #[test]
    fn own_name_and_seed_placeholders_are_ignored() {
        let now = Instant::now();
        let mut t = Table::new("me".into());
        let me_old = id("me", 1, 1);
        let seed = NodeId::seed(SocketAddr::from(([127, 0, 0, 1], 5)));
        assert!(t.sync([(&me_old, false), (&seed, true)], now).is_empty());
        assert_eq!(t.members().count(), 0);
    }

    #[test]
    fn tags_update_alive_members_only_when_newer() {
        let now = Instant::now();
        let mut t = Table::new("me".into());
        let tags = |v: u64, role: &str| {
            Item::Tags(TagsItem {
                name: "b".into(),
                version: v,
                tags: BTreeMap::from([("role".into(), role.into())]),
            })
        };
        assert_eq!(t.apply(tags(5, "node"), now), None, "not a member yet");
        let b = id("b", 2, 10);
        let ev = t.sync([(&b, true)], now);
        assert_eq!(
            ev[0].member().tags["role"],
            "node",
            "join carries known tags"
        );
        assert_eq!(t.apply(tags(5, "node"), now), None);
        assert_eq!(t.apply(tags(4, "consul"), now), None, "stale");
        let ev = t.apply(tags(6, "consul"), now).unwrap();
        assert!(matches!(ev, MemberEvent::Update(ref m) if m.tags["role"] == "consul"));
    }

    #[test]
    fn force_leave_only_moves_failed_members() {
        let now = Instant::now();
        let mut t = Table::new("me".into());
        let b = id("b", 2, 10);
        assert_eq!(t.force_leave("b", now), Err(NotFound));
        t.sync([(&b, true)], now);
        assert_eq!(t.force_leave("b", now), Ok(None));
        t.sync([(&b, false)], now);
        let (ev, inc) = t.force_leave("b", now).unwrap().unwrap();
        assert!(matches!(ev, MemberEvent::Left(_)));
        assert_eq!(inc, 10);
        assert_eq!(status(&t, "b"), Some(MemberStatus::Left));
        assert!(matches!(t.prune("b"), Some(MemberEvent::Reap(_))));
        assert_eq!(status(&t, "b"), None);
        assert_eq!(t.prune("b"), None);
    }

    #[test]
    fn forced_intent_from_peer_moves_failed_not_alive() {
        let now = Instant::now();
        let mut t = Table::new("me".into());
        let b = id("b", 2, 10);
        t.sync([(&b, true)], now);
        assert_eq!(t.apply(leave("b", 10, true), now), None);
        assert_eq!(status(&t, "b"), Some(MemberStatus::Alive));
        assert_eq!(kinds(&t.sync([(&b, false)], now)), [("failed", "b".into())]);
        assert!(t.apply(leave("b", 11, true), now).is_none());
        assert!(matches!(
            t.apply(leave("b", 10, true), now),
            Some(MemberEvent::Left(_))
        ));
    }

    #[test]
    fn reaping_honours_reconnect_and_tombstone_timeouts() {
        let t0 = Instant::now();
        let mut t = Table::new("me".into());
        let (b, c, d) = (id("b", 2, 1), id("c", 3, 1), id("d", 4, 1));
        t.sync([(&b, true), (&c, true), (&d, true)], t0);
        t.apply(leave("c", 1, false), t0);
        t.sync([(&b, false), (&c, false), (&d, true)], t0);
        assert_eq!(status(&t, "b"), Some(MemberStatus::Failed));
        assert_eq!(status(&t, "c"), Some(MemberStatus::Left));
        let (reconnect, tombstone) = (Duration::from_secs(100), Duration::from_secs(50));
        assert!(
            t.reap(t0 + Duration::from_secs(49), reconnect, tombstone)
                .is_empty()
        );
        let ev = t.reap(t0 + Duration::from_secs(50), reconnect, tombstone);
        assert_eq!(kinds(&ev), [("reap", "c".into())]);
        let ev = t.reap(t0 + Duration::from_secs(100), reconnect, tombstone);
        assert_eq!(kinds(&ev), [("reap", "b".into())]);
        assert_eq!(t.members().map(|m| m.name).collect::<Vec<_>>(), ["d"]);
    }
}
