//! praetor-dns: Consul-compatible DNS interface (`.consul` on port 8600, UDP+TCP) over a catalog `Backend`.
//!
//! Serves `<svc>.service`, `<tag>.<svc>.service`, RFC 2782 `_<svc>._<tag>.service`, prepared queries
//! (`<query>.query`, RFC 2782 `_<query>._<proto>.query`), `<node>.node` (with node meta as RFC 1464 TXT
//! records), `<hex>.addr` (each with an optional `.<dc>`), SOA/NS at the domain apex, and reverse (PTR)
//! lookups under `in-addr.arpa.`/`ip6.arpa.`, following Consul's `agent/dns.go`: NXDOMAIN/NODATA carry
//! the SOA, service answers are shuffled (prepared-query answers keep the query's order), UDP answers are
//! limited and truncated (TC set), EDNS is echoed.

mod backend;
mod cache;
mod config;
mod lookup;
mod parse;
mod records;
mod respond;
mod server;
mod tcp;
mod truncate;
mod udp;
mod wire;

pub use backend::{
    Backend, Instance, LookupError, NodeRecord, QueryAnswer, ReverseName, address_matches,
};
pub use config::DnsConfig;
pub use parse::{ParseError, Parsed, ServiceForm, ServiceQuery, parse_query};
pub use respond::Answerer;
pub use server::{DnsError, DnsServer};
