//! Network areas on a server (praetor offers Consul Enterprise's RPC-only federation openly):
//! one gossip pool per area, carried over the server RPC port (TLS when configured, never
//! UDP), kept in step with the `areas` table (raft) of this datacenter; joins (the area's
//! `retry_join`, `PUT /v1/operator/area/<id>/join`, and this datacenter's other servers); and
//! the router fed with each area's members, coordinates and `reach` adverts (multi-hop).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use praetor_gossip::{
    BoxStream, Hello, MemberStatus, Pool, PoolConfig, Profile, StreamDialer, Timing, Transport,
};
use praetor_rpc::{Advert, AreaJoinResult, AreaMember, RpcError};
use praetor_state::{Area, Query, QueryResult};
use tokio::task::JoinHandle;

use crate::coordinates::Coordinates;
use crate::{Shared, resolve_join, wan};

/// How often an area's router view, adverts and joins are refreshed.
const REFRESH: Duration = Duration::from_secs(2);
/// How often an area without peers retries its `retry_join` addresses.
const RETRY_JOIN: Duration = Duration::from_secs(10);
/// Dial timeout of an area gossip stream.
const DIAL_TIMEOUT: Duration = Duration::from_secs(2);
/// The default port of an area join address (the server RPC port).
const DEFAULT_PORT: u16 = 8300;

/// The pool name both datacenters of an area agree on: the two names, sorted.
pub(crate) fn pool_id(a: &str, b: &str) -> String {
    if a <= b {
        format!("{a}|{b}")
    } else {
        format!("{b}|{a}")
    }
}

struct AreaPool {
    area: Area,
    pool: Pool,
    coords: Arc<Coordinates>,
    tasks: Vec<JoinHandle<()>>,
}

/// The areas this server takes part in (keyed by area ID).
#[derive(Default)]
pub(crate) struct Areas {
    pools: Mutex<BTreeMap<String, AreaPool>>,
}

impl Areas {
    fn pool(&self, id: &str) -> Option<(Area, Pool, Arc<Coordinates>)> {
        let pools = self.pools.lock().ok()?;
        let p = pools.get(id)?;
        Some((p.area.clone(), p.pool.clone(), p.coords.clone()))
    }

    fn by_pool_id(&self, local_dc: &str, pool: &str) -> Option<Pool> {
        let pools = self.pools.lock().ok()?;
        pools
            .values()
            .find(|p| pool_id(local_dc, &p.area.peer_datacenter) == pool)
            .map(|p| p.pool.clone())
    }

    /// Every area pool (for shutdown and leave).
    pub(crate) fn all(&self) -> Vec<Pool> {
        self.pools
            .lock()
            .map(|p| p.values().map(|a| a.pool.clone()).collect())
            .unwrap_or_default()
    }
}

/// Dials area gossip streams to servers' RPC ports. The certificate expected is that of the
/// local datacenter for this datacenter's servers, the peer's otherwise.
struct AreaDialer {
    shared: std::sync::Weak<Shared>,
    peer_dc: String,
}

#[async_trait::async_trait]
impl StreamDialer for AreaDialer {
    async fn dial(&self, addr: SocketAddr) -> std::io::Result<BoxStream> {
        let shared = self
            .shared
            .upgrade()
            .ok_or_else(|| std::io::Error::other("agent is shutting down"))?;
        let local = shared.rpc.servers().iter().any(|s| s.rpc_addr == addr);
        let target = if local {
            shared.config.datacenter.as_str()
        } else {
            self.peer_dc.as_str()
        };
        let conn =
            praetor_tls::dial_gossip(shared.rpc_tls.as_ref(), addr, target, DIAL_TIMEOUT).await?;
        Ok(Box::new(conn))
    }
}

/// Keeps the area pools in step with the `areas` table (servers only).
pub(crate) async fn run(shared: Arc<Shared>) {
    let Some(consensus) = shared.consensus.clone() else {
        return;
    };
    let store = consensus.store().clone();
    let mut index = 0;
    loop {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
        let out = store.blocking_query(&Query::Areas, index, deadline).await;
        index = out.index;
        if let QueryResult::Areas(areas) = out.result {
            reconcile(&shared, areas).await;
        }
    }
}

