//! Random bytes at the RPC port (a seeded, bounded random loop): nothing panics, every such
//! connection is closed or handed over, and the port keeps serving.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{DEADLINE, Pki, call, start};
use praetor_tls::MuxLimits;
use praetor_tls::certgen::CertKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

static PANICS: AtomicUsize = AtomicUsize::new(0);
static GOSSIP_STREAMS: AtomicUsize = AtomicUsize::new(0);

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A random input, biased towards the prefixes the port looks at.
fn input(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(600) as usize;
    let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
    let prefix: &[u8] = match rng.below(6) {
        0 => &[0x16, 0x03, 0x01],
        1 => b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        2 => b"PRI * HT",
        3 => &[praetor_tls::GOSSIP_MAGIC],
        _ => &[],
    };
    let mut out = prefix.to_vec();
    out.append(&mut bytes);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bytes_never_panic_and_the_port_keeps_serving() {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        hook(info);
    }));

    let pki = Pki::new();
    let limits = MuxLimits {
        handshake_timeout: Duration::from_millis(500),
        max_conns_per_client: 0,
    };
    // TLS on, verify_incoming off: every detection path (TLS, preface, gossip byte) is live.
    let mut server = start(
        Some(pki.rpc_tls(CertKind::Server, "dc1", false, true, true)),
        limits,
    )
    .await;
    let addr = server.addr;
    let mut gossip = server.take_gossip();
    // Gossip streams that get through are taken and dropped, as a gossip layer would on bad frames.
    let drained = tokio::spawn(async move {
        while let Some((_, conn)) = gossip.recv().await {
            drop(conn);
            GOSSIP_STREAMS.fetch_add(1, Ordering::SeqCst);
        }
    });
    let dialer = pki.rpc_tls(CertKind::Server, "dc1", false, true, true);

    let mut rng = Rng(0x005e_ed0f_ba5e_u64);
    for round in 0..40 {
        let mut batch = Vec::new();
        for _ in 0..10 {
            let bytes = input(&mut rng);
            batch.push(tokio::spawn(throw(addr, bytes)));
        }
        for task in batch {
            let closed = task.await.expect("client task");
            assert!(closed, "every random connection ends within the deadline");
        }
        if round % 10 == 0 {
            let reply = call(Some(&dialer), addr, "dc1", "alive")
                .await
                .expect("still serving");
            assert!(reply.starts_with("alive|tls=true"));
        }
    }
    let reply = call(None, addr, "dc1", "plain")
        .await
        .expect("still serving");
    assert!(reply.starts_with("plain|tls=false"));
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "no panic anywhere");
    assert!(
        GOSSIP_STREAMS.load(Ordering::SeqCst) > 20,
        "inputs starting with the gossip byte were handed over"
    );
    drop(server);
    drained.abort();
}

/// Sends `bytes`, half-closes, and waits for the server to close (or to keep a gossip stream,
/// which the drain task then drops). True if the connection ended within the deadline.
async fn throw(addr: std::net::SocketAddr, bytes: Vec<u8>) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return false;
    };
    // The server may close before everything is written: that is fine.
    let _ = stream.write_all(&bytes).await;
    let _ = stream.shutdown().await;
    let mut buf = [0u8; 512];
    let wait = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(DEADLINE, wait).await.is_ok()
}
