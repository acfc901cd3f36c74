//! TCP serving: RFC 1035 §4.2.2 framing (a 2-byte length before each message), several requests per
//! connection answered in order, connections closed after an idle timeout.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::timeout;
use tracing::{Instrument, debug, debug_span, warn};

use crate::respond::Responder;
use crate::wire::Transport;

/// Idle TCP connections are closed after this long without a request (and a request or response that
/// takes longer than this to cross closes it too).
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// A pause after an accept error (e.g. out of file descriptors), so it does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Accepts connections until `stop` turns true, then aborts the open ones and waits for them.
pub(crate) async fn serve(
    listener: TcpListener,
    responder: Arc<Responder>,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        while connections.try_join_next().is_some() {}
        match accepted {
            Ok((stream, peer)) => {
                let span = debug_span!("dns_tcp", %peer);
                connections.spawn(connection(stream, responder.clone()).instrument(span));
            }
            Err(error) => {
                warn!(%error, "DNS TCP accept failed");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
    drop(listener);
    connections.shutdown().await;
}

/// Serves one connection until the peer closes it, it idles too long, or a frame cannot be read.
async fn connection(mut stream: TcpStream, responder: Arc<Responder>) {
    let mut request = Vec::new();
    loop {
        let mut len = [0u8; 2];
        match timeout(TCP_IDLE_TIMEOUT, stream.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                debug!(%error, "DNS TCP connection closed");
                return;
            }
            Err(_) => {
                debug!("DNS TCP connection idle, closing");
                return;
            }
        }
        request.resize(usize::from(u16::from_be_bytes(len)), 0);
        match timeout(TCP_IDLE_TIMEOUT, stream.read_exact(&mut request)).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                debug!(%error, "DNS TCP request cut short");
                return;
            }
            Err(_) => {
                debug!("DNS TCP request too slow, closing");
                return;
            }
        }
        let Some(response) = responder.respond(&request, Transport::Tcp).await else {
            continue;
        };
        // Responses over TCP are encoded with a 65535-byte limit, so the length always fits.
        let Ok(len) = u16::try_from(response.len()) else {
            warn!(len = response.len(), "DNS TCP response too large, closing");
            return;
        };
        let mut framed = Vec::with_capacity(response.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&response);
        match timeout(TCP_IDLE_TIMEOUT, stream.write_all(&framed)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                debug!(%error, "DNS TCP send failed");
                return;
            }
            Err(_) => {
                debug!("DNS TCP peer not reading, closing");
                return;
            }
        }
    }
}