async fn reconcile(shared: &Arc<Shared>, areas: Vec<Area>) {
    let existing: Vec<String> = shared
        .areas
        .pools
        .lock()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    // Deleted areas: leave and stop.
    for id in existing
        .iter()
        .filter(|id| !areas.iter().any(|a| &a.id == *id))
    {
        let removed = shared
            .areas
            .pools
            .lock()
            .ok()
            .and_then(|mut p| p.remove(id));
        if let Some(a) = removed {
            for t in &a.tasks {
                t.abort();
            }
            let _ = a.pool.leave(Duration::from_secs(2)).await;
            a.pool.shutdown().await;
            shared.rpc.remove_area(id);
            tracing::info!(area = %id, peer = %a.area.peer_datacenter, "left network area");
        }
    }
    for area in areas {
        if existing.contains(&area.id) {
            if let Ok(mut p) = shared.areas.pools.lock()
                && let Some(a) = p.get_mut(&area.id)
            {
                a.area = area; // retry_join / use_tls changes
            }
            continue;
        }
        match start_area(shared, &area).await {
            Ok(a) => {
                tracing::info!(area = %area.id, peer = %area.peer_datacenter, "joined network area");
                if let Ok(mut p) = shared.areas.pools.lock() {
                    p.insert(area.id.clone(), a);
                }
            }
            Err(e) => tracing::error!(area = %area.id, error = %e, "cannot start network area"),
        }
    }
}

async fn start_area(shared: &Arc<Shared>, area: &Area) -> Result<AreaPool, String> {
    let cfg = &shared.config;
    let name = wan::wan_name(&cfg.node_name, &cfg.datacenter);
    let rpc_addr = SocketAddr::new(cfg.advertise_addr_wan, cfg.ports.server);
    // No socket is bound in stream mode; the member's address is its RPC address.
    let mut pc = PoolConfig::new(name.clone(), rpc_addr, Profile::Wan);
    pc.advertise = rpc_addr;
    pc.tags = shared.wan_tags.clone();
    pc.timing = Some(wan::timing(Timing::wan(), &cfg.gossip_wan));
    pc.send_delay = wan::test_send_delay();
    let transport = Transport::Stream {
        pool_id: pool_id(&cfg.datacenter, &area.peer_datacenter),
        dialer: Arc::new(AreaDialer {
            shared: Arc::downgrade(shared),
            peer_dc: area.peer_datacenter.clone(),
        }),
    };
    let pool = Pool::start_with(pc, transport)
        .await
        .map_err(|e| e.to_string())?;
    let coords = Arc::new(Coordinates::new(&format!("{name}/{}", area.id)));
    let tasks = vec![
        tokio::spawn(crate::coordinates::track(pool.clone(), coords.clone())),
        tokio::spawn(maintain(
            shared.clone(),
            area.id.clone(),
            pool.clone(),
            coords.clone(),
        )),
    ];
    Ok(AreaPool {
        area: area.clone(),
        pool,
        coords,
        tasks,
    })
}

