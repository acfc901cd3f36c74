//! The async load driver shared by the etcd gRPC and praetor HTTP generators: one task per
//! client on the caller's tokio runtime, each warmed up, all started together, every request and
//! the run bounded by [`Limits`]; the async twin of [`super::load::run`].

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::load::{ClientRun, Limits, Stats};

/// One client of a run: sends request number `seq` and checks its answer.
pub trait Client: Send + 'static {
    fn call(&mut self, seq: u64) -> impl Future<Output = Result<(), String>> + Send;
}

/// Runs every client in `clients` until `limits` says stop; each request is bounded by `timeout`.
pub async fn run<C: Client>(clients: Vec<C>, limits: Limits, timeout: Duration) -> Stats {
    let mut stats = Stats::new(clients.len());
    let seq = Arc::new(AtomicU64::new(0));
    // Every client has warmed up; then the start time is published to all of them.
    let warm = Arc::new(tokio::sync::Barrier::new(clients.len() + 1));
    let (start_tx, start_rx) = tokio::sync::watch::channel(None::<Instant>);
    let mut tasks = Vec::with_capacity(clients.len());
    for mut client in clients {
        let (seq, warm, mut start_rx) = (seq.clone(), warm.clone(), start_rx.clone());
        tasks.push(tokio::spawn(async move {
            for w in 0..limits.warmup_per_client {
                let _ = tokio::time::timeout(timeout, client.call(u64::MAX - w)).await;
            }
            warm.wait().await;
            let t0 = match start_rx.wait_for(Option::is_some).await {
                Ok(t) => t.unwrap_or_else(Instant::now),
                Err(_) => Instant::now(),
            };
            let deadline = t0 + limits.duration;
            let mut run = ClientRun::default();
            loop {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                if n >= limits.max_requests || Instant::now() >= deadline {
                    break;
                }
                let t = Instant::now();
                match tokio::time::timeout(timeout, client.call(n)).await {
                    Ok(Ok(())) => run.latencies.push(t.elapsed()),
                    Ok(Err(e)) => run.failed(e),
                    Err(_) => run.failed("request timed out".into()),
                }
            }
            run.ended = Some(Instant::now());
            run
        }));
    }
    warm.wait().await;
    let t0 = Instant::now();
    let _ = start_tx.send(Some(t0));
    for t in tasks {
        match t.await {
            Ok(run) => stats.add(run),
            Err(_) => stats.lost("load task panicked"),
        }
    }
    stats.finish(t0);
    stats
}
