//! User events (Consul's `agent/user_event.go`): sent on the LAN pool by a server of the
//! target datacenter, kept by every agent whose node, services and tags match the event's
//! filters, in a buffer of the last [`EVENT_BUFFER`] events that `/v1/event/list` reads and
//! blocks on.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use praetor_rpc::{RpcError, UserEvent};
use regex::Regex;
use tokio::sync::{broadcast, watch};

use crate::Shared;

/// How many events an agent keeps (Consul's `eventBufSize`... of user events it has seen).
pub const EVENT_BUFFER: usize = 256;

/// The agent's recent user events and a watch that moves with each new one.
pub struct EventBuffer {
    events: Mutex<VecDeque<UserEvent>>,
    index: watch::Sender<u64>,
}

impl Default for EventBuffer {
    fn default() -> Self {
        EventBuffer {
            events: Mutex::new(VecDeque::with_capacity(EVENT_BUFFER)),
            index: watch::channel(0).0,
        }
    }
}

impl EventBuffer {
    fn push(&self, e: UserEvent) {
        let index = uuid_index(&e.id);
        let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        if events.len() == EVENT_BUFFER {
            events.pop_front();
        }
        events.push_back(e);
        drop(events);
        self.index.send_replace(index);
    }

    /// The kept events, oldest first, and the list's index (derived from the newest event's
    /// ID, as Consul does; 0 when there is none).
    pub fn list(&self) -> (Vec<UserEvent>, u64) {
        let events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        let index = events.back().map(|e| uuid_index(&e.id)).unwrap_or(0);
        (events.iter().cloned().collect(), index)
    }

    /// Waits until the list's index differs from `index` or `wait` is over.
    pub async fn wait(&self, index: u64, wait: Duration) {
        let mut rx = self.index.subscribe();
        let _ = tokio::time::timeout(wait, rx.wait_for(|i| *i != index)).await;
    }
}

/// Consul's `uuidToUint64`: the UUID's first 64 bits XOR its last 64 bits, so the index of
/// `/v1/event/list` changes with every new event.
pub fn uuid_index(id: &str) -> u64 {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return 0;
    }
    let high = u64::from_str_radix(&hex[..16], 16).unwrap_or(0);
    let low = u64::from_str_radix(&hex[16..], 16).unwrap_or(0);
    high ^ low
}

/// Sends an event on this agent's LAN pool (the server side of `Request::EventFire`).
pub async fn send(shared: &Shared, mut event: UserEvent) -> Result<UserEvent, RpcError> {
    let body = postcard::to_allocvec(&event).map_err(|e| RpcError::Internal(e.to_string()))?;
    event.ltime = shared
        .lan
        .user_event(event.id.clone(), body)
        .await
        .map_err(|e| RpcError::Internal(e.to_string()))?;
    Ok(event)
}

/// Whether this agent should keep `e`: its node name matches the node filter, and, with a
/// service filter, one of its services matches (and, with a tag filter, one of that service's
/// tags). Filters are anchored-free regular expressions, as Consul's; an invalid one matches
/// nothing.
fn wanted(shared: &Shared, e: &UserEvent) -> bool {
    let re = |f: &str| Regex::new(f).ok();
    if !e.node_filter.is_empty() {
        match re(&e.node_filter) {
            Some(r) if r.is_match(&shared.config.node_name) => {}
            _ => return false,
        }
    }
    if e.service_filter.is_empty() {
        return true;
    }
    let Some(service) = re(&e.service_filter) else {
        return false;
    };
    let tag = match e.tag_filter.as_str() {
        "" => None,
        t => match re(t) {
            Some(r) => Some(r),
            None => return false,
        },
    };
    let local = shared.local.lock().unwrap_or_else(PoisonError::into_inner);
    local.services.values().any(|s| {
        service.is_match(&s.service)
            && tag
                .as_ref()
                .is_none_or(|t| s.tags.iter().any(|tag| t.is_match(tag)))
    })
}

/// Receives the LAN pool's user events into the agent's buffer until shutdown.
pub async fn run(shared: Arc<Shared>) {
    let mut rx = shared.lan.subscribe_user_events();
    let mut stop = shared.shutdown.subscribe();
    loop {
        let received = tokio::select! {
            r = rx.recv() => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        let raw = match received {
            Ok(raw) => raw,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "user events arrived faster than they were kept");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let mut event: UserEvent = match postcard::from_bytes(&raw.body) {
            Ok(e) => e,
            Err(error) => {
                tracing::debug!(%error, "dropping a malformed user event");
                continue;
            }
        };
        event.ltime = raw.ltime;
        if !wanted(&shared, &event) {
            continue;
        }
        tracing::debug!(name = %event.name, id = %event.id, "user event received");
        shared.events.push(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_index_xors_the_halves() {
        assert_eq!(uuid_index("00000000-0000-0000-0000-000000000000"), 0);
        assert_eq!(uuid_index("00000000-0000-0001-0000-000000000003"), 1 ^ 3);
        assert_eq!(uuid_index("not-a-uuid"), 0);
    }

    #[test]
    fn the_buffer_keeps_the_last_events_and_moves_its_index() {
        let b = EventBuffer::default();
        assert_eq!(b.list(), (Vec::new(), 0));
        for i in 0..(EVENT_BUFFER + 10) {
            b.push(UserEvent {
                id: format!("00000000-0000-0000-0000-{i:012x}"),
                name: format!("e{i}"),
                ..Default::default()
            });
        }
        let (events, index) = b.list();
        assert_eq!(events.len(), EVENT_BUFFER);
        assert_eq!(events[0].name, "e10");
        assert_eq!(index, (EVENT_BUFFER + 9) as u64);
    }
}
