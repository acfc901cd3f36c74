//! The HTTPS API (`ports.https`, `tls.https`): the same axum app as HTTP, behind rustls. Each
//! connection's handshake runs on its own task under a deadline, so a slow client never holds
//! the accept loop.

use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Deadline of a TLS handshake on the HTTPS port.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) async fn serve(
    listener: TcpListener,
    app: axum::Router,
    tls: praetor_tls::HttpsTls,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        let (tcp, remote) = match accepted {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "HTTPS accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await; // e.g. out of file descriptors
                continue;
            }
        };
        // Take the acceptor per connection so a reload applies to new connections.
        let acceptor = tls.acceptor();
        let app = app.clone();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%remote, error = %e, "HTTPS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%remote, "HTTPS handshake timed out");
                    return;
                }
            };
            let app = app.layer(axum::Extension(axum::extract::ConnectInfo(remote)));
            let service = TowerToHyperService::new(app);
            if let Err(e) = Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%remote, error = %e, "HTTPS connection ended with an error");
            }
        });
    }
}