/// Per area: feeds the router, advertises what this server reaches, joins the datacenter's
/// other servers, and retries `retry_join` while the area has no peer.
async fn maintain(shared: Arc<Shared>, id: String, pool: Pool, coords: Arc<Coordinates>) {
    let mut last_reach = String::new();
    let mut last_retry: Option<tokio::time::Instant> = None;
    let mut events = pool.subscribe();
    loop {
        let Some((area, _, _)) = shared.areas.pool(&id) else {
            return;
        };
        let members = pool.members();
        feed_router(&shared, &id, &pool, &coords);
        // Advertise what this server reaches (multi-hop routing).
        let reach = format_reach(&shared.rpc.reach(), &area.peer_datacenter);
        if reach != last_reach {
            let mut tags = shared.wan_tags.clone();
            if !reach.is_empty() {
                tags.insert("reach".into(), reach.clone());
            }
            if pool.set_tags(tags).await.is_ok() {
                last_reach = reach;
            }
        }
        // This datacenter's other servers join the area through us.
        let present: Vec<String> = members
            .iter()
            .filter(|m| m.status.is_present())
            .map(|m| m.name.clone())
            .collect();
        for s in shared.rpc.servers() {
            let name = wan::wan_name(&s.name, &shared.config.datacenter);
            if !present.contains(&name) {
                let _ = pool.join(&[s.rpc_addr], Duration::from_secs(2)).await;
            }
        }
        // retry_join while no server of the peer datacenter is known.
        let has_peer = members.iter().any(|m| {
            m.status == MemberStatus::Alive
                && m.tags.get("dc").map(String::as_str) == Some(area.peer_datacenter.as_str())
        });
        let due = last_retry.is_none_or(|t| t.elapsed() >= RETRY_JOIN);
        if !has_peer && due && !area.retry_join.is_empty() {
            last_retry = Some(tokio::time::Instant::now());
            let mut addrs = Vec::new();
            for a in &area.retry_join {
                addrs.extend(resolve_join(a, DEFAULT_PORT).await);
            }
            if let Err(e) = pool.join(&addrs, Duration::from_secs(5)).await {
                tracing::debug!(area = %id, error = %e, "area retry join failed");
            }
        }
        // At once on a membership change (a member, or its tags, arriving), else every
        // REFRESH (coordinates move).
        if let Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) =
            tokio::time::timeout(REFRESH, events.recv()).await
        {
            return;
        }
    }
}

/// Hands the router the area's members and coordinates, plus the adverts of the peer's
/// servers (multi-hop routing).
fn feed_router(shared: &Shared, id: &str, pool: &Pool, coords: &Coordinates) {
    let mut adverts = Vec::new();
    for m in pool.members() {
        let (Some(dc), Some(reach)) = (m.tags.get("dc"), m.tags.get("reach")) else {
            continue;
        };
        if m.status == MemberStatus::Alive
            && wan::server_port(&m).is_some()
            && dc != &shared.config.datacenter
        {
            adverts.extend(parse_reach(dc, reach));
        }
    }
    shared.rpc.set_area(id, wan::view(pool, coords), adverts);
}

/// `reach` tag: `dc=<cost ms>/<hops>` entries separated by `;`, without the area's peer (it
/// reaches itself).
fn format_reach(reach: &[(String, f64, u32)], peer: &str) -> String {
    reach
        .iter()
        .filter(|(dc, _, _)| dc != peer)
        .map(|(dc, cost, hops)| format!("{dc}={cost:.1}/{hops}"))
        .collect::<Vec<_>>()
        .join(";")
}

fn parse_reach(via: &str, tag: &str) -> Vec<Advert> {
    tag.split(';')
        .filter_map(|entry| {
            let (dc, rest) = entry.split_once('=')?;
            let (cost, hops) = rest.split_once('/')?;
            Some(Advert {
                via: via.to_string(),
                target: dc.to_string(),
                rtt_ms: cost
                    .parse()
                    .ok()
                    .filter(|c: &f64| c.is_finite() && *c >= 0.0)?,
                hops: hops.parse().ok()?,
            })
        })
        .collect()
}

/// Hands area gossip streams accepted on the RPC port to their pool.
pub(crate) async fn accept_streams(shared: Arc<Shared>, mut incoming: praetor_tls::GossipIncoming) {
    while let Some((peer, conn)) = incoming.recv().await {
        let shared = shared.clone();
        tokio::spawn(async move {
            // With TLS, only servers (of any datacenter) may take part in an area.
            if let Some(tls) = &shared.rpc_tls
                && peer.tls
                && !peer.is_any_server(tls.domain())
            {
                tracing::warn!(remote = %peer.remote, "refusing area gossip from a non-server certificate");
                return;
            }
            let mut stream: BoxStream = Box::new(conn);
            let hello: Hello =
                match praetor_gossip::read_hello(&mut stream, Duration::from_secs(5)).await {
                    Ok(h) => h,
                    Err(e) => {
                        tracing::debug!(remote = %peer.remote, error = %e, "bad area gossip hello");
                        return;
                    }
                };
            match shared
                .areas
                .by_pool_id(&shared.config.datacenter, &hello.pool_id)
            {
                Some(pool) => pool.accept_stream(hello, stream),
                None => {
                    tracing::debug!(pool = %hello.pool_id, "area gossip for an area we do not have")
                }
            }
        });
    }
}

