//! The WAN side of a server (Consul's `server_serf.go`, `flood.go`, `retry_join.go`): the WAN
//! gossip pool on UDP 8302, the router's view of every datacenter fed from it, flood join
//! (LAN servers are brought into the WAN), and `retry_join_wan`.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use praetor_config::{Config, GossipSettings};
use praetor_gossip::{Member, MemberEvent, MemberStatus, Pool, PoolConfig, Profile, Timing};
use praetor_rpc::{WanServer, WanView};
use tokio::sync::broadcast;

use crate::coordinates::Coordinates;
use crate::{AgentError, Shared, plugins, resolve_join};

/// Consul's `SerfFloodInterval`.
const FLOOD_INTERVAL: Duration = Duration::from_secs(60);
/// How often the router view is refreshed even without membership events (coordinates move).
const VIEW_REFRESH: Duration = Duration::from_secs(2);

/// The WAN member name of a server: `<node>.<dc>`.
pub(crate) fn wan_name(node: &str, dc: &str) -> String {
    format!("{node}.{dc}")
}

/// Test hook: `PRAETOR_TEST_WAN_DELAY_MS` delays every datagram this agent sends on the WAN
/// pool (tc netem is not available everywhere). Not a Consul setting. Compiled only into debug
/// builds (the ones the test suite runs); a release binary never reads it.
#[cfg(not(debug_assertions))]
pub(crate) fn test_send_delay() -> Duration {
    Duration::ZERO
}

#[cfg(debug_assertions)]
pub(crate) fn test_send_delay() -> Duration {
    std::env::var("PRAETOR_TEST_WAN_DELAY_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or_default()
}

/// Test hook: while the file named by `PRAETOR_TEST_WAN_CUT_FILE` exists, this agent's WAN pool
/// drops every datagram it receives, as if its WAN link were cut (checked every 100 ms). Not a
/// Consul setting; `None` when the variable is unset. Debug builds only, like the delay hook.
#[cfg(not(debug_assertions))]
fn test_cut() -> Option<Arc<AtomicBool>> {
    None
}

#[cfg(debug_assertions)]
fn test_cut() -> Option<Arc<AtomicBool>> {
    let path = std::path::PathBuf::from(std::env::var_os("PRAETOR_TEST_WAN_CUT_FILE")?);
    let cut = Arc::new(AtomicBool::new(path.exists()));
    let flag = cut.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tick.tick().await;
            let now = path.exists();
            if flag.swap(now, std::sync::atomic::Ordering::Relaxed) != now {
                tracing::warn!(cut = now, "test hook: WAN link cut changed");
            }
        }
    });
    Some(cut)
}

/// Starts the WAN pool of a server (`None` on clients and with `ports.serf_wan = -1`).
pub(crate) async fn start_pool(
    cfg: &Config,
    tags: BTreeMap<String, String>,
    key: Option<[u8; 32]>,
) -> Result<Option<Pool>, AgentError> {
    let (true, Some(port)) = (cfg.server, cfg.ports.serf_wan) else {
        return Ok(None);
    };
    let bind = SocketAddr::new(cfg.bind_addr, port);
    let mut pc = PoolConfig::new(
        wan_name(&cfg.node_name, &cfg.datacenter),
        bind,
        Profile::Wan,
    );
    pc.advertise = SocketAddr::new(cfg.advertise_addr_wan, port);
    pc.tags = tags;
    pc.encrypt_key = key;
    pc.keyring_file = cfg
        .data_dir
        .as_ref()
        .map(|d| d.join("serf").join("remote.keyring"));
    pc.send_delay = test_send_delay();
    pc.test_cut = test_cut();
    pc.timing = Some(timing(Timing::wan(), &cfg.gossip_wan));
    Ok(Some(Pool::start(pc).await?))
}

/// Whether a gossip member is a Consul server (role `consul` with a numeric `port` tag).
pub(crate) fn server_port(m: &Member) -> Option<u16> {
    if m.tags.get("role").map(String::as_str) != Some("consul") {
        return None;
    }
    m.tags.get("port")?.parse().ok()
}

/// The router's view of a server-only pool (the WAN or a network area): every server member
/// not `left`, with its last coordinate in that pool.
pub(crate) fn view(pool: &Pool, coords: &Coordinates) -> WanView {
    let own = pool.name().to_string();
    let servers = pool
        .members()
        .into_iter()
        .filter(|m| m.status != MemberStatus::Left)
        .filter_map(|m| {
            let port = server_port(&m)?;
            let dc = m.tags.get("dc")?.clone();
            let coordinate = if m.name == own {
                Some(coords.own())
            } else {
                coords.peer(&m.name)
            };
            Some(WanServer {
                name: short_name(&m.name, &dc).to_string(),
                datacenter: dc,
                rpc_addr: SocketAddr::new(m.addr, port),
                alive: m.status == MemberStatus::Alive,
                coordinate,
            })
        })
        .collect();
    WanView {
        servers,
        self_coordinate: Some(coords.own()),
    }
}

/// A server-pool member name without its `.<dc>` suffix.
pub(crate) fn short_name<'a>(name: &'a str, dc: &str) -> &'a str {
    name.strip_suffix(dc)
        .and_then(|n| n.strip_suffix('.'))
        .unwrap_or(name)
}

/// Keeps the router in step with the WAN pool.
pub(crate) async fn watch(shared: Arc<Shared>, wan: Pool) {
    let mut events = wan.subscribe();
    loop {
        shared.rpc.set_wan(view(&wan, &shared.wan_coords));
        match tokio::time::timeout(VIEW_REFRESH, events.recv()).await {
            Ok(Err(broadcast::error::RecvError::Closed)) => return,
            Ok(Ok(MemberEvent::Reap(m) | MemberEvent::Left(m))) => {
                shared.wan_coords.forget(&m.name)
            }
            _ => {}
        }
    }
}

