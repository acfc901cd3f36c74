//! DNS load and checks: writing dnsperf's query file, running `dnsperf` against one server with
//! a time limit and parsing its statistics, and a single bounded UDP query to check answers.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};

use super::BenchError;

/// What dnsperf reported for one run.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsperfResult {
    pub sent: u64,
    pub completed: u64,
    pub lost: u64,
    pub qps: f64,
    /// Average latency in milliseconds.
    pub avg_latency_ms: f64,
    /// The `Response codes:` line as printed (e.g. `NOERROR 1000 (100.00%)`).
    pub rcodes: String,
}

/// Writes one `<name> <qtype>` line per name (`A`, `SRV`): dnsperf cycles through the file.
pub fn write_queries(path: &Path, names: &[String], qtype: RecordType) -> Result<(), BenchError> {
    let text: String = names.iter().map(|n| format!("{n} {qtype}\n")).collect();
    std::fs::write(path, text).map_err(BenchError::file(path))
}

/// Runs dnsperf against `server` for `duration` with `clients` sockets and up to `outstanding`
/// queries in flight (one thread: the machine's cores are shared with the server under test).
pub fn run(
    server: SocketAddr,
    queries: &Path,
    duration: Duration,
    clients: u32,
    outstanding: u32,
) -> Result<DnsperfResult, BenchError> {
    let out = Command::new("dnsperf")
        .arg("-s")
        .arg(server.ip().to_string())
        .arg("-p")
        .arg(server.port().to_string())
        .arg("-d")
        .arg(queries)
        .arg("-l")
        .arg(duration.as_secs().max(1).to_string())
        .arg("-c")
        .arg(clients.to_string())
        .arg("-q")
        .arg(outstanding.to_string())
        .arg("-T")
        .arg("1")
        .arg("-t")
        .arg("2")
        .output()
        .map_err(|source| BenchError::Spawn {
            program: "dnsperf".into(),
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse(&text).ok_or_else(|| {
        BenchError::Unexpected(format!(
            "dnsperf ({}) printed no statistics:\n{text}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    })
}

/// Parses dnsperf's `Statistics:` block.
pub fn parse(text: &str) -> Option<DnsperfResult> {
    let field = |label: &str| -> Option<&str> {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .map(str::trim)
    };
    let first_num = |s: &str| -> Option<f64> { s.split_whitespace().next()?.parse().ok() };
    Some(DnsperfResult {
        sent: first_num(field("Queries sent:")?)? as u64,
        completed: first_num(field("Queries completed:")?)? as u64,
        lost: first_num(field("Queries lost:")?)? as u64,
        qps: first_num(field("Queries per second:")?)?,
        avg_latency_ms: first_num(field("Average Latency (s):")?)? * 1000.0,
        rcodes: field("Response codes:").unwrap_or("").to_string(),
    })
}

/// One UDP question to `server`, bounded by `timeout`.
pub fn query(
    server: SocketAddr,
    name: &str,
    rtype: RecordType,
    timeout: Duration,
) -> Result<Message, BenchError> {
    query_sized(server, name, rtype, timeout).map(|(m, _)| m)
}

/// [`query`], also returning the answer's size in bytes.
pub fn query_sized(
    server: SocketAddr,
    name: &str,
    rtype: RecordType,
    timeout: Duration,
) -> Result<(Message, usize), BenchError> {
    let io = |e: std::io::Error| BenchError::Unexpected(format!("DNS {name} @{server}: {e}"));
    let qname = Name::from_ascii(name)
        .map_err(|e| BenchError::Unexpected(format!("bad name {name}: {e}")))?;
    let mut msg = Message::query();
    msg.add_query(Query::query(qname, rtype));
    msg.metadata.recursion_desired = false;
    msg.metadata.id = 0x5eed;
    let bytes = msg
        .to_vec()
        .map_err(|e| BenchError::Unexpected(format!("encode {name}: {e}")))?;
    let sock = UdpSocket::bind(SocketAddr::new(server.ip(), 0)).map_err(io)?;
    sock.set_read_timeout(Some(timeout)).map_err(io)?;
    sock.send_to(&bytes, server).map_err(io)?;
    let mut buf = [0u8; 4096];
    let (n, _) = sock.recv_from(&mut buf).map_err(io)?;
    Message::from_vec(&buf[..n])
        .map(|m| (m, n))
        .map_err(|e| BenchError::Unexpected(format!("decode answer for {name}: {e}")))
}

/// What an answer looks like, for comparing servers: response code, size, and the records of
/// each section (`owner TYPE rdata`, lower-cased and sorted; TTLs left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub rcode: String,
    pub bytes: usize,
    pub answers: Vec<String>,
    pub authorities: Vec<String>,
    pub additionals: Vec<String>,
}

impl Shape {
    pub fn of(m: &Message, bytes: usize) -> Shape {
        let section = |rs: &[hickory_proto::rr::Record]| {
            let mut v: Vec<String> = rs
                .iter()
                .map(|r| format!("{} {} {}", r.name, r.record_type(), r.data).to_lowercase())
                .collect();
            v.sort();
            v
        };
        Shape {
            rcode: format!("{:?}", m.metadata.response_code),
            bytes,
            answers: section(&m.answers),
            authorities: section(&m.authorities),
            additionals: section(&m.additionals),
        }
    }

    /// `NoError, 3 answers, 0 authority, 3 additional, 182 bytes`.
    pub fn summary(&self) -> String {
        format!(
            "{}, {} answers, {} authority, {} additional, {} bytes",
            self.rcode,
            self.answers.len(),
            self.authorities.len(),
            self.additionals.len(),
            self.bytes
        )
    }
}

/// The sorted A-record addresses of an answer.
pub fn a_records(m: &Message) -> Vec<String> {
    let mut v: Vec<String> = m
        .answers
        .iter()
        .filter_map(|r| r.data.ip_addr())
        .map(|ip| ip.to_string())
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "DNS Performance Testing Tool
Version 2.10.0

[Status] Command line: dnsperf -s 127.0.8.1 -p 8600 -d q.txt -l 2
[Status] Sending queries (to 127.0.8.1:8600)
[Status] Testing complete (time limit)

Statistics:

  Queries sent:         83811
  Queries completed:    83790 (99.97%)
  Queries lost:         21 (0.03%)

  Response codes:       NOERROR 83790 (100.00%)
  Average packet size:  request 38, response 86
  Run time (s):         2.001170
  Queries per second:   41870.505653

  Average Latency (s):  0.002320 (min 0.000046, max 0.011254)
  Latency StdDev (s):   0.000868
";

    #[test]
    fn parses_dnsperf_statistics() {
        let r = parse(SAMPLE).unwrap();
        assert_eq!(r.sent, 83811);
        assert_eq!(r.completed, 83790);
        assert_eq!(r.lost, 21);
        assert!((r.qps - 41870.505653).abs() < 1e-6);
        assert!((r.avg_latency_ms - 2.32).abs() < 1e-9);
        assert_eq!(r.rcodes, "NOERROR 83790 (100.00%)");
        assert_eq!(parse("[Status] nothing"), None);
    }
}