/// `Request::AreaJoin`: joins area `id` through each address.
pub(crate) async fn join(
    shared: &Shared,
    id: &str,
    addresses: &[String],
) -> Result<Vec<AreaJoinResult>, RpcError> {
    let (_, pool, _) = shared
        .areas
        .pool(id)
        .ok_or_else(|| RpcError::BadRequest(format!("area {id:?} not found")))?;
    let mut out = Vec::new();
    for a in addresses {
        let addrs = resolve_join(a, DEFAULT_PORT).await;
        let result = if addrs.is_empty() {
            Err(format!("cannot resolve {a:?}"))
        } else {
            pool.join(&addrs, Duration::from_secs(5))
                .await
                .map_err(|e| e.to_string())
        };
        out.push(AreaJoinResult {
            address: a.clone(),
            joined: result.is_ok(),
            error: result.err().unwrap_or_default(),
        });
    }
    Ok(out)
}

/// `Request::AreaMembers`: the members of area `id` with the RTT estimated from here.
pub(crate) fn members(shared: &Shared, id: &str) -> Result<Vec<AreaMember>, RpcError> {
    let (_, pool, coords) = shared
        .areas
        .pool(id)
        .ok_or_else(|| RpcError::BadRequest(format!("area {id:?} not found")))?;
    // Listed alive means routable: the router takes the pool's view first, and a member whose
    // tags (datacenter, port) have not arrived yet is not listed.
    feed_router(shared, id, &pool, &coords);
    let own = coords.own();
    let mut out: Vec<AreaMember> = pool
        .members()
        .into_iter()
        .filter(|m| !m.tags.is_empty())
        .map(|m| {
            let dc = m.tags.get("dc").cloned().unwrap_or_default();
            let rtt_ns = if m.name == pool.name() {
                0
            } else {
                coords
                    .peer(&m.name)
                    .map(|c| i64::try_from(own.distance_to(&c).as_nanos()).unwrap_or(i64::MAX))
                    .unwrap_or(-1)
            };
            AreaMember {
                id: m.tags.get("id").cloned().unwrap_or_default(),
                node: wan::short_name(&m.name, &dc).to_string(),
                address: m.addr.to_string(),
                port: m.port,
                datacenter: dc,
                role: "server".into(),
                build: m
                    .tags
                    .get("build")
                    .map(|b| b.split(':').next().unwrap_or_default().to_string())
                    .unwrap_or_default(),
                protocol: m.tags.get("vsn").and_then(|v| v.parse().ok()).unwrap_or(2),
                status: m.status.as_str().to_string(),
                rtt_ns,
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.datacenter, &a.node).cmp(&(&b.datacenter, &b.node)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reach_tags_round_trip() {
        let tag = format_reach(&[("dc2".into(), 0.4, 1), ("dc3".into(), 12.25, 2)], "dc2");
        assert_eq!(tag, "dc3=12.2/2");
        let ads = parse_reach("dc1", &tag);
        assert_eq!(ads.len(), 1);
        assert_eq!(
            (ads[0].via.as_str(), ads[0].target.as_str(), ads[0].hops),
            ("dc1", "dc3", 2)
        );
        assert!(parse_reach("dc1", "junk;dc4=x/1;dc5=1/").is_empty());
        assert_eq!(pool_id("dc2", "dc1"), pool_id("dc1", "dc2"));
    }
}
