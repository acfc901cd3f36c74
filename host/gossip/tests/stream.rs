//! Pools over byte streams instead of UDP: TCP on loopback (a plain dialer and a tiny listener
//! that calls `read_hello` then `accept_stream`), and in-memory duplex streams.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use praetor_gossip::{
    BoxStream, GossipError, Hello, MemberStatus, Pool, StreamDialer, Transport, read_hello,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;

const POOL: &str = "area-test";

/// Dials plain TCP and counts its attempts.
#[derive(Default)]
struct TcpDialer {
    dials: AtomicUsize,
}

#[async_trait::async_trait]
impl StreamDialer for TcpDialer {
    async fn dial(&self, addr: SocketAddr) -> io::Result<BoxStream> {
        self.dials.fetch_add(1, Ordering::SeqCst);
        Ok(Box::new(TcpStream::connect(addr).await?))
    }
}

/// A stream pool with its TCP listener (the stand-in for the RPC port).
struct Node {
    pool: Pool,
    addr: SocketAddr,
    listener: JoinHandle<()>,
}

impl Node {
    /// Stops the pool and its listener (nothing listens on `addr` afterwards).
    async fn kill(&self) {
        self.pool.shutdown().await;
        self.listener.abort();
        while !self.listener.is_finished() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Accepts TCP connections, reads their hello and hands them to `pool`.
fn serve(listener: TcpListener, pool: Pool) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut stream: BoxStream = Box::new(tcp);
                if let Ok(hello) = read_hello(&mut stream, Duration::from_secs(2)).await {
                    pool.accept_stream(hello, stream);
                }
            });
        }
    })
}

async fn start_on(
    name: &str,
    key: Option<[u8; 32]>,
    listener: TcpListener,
    dialer: Arc<TcpDialer>,
    send_delay: Duration,
) -> Node {
    let addr = listener.local_addr().unwrap();
    let mut cfg = config(name, key);
    cfg.advertise = addr;
    cfg.send_delay = send_delay;
    let transport = Transport::Stream {
        pool_id: POOL.into(),
        dialer,
    };
    let pool = Pool::start_with(cfg, transport)
        .await
        .expect("stream pool starts");
    assert_eq!(pool.local_addr(), addr);
    assert_eq!(pool.advertise_addr(), addr);
    let listener = serve(listener, pool.clone());
    Node {
        pool,
        addr,
        listener,
    }
}

async fn node(name: &str, key: Option<[u8; 32]>) -> Node {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    start_on(
        name,
        key,
        listener,
        Arc::new(TcpDialer::default()),
        Duration::ZERO,
    )
    .await
}

fn status(pool: &Pool, name: &str) -> Option<MemberStatus> {
    pool.members()
        .into_iter()
        .find(|m| m.name == name)
        .map(|m| m.status)
}

/// The hello frame a dialer sends, built by hand (length, version, pool id, address).
fn hello_frame(pool_id: &str, from: SocketAddr) -> Vec<u8> {
    let addr = from.to_string();
    let mut payload = vec![1u8, pool_id.len() as u8];
    payload.extend_from_slice(pool_id.as_bytes());
    payload.extend_from_slice(addr.as_bytes());
    let mut frame = (payload.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&payload);
    frame
}