/// Flood join: every alive server of the local datacenter seen on the LAN but missing from the
/// WAN is joined to the WAN at `<LAN ip>:<wan_join_port tag>`. Runs every
/// [`FLOOD_INTERVAL`] and at once when a LAN server joins.
pub(crate) async fn flood(shared: Arc<Shared>, wan: Pool) {
    let mut lan_events = shared.lan.subscribe();
    loop {
        flood_once(&shared, &wan).await;
        let deadline = tokio::time::sleep(FLOOD_INTERVAL);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                ev = lan_events.recv() => match ev {
                    Ok(MemberEvent::Join(m) | MemberEvent::Update(m)) if server_port(&m).is_some() => break,
                    Err(broadcast::error::RecvError::Closed) => return,
                    Err(broadcast::error::RecvError::Lagged(_)) => break,
                    _ => {}
                },
            }
        }
    }
}

async fn flood_once(shared: &Shared, wan: &Pool) {
    let dc = &shared.config.datacenter;
    let in_wan: HashSet<String> = wan
        .members()
        .into_iter()
        .filter(|m| m.status.is_present() && server_port(m).is_some())
        .filter_map(|m| m.name.strip_suffix(&format!(".{dc}")).map(str::to_string))
        .collect();
    for m in shared.lan.members() {
        if m.status != MemberStatus::Alive
            || server_port(&m).is_none()
            || m.tags.get("dc") != Some(dc)
            || in_wan.contains(&m.name)
        {
            continue;
        }
        let Some(port) = m
            .tags
            .get("wan_join_port")
            .and_then(|p| p.parse::<u16>().ok())
            .filter(|p| *p != 0)
        else {
            tracing::debug!(server = %m.name, "no wan join  port for server");
            continue;
        };
        let addr = SocketAddr::new(m.addr, port);
        match wan.join(&[addr], Duration::from_secs(5)).await {
            Ok(_) => {
                tracing::info!(server = %m.name, %addr, "Successfully performed flood-join for server at address")
            }
            Err(e) => {
                tracing::debug!(server = %m.name, %addr, error = %e, "Failed to flood-join server at address")
            }
        }
    }
}

/// Resolves a WAN join address: memberlist's `[<node name>/]host[:port]` (port defaults to the
/// WAN port).
pub(crate) async fn resolve(addr: &str, default_port: u16) -> Result<Vec<SocketAddr>, String> {
    let host = match addr.split_once('/') {
        Some(("", _)) => return Err("empty node name provided".into()),
        Some((_, host)) => host,
        None => addr,
    };
    Ok(resolve_join(host, default_port).await)
}

/// `retry_join_wan` until one join succeeds or `retry_max_wan` attempts failed (then the agent
/// stops, as Consul exits).
pub(crate) async fn retry_join(shared: Arc<Shared>) {
    let cfg = &shared.config;
    if cfg.retry_join_wan.is_empty() {
        return;
    }
    let Some(wan) = shared.wan.clone() else {
        tracing::warn!("(WAN) couldn't join: Err: Must be a server to join WAN cluster");
        return;
    };
    let port = cfg.ports.serf_wan.unwrap_or(8302);
    tracing::info!("(WAN) Joining cluster...");
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let mut addrs = Vec::new();
        for entry in &cfg.retry_join_wan {
            for a in plugins::expand_join(&shared.plugins, entry).await {
                match resolve(&a, port).await {
                    Ok(list) => addrs.extend(list),
                    Err(e) => tracing::warn!(addr = %a, error = %e, "(WAN) bad join address"),
                }
            }
        }
        let listed = addrs.len();
        addrs.retain(|a| *a != wan.local_addr() && *a != wan.advertise_addr());
        if listed > 0 && addrs.is_empty() {
            // As on the LAN: only this server's own address is nothing left to join.
            tracing::info!("(WAN) Join cluster completed: retry_join_wan names only this server");
            return;
        }
        let result = if addrs.is_empty() {
            Err("No servers to join".to_string())
        } else {
            wan.join(&addrs, Duration::from_secs(5))
                .await
                .map_err(|e| e.to_string())
        };
        match result {
            Ok(n) => {
                tracing::info!(
                    contacted = n,
                    "(WAN) Join cluster completed. Synced with initial agents"
                );
                return;
            }
            Err(e) => tracing::warn!(
                attempt,
                retry_interval = ?cfg.retry_interval_wan,
                error = %e,
                "(WAN) Join cluster failed, will retry"
            ),
        }
        if cfg.retry_max_wan > 0 && attempt >= cfg.retry_max_wan {
            shared.fail("agent: max join WAN retry exhausted, exiting");
            return;
        }
        tokio::time::sleep(cfg.retry_interval_wan).await; // Consul's retry_interval_wan
    }
}

/// A pool's timings: the profile's preset with `gossip_lan` / `gossip_wan` applied. A probe
/// timeout that does not fit in the probe interval is cut to half of it.
pub(crate) fn timing(mut t: Timing, g: &GossipSettings) -> Timing {
    if let Some(n) = g.gossip_nodes.and_then(|n| NonZeroUsize::new(n as usize)) {
        t.gossip_nodes = n;
    }
    if let Some(d) = g.gossip_interval {
        t.gossip_interval = d;
    }
    if let Some(d) = g.probe_interval {
        t.probe_period = d;
    }
    if let Some(d) = g.probe_timeout {
        t.probe_rtt = d;
    }
    if let Some(n) = g.suspicion_mult {
        t.suspicion_mult = n;
    }
    if t.probe_rtt >= t.probe_period {
        t.probe_rtt = t.probe_period / 2;
    }
    t
}
