//! The whole-system benchmark (`cargo run --release -p praetor-tests --bin bench`): praetor
//! against etcd 3.4 (KV) and bind9 (DNS) on loopback, driven by the same load generators.

pub mod bind;
pub mod dnsperf;
pub mod error;
pub mod etcd;
pub mod load;
pub mod praetor;
pub mod proc;
pub mod report;

pub use error::BenchError;