/// Waits until the peer closes `tcp` (EOF or reset).
async fn closed_by_peer(tcp: &mut TcpStream, what: &str) {
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(WAIT, tcp.read(&mut buf))
        .await
        .unwrap_or_else(|_| panic!("{what}: connection not closed within {WAIT:?}"));
    assert!(matches!(read, Ok(0) | Err(_)), "{what}: got data {read:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_stream_pools_converge_and_propagate_tags() {
    let a = node("a", None).await;
    let b = node("b", None).await;
    let c = node("c", None).await;
    form(&[&a.pool, &b.pool, &c.pool]).await;

    // Members are known by their listener (RPC) address.
    let seen = a
        .pool
        .members()
        .into_iter()
        .find(|m| m.name == "c")
        .unwrap();
    assert_eq!(SocketAddr::new(seen.addr, seen.port), c.addr);

    let tags = BTreeMap::from([
        ("role".to_string(), "consul".to_string()),
        ("dc".to_string(), "dc2".to_string()),
    ]);
    b.pool.set_tags(tags.clone()).await.unwrap();
    for p in [&a.pool, &c.pool] {
        wait_until(&format!("{} to see b's new tags", p.name()), || {
            p.members().iter().any(|m| m.name == "b" && m.tags == tags)
        })
        .await;
    }

    for p in [&a.pool, &b.pool, &c.pool] {
        let s = p.stats();
        assert!(s.packets_in > 0 && s.bytes_in > 0, "{s:?}");
        assert!(s.packets_out > 0 && s.bytes_out > 0, "{s:?}");
        assert_eq!(s.dropped, 0, "{s:?}");
    }
    shutdown_all(&[&a.pool, &b.pool, &c.pool]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_leave_over_streams_is_left_and_shutdown_is_failed() {
    let a = node("a", None).await;
    let b = node("b", None).await;
    let c = node("c", None).await;
    let d = node("d", None).await;
    form(&[&a.pool, &b.pool, &c.pool, &d.pool]).await;

    c.pool.leave(Duration::from_secs(5)).await.unwrap();
    for p in [&a.pool, &b.pool, &d.pool] {
        wait_until(&format!("{} to see c left", p.name()), || {
            status(p, "c") == Some(MemberStatus::Left)
        })
        .await;
    }
    c.kill().await;

    d.kill().await;
    for p in [&a.pool, &b.pool] {
        wait_until(&format!("{} to see d failed", p.name()), || {
            status(p, "d") == Some(MemberStatus::Failed)
        })
        .await;
    }
    // The left member stays left.
    assert_eq!(status(&a.pool, "c"), Some(MemberStatus::Left));
    shutdown_all(&[&a.pool, &b.pool]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encryption_works_over_streams_and_a_wrong_key_cannot_join() {
    let key = Some([3u8; 32]);
    let a = node("a", key).await;
    let b = node("b", key).await;
    form(&[&a.pool, &b.pool]).await;

    let intruder = node("x", Some([4u8; 32])).await;
    let err = intruder
        .pool
        .join(&[a.addr], Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(matches!(err, GossipError::JoinFailed { .. }), "{err}");
    wait_until("a to count decrypt failures", || {
        a.pool.stats().decrypt_failures > 0
    })
    .await;
    assert!(sees_alive(&a.pool, &["a", "b"]));
    assert!(sees_alive(&intruder.pool, &["x"]));
    shutdown_all(&[&a.pool, &b.pool, &intruder.pool]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtt_samples_flow_and_send_delay_applies() {
    let delay = Duration::from_millis(30);
    let mut nodes = Vec::new();
    for name in ["a", "b"] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dialer = Arc::new(TcpDialer::default());
        nodes.push(start_on(name, None, listener, dialer, delay).await);
    }
    let (a, b) = (&nodes[0], &nodes[1]);
    b.pool.set_probe_payload(b"coordinate of b".to_vec());
    let mut rx = a.pool.subscribe_rtt();
    form(&[&a.pool, &b.pool]).await;

    let sample = sample_from(&mut rx, "b").await;
    assert_eq!(sample.payload, b"coordinate of b");
    // The ping and the ack are each sent `delay` late.
    assert!(sample.rtt >= delay * 2, "{sample:?}");
    assert!(sample.rtt < Duration::from_secs(2), "{sample:?}");
    shutdown_all(&[&a.pool, &b.pool]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_close_only_their_connection() {
    let a = node("a", None).await;
    let b = node("b", None).await;
    form(&[&a.pool, &b.pool]).await;
    let stranger: SocketAddr = "127.0.9.9:8300".parse().unwrap();

    // An oversized length closes the connection and counts as dropped.
    let before = a.pool.stats().malformed;
    let mut tcp = TcpStream::connect(a.addr).await.unwrap();
    tcp.write_all(&hello_frame(POOL, stranger)).await.unwrap();
    tcp.write_all(&(70_000u32).to_be_bytes()).await.unwrap();
    closed_by_peer(&mut tcp, "oversized frame").await;
    wait_until("the oversized frame to be counted", || {
        a.pool.stats().malformed > before
    })
    .await;

    // So does a zero length.
    let before = a.pool.stats().malformed;
    let mut tcp = TcpStream::connect(a.addr).await.unwrap();
    tcp.write_all(&hello_frame(POOL, stranger)).await.unwrap();
    tcp.write_all(&[0, 0, 0, 0]).await.unwrap();
    closed_by_peer(&mut tcp, "empty frame").await;
    wait_until("the empty frame to be counted", || {
        a.pool.stats().malformed > before
    })
    .await;

    // A well-framed garbage datagram is dropped like a bad UDP datagram; the stream stays.
    let before = a.pool.stats();
    let mut tcp = TcpStream::connect(a.addr).await.unwrap();
    tcp.write_all(&hello_frame(POOL, stranger)).await.unwrap();
    tcp.write_all(&[0, 0, 0, 3, 0xde, 0xad, 0xbe])
        .await
        .unwrap();
    wait_until("the garbage datagram to be dropped", || {
        a.pool.stats().malformed > before.malformed
    })
    .await;
    tcp.write_all(&[0, 0, 0, 2, 0xff, 0xff]).await.unwrap();
    wait_until("a second datagram on the same stream", || {
        a.pool.stats().malformed > before.malformed + 1
    })
    .await;

    // A hello for another pool or a garbage hello: closed.
    let mut tcp = TcpStream::connect(a.addr).await.unwrap();
    tcp.write_all(&hello_frame("other-pool", stranger))
        .await
        .unwrap();
    closed_by_peer(&mut tcp, "hello for another pool").await;
    let mut tcp = TcpStream::connect(a.addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    closed_by_peer(&mut tcp, "garbage hello").await;

    // The pool's own connections kept working throughout.
    let packets = a.pool.stats().packets_in;
    wait_until("a to keep receiving from b", || {
        a.pool.stats().packets_in > packets + 5
    })
    .await;
    assert!(sees_alive(&a.pool, &["a", "b"]));
    assert!(sees_alive(&b.pool, &["a", "b"]));
    shutdown_all(&[&a.pool, &b.pool]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_address_is_not_redialled_for_every_datagram() {
    // A port nothing listens on.
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dialer = Arc::new(TcpDialer::default());
    let a = start_on("a", None, listener, dialer.clone(), Duration::ZERO).await;
    let started = Instant::now();
    // Announces and state-sync requests are retried every probe period (200ms).
    let err = a
        .pool
        .join(&[dead], Duration::from_millis(1500))
        .await
        .unwrap_err();
    assert!(matches!(err, GossipError::JoinFailed { .. }), "{err}");
    let elapsed = started.elapsed();
    let dials = dialer.dials.load(Ordering::SeqCst);
    // One dial, then at most one per second of backoff.
    let most = 1 + elapsed.as_secs() as usize;
    assert!((1..=most).contains(&dials), "{dials} dials in {elapsed:?}");
    assert!(a.pool.stats().send_errors > 0, "{:?}", a.pool.stats());
    a.pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_member_is_redialled() {
    let a = node("a", None).await;
    let b = node("b", None).await;
    form(&[&a.pool, &b.pool]).await;

    b.kill().await;
    wait_until("a to see b failed", || {
        status(&a.pool, "b") == Some(MemberStatus::Failed)
    })
    .await;

    // Same name, same address, new life.
    let listener = TcpListener::bind(b.addr).await.unwrap();
    let b2 = start_on(
        "b",
        None,
        listener,
        Arc::new(TcpDialer::default()),
        Duration::ZERO,
    )
    .await;
    b2.pool.join(&[a.addr], WAIT).await.unwrap();
    for p in [&a.pool, &b2.pool] {
        wait_until(&format!("{} to see a and b alive", p.name()), || {
            sees_alive(p, &["a", "b"])
        })
        .await;
    }
    shutdown_all(&[&a.pool, &b2.pool]).await;
}

/// Connects pools through in-memory duplex pipes.
#[derive(Default)]
struct DuplexDialer {
    pools: Mutex<HashMap<SocketAddr, Pool>>,
}

#[async_trait::async_trait]
impl StreamDialer for DuplexDialer {
    async fn dial(&self, addr: SocketAddr) -> io::Result<BoxStream> {
        let pool = self
            .pools
            .lock()
            .unwrap()
            .get(&addr)
            .cloned()
            .ok_or(io::ErrorKind::ConnectionRefused)?;
        let (client, server) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move {
            let mut stream: BoxStream = Box::new(server);
            if let Ok(hello) = read_hello(&mut stream, Duration::from_secs(2)).await {
                pool.accept_stream(hello, stream);
            }
        });
        Ok(Box::new(client))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pools_gossip_over_in_memory_duplex_streams() {
    let dialer = Arc::new(DuplexDialer::default());
    let mut pools = Vec::new();
    for (name, addr) in [("a", "127.0.9.1:8300"), ("b", "127.0.9.2:8300")] {
        let addr: SocketAddr = addr.parse().unwrap();
        let mut cfg = config(name, Some([9u8; 32]));
        cfg.advertise = addr;
        let transport = Transport::Stream {
            pool_id: POOL.into(),
            dialer: dialer.clone(),
        };
        let pool = Pool::start_with(cfg, transport).await.unwrap();
        dialer.pools.lock().unwrap().insert(addr, pool.clone());
        pools.push(pool);
    }
    let (a, b) = (&pools[0], &pools[1]);
    let mut rx = a.subscribe_rtt();
    form(&[a, b]).await;
    sample_from(&mut rx, "b").await;
    let tags = BTreeMap::from([("via".to_string(), "duplex".to_string())]);
    a.set_tags(tags.clone()).await.unwrap();
    wait_until("b to see a's tags", || {
        b.members().iter().any(|m| m.name == "a" && m.tags == tags)
    })
    .await;
    dialer.pools.lock().unwrap().clear();
    shutdown_all(&[a, b]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_configuration_is_checked() {
    let dialer: Arc<dyn StreamDialer> = Arc::new(TcpDialer::default());
    let stream = |id: &str| Transport::Stream {
        pool_id: id.into(),
        dialer: dialer.clone(),
    };
    // The advertise address must be specific: it is what the others dial.
    let cfg = config("a", None);
    let err = Pool::start_with(cfg, stream(POOL)).await.err().unwrap();
    assert!(matches!(err, GossipError::InvalidConfig(_)), "{err}");
    let mut cfg = config("a", None);
    cfg.advertise = "127.0.9.1:8300".parse().unwrap();
    for bad_id in [String::new(), "x".repeat(256)] {
        let err = Pool::start_with(cfg.clone(), stream(&bad_id))
            .await
            .err()
            .unwrap();
        assert!(matches!(err, GossipError::InvalidConfig(_)), "{err}");
    }

    // A UDP pool closes a stream handed to it.
    let udp = start("u", None).await;
    let (mut client, server) = tokio::io::duplex(1024);
    let hello = Hello {
        pool_id: POOL.into(),
        from: "127.0.9.2:8300".parse().unwrap(),
    };
    udp.accept_stream(hello, Box::new(server));
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(WAIT, client.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0))), "{read:?}");
    udp.shutdown().await;
}
