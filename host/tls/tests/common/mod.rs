//! Shared test fixtures: a temporary PKI made with `praetor_tls::certgen`, an RPC-port server
//! (the real `praetor.rpc.v1.Rpc` service over `serve_rpc_port`) and a client call.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use praetor_config::TlsSection;
use praetor_proto::rpc::rpc_client::RpcClient;
use praetor_proto::rpc::rpc_server::{Rpc, RpcServer};
use praetor_proto::rpc::{CallReply, CallRequest};
use praetor_tls::certgen::{CaOptions, CertKind, CertOptions, generate_ca, generate_cert};
use praetor_tls::{GossipIncoming, MuxLimits, PeerInfo, RpcTls, grpc_channel, serve_rpc_port};
use tokio::sync::oneshot;

pub const DOMAIN: &str = "consul.";
pub const DEADLINE: Duration = Duration::from_secs(10);

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let n = NEXT_DIR.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("praetor-tls-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A CA in a temp dir and the certificates it issues.
pub struct Pki {
    pub dir: TempDir,
    pub ca_file: PathBuf,
    ca_cert: String,
    ca_key: String,
    issued: AtomicUsize,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = TempDir::new();
        let ca = generate_ca(&CaOptions::default()).expect("ca");
        let ca_file = dir.write("ca.pem", &ca.cert_pem);
        Pki {
            dir,
            ca_file,
            ca_cert: ca.cert_pem,
            ca_key: ca.key_pem,
            issued: AtomicUsize::new(0),
        }
    }

    /// Issues a certificate; returns (cert_file, key_file).
    pub fn issue(&self, kind: CertKind, dc: &str) -> (PathBuf, PathBuf) {
        let mut opts = CertOptions::new(kind);
        opts.datacenter = dc.into();
        let pair = generate_cert(&self.ca_cert, &self.ca_key, &opts).expect("cert");
        let n = self.issued.fetch_add(1, Ordering::SeqCst);
        let cert = self.dir.write(&format!("cert-{n}.pem"), &pair.cert_pem);
        let key = self.dir.write(&format!("cert-{n}-key.pem"), &pair.key_pem);
        (cert, key)
    }

    /// A section with a fresh certificate of `kind` for `dc` and the given flags.
    pub fn section(&self, kind: CertKind, dc: &str, vi: bool, vo: bool, vsh: bool) -> TlsSection {
        let (cert, key) = self.issue(kind, dc);
        TlsSection {
            ca_file: Some(self.ca_file.clone()),
            ca_path: None,
            cert_file: Some(cert),
            key_file: Some(key),
            verify_incoming: vi,
            verify_outgoing: vo,
            verify_server_hostname: vsh,
            tls_min_version: Default::default(),
        }
    }

    /// `RpcTls` of an agent of `dc` holding a fresh certificate of `kind`.
    pub fn rpc_tls(&self, kind: CertKind, dc: &str, vi: bool, vo: bool, vsh: bool) -> RpcTls {
        RpcTls::load(&self.section(kind, dc, vi, vo, vsh), DOMAIN)
            .expect("load")
            .expect("tls on")
    }
}

/// The RPC service under test: echoes the body with what it knows about the caller.
struct Echo;

#[tonic::async_trait]
impl Rpc for Echo {
    async fn call(
        &self,
        request: tonic::Request<CallRequest>,
    ) -> Result<tonic::Response<CallReply>, tonic::Status> {
        let peer = request
            .extensions()
            .get::<PeerInfo>()
            .cloned()
            .ok_or_else(|| tonic::Status::internal("no PeerInfo"))?;
        let body = String::from_utf8_lossy(&request.get_ref().body).to_string();
        let reply = format!(
            "{body}|tls={}|server_dc1={}|any_server={}",
            peer.tls,
            peer.is_server_of("dc1", DOMAIN),
            peer.is_any_server(DOMAIN)
        );
        Ok(tonic::Response::new(CallReply {
            body: reply.into_bytes().into(),
            ..Default::default()
        }))
    }
}

/// A running RPC port.
pub struct Server {
    pub addr: SocketAddr,
    pub gossip: GossipIncoming,
    stop: Option<oneshot::Sender<()>>,
}

impl Server {
    /// Takes the gossip receiver (e.g. to drain it on another task).
    pub fn take_gossip(&mut self) -> GossipIncoming {
        std::mem::replace(&mut self.gossip, tokio::sync::mpsc::channel(1).1)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves the echo service on 127.0.9.1:0 through `serve_rpc_port`.
pub async fn start(tls: Option<RpcTls>, limits: MuxLimits) -> Server {
    start_on("127.0.9.1", tls, limits).await
}

pub async fn start_on(ip: &str, tls: Option<RpcTls>, limits: MuxLimits) -> Server {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (grpc, gossip) = serve_rpc_port(listener, tls, limits);
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let res = tonic::transport::Server::builder()
            .add_service(RpcServer::new(Echo))
            .serve_with_incoming_shutdown(grpc, async {
                let _ = stop_rx.await;
            })
            .await;
        if let Err(e) = res {
            eprintln!("test server failed: {e}");
        }
    });
    Server {
        addr,
        gossip,
        stop: Some(stop_tx),
    }
}

/// One call through a fresh channel; `Err` carries the status text.
pub async fn call(
    tls: Option<&RpcTls>,
    addr: SocketAddr,
    target_dc: &str,
    body: &str,
) -> Result<String, String> {
    let channel = grpc_channel(tls, addr, target_dc, Duration::from_secs(5), None);
    call_on(channel, body).await
}

pub async fn call_on(channel: tonic::transport::Channel, body: &str) -> Result<String, String> {
    let mut client = RpcClient::new(channel);
    let request = CallRequest {
        source_datacenter: "dc1".into(),
        hops: 0,
        body: body.as_bytes().to_vec().into(),
        datacenter: String::new(),
        token: String::new(),
        ..Default::default()
    };
    match tokio::time::timeout(DEADLINE, client.call(request)).await {
        Ok(Ok(reply)) => Ok(String::from_utf8_lossy(&reply.get_ref().body).to_string()),
        Ok(Err(status)) => Err(status.to_string()),
        Err(_) => Err("call timed out".into()),
    }
}

/// Waits until the peer closes `stream` (EOF or reset), failing after `deadline`.
pub async fn closed_within(stream: &mut tokio::net::TcpStream, deadline: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 256];
    let wait = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(deadline, wait).await.is_ok()
}
