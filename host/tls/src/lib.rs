//! praetor-tls: TLS for the server RPC port and the HTTPS API — the agent's certificates and CAs
//! (`RpcTls`, reloadable), Consul's verification rules, the one multiplexed RPC listener
//! (`serve_rpc_port`: gRPC for raft + RPC, and a raw stream for area gossip, on one port), the
//! matching dialers (`grpc_channel`, `dial_gossip`), peer identity (`PeerInfo`), and certificate
//! generation for `praetor tls` (`certgen`).
//!
//! Crypto provider: ring only (no aws-lc-rs); every rustls config is built with
//! `builder_with_provider`, so no process-wide default provider is needed.
//!
//! Protocol selection on the RPC port:
//! * TLS (first byte 0x16): by negotiated ALPN — `h2` = gRPC, `praetor/gossip` = area gossip;
//!   anything else is closed (`discarding RPC for unknown negotiated protocol`).
//! * Plaintext (only when `verify_incoming` is off): the HTTP/2 preface = gRPC, the byte
//!   `6` (Consul's `RPCGossip`) = area gossip; anything else is closed.
//!
//! Outgoing: the dialers use TLS when given an `RpcTls` whose section has `verify_outgoing`
//! (Consul's rule: `verify_outgoing`, implied by `verify_server_hostname`, turns on TLS for
//! outgoing RPC); otherwise they dial plaintext.

pub mod certgen;
mod conn;
mod dial;
mod error;
mod https;
mod material;
mod mux;
mod peer;
mod prefixed;
mod rpc;
mod verify;

pub use conn::PeerConn;
pub use dial::{DialedConn, dial_gossip, grpc_channel};
pub use error::TlsError;
pub use https::HttpsTls;
pub use mux::{GossipIncoming, GrpcIncoming, MuxConn, MuxLimits, rpc_port_stats, serve_rpc_port};
pub use peer::PeerInfo;
pub use rpc::RpcTls;

/// ALPN protocol of gRPC (raft and server RPC run as gRPC services on one tonic server).
pub const ALPN_GRPC: &[u8] = b"h2";
/// ALPN protocol of the area gossip stream.
pub const ALPN_GOSSIP: &[u8] = b"praetor/gossip";
/// First byte of a plaintext area gossip connection (Consul's `RPCGossip`).
pub const GOSSIP_MAGIC: u8 = 6;
/// ALPN protocols of the HTTPS API, in Consul's order.
pub const ALPN_HTTPS: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// `server.<dc>.<domain>`: the name a server's certificate must hold (Consul's `ServerSNI`).
/// A trailing dot on `domain` (`consul.`) is ignored.
pub fn server_name(datacenter: &str, domain: &str) -> String {
    format!("server.{datacenter}.{}", domain.trim_end_matches('.'))
}
