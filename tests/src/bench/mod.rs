//! The whole-system benchmark (`cargo run --release -p praetor-tests --bin bench`): praetor
//! against etcd 3.4 (KV, driven over its native gRPC API), bind9 and Knot DNS (DNS), and a
//! 1-member etcd (single-server start-up and memory), all on loopback.

pub mod async_load;
pub mod bind;
pub mod dev;
pub mod dnsperf;
pub mod error;
pub mod etcd;
pub mod etcd_grpc;
pub mod http_async;
pub mod knot;
pub mod load;
pub mod praetor;
pub mod proc;
pub mod report;

pub use error::BenchError;
