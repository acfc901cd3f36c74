//! Building resource records from catalog data: service A/AAAA/CNAME and SRV answers, SOA, NS, PTR, node
//! targets, and node meta as RFC 1464 TXT records.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tracing::warn;

use crate::backend::{Instance, ReverseName};
use crate::parse::encode_hex_ip;

/// Consul's SOA timers (`dns_config.soa` defaults).
const SOA_REFRESH: i32 = 3600;
const SOA_RETRY: i32 = 600;
const SOA_EXPIRE: i32 = 86400;
const SOA_MIN_TTL: u32 = 0;
/// Consul answers PTR queries with TTL 0.
const PTR_TTL: u32 = 0;
/// RFC 1464's quote character.
const BACKQUOTE: char = '`';
/// Node meta keys with this prefix (any case) are served as their bare value, not `key=value`.
const RFC1035_PREFIX: &str = "rfc1035-";
/// A TXT `<character-string>` holds at most 255 bytes (RFC 1035 §3.3).
const MAX_CHARACTER_STRING: usize = 255;

/// The served zone: domain, local datacenter and record policy.
#[derive(Debug, Clone)]
pub(crate) struct Zone {
    /// Lowercase domain without the trailing dot, e.g. `consul`.
    pub domain: String,
    /// The domain's labels, lowercase.
    pub domain_labels: Vec<String>,
    /// The domain as a fully qualified name.
    pub apex: Name,
    /// The local datacenter.
    pub datacenter: String,
    pub node_ttl: u32,
    pub service_ttl: u32,
    /// 0 = no limit.
    pub a_record_limit: usize,
}

impl Zone {
    /// Consul's SOA: `ns.<domain> hostmaster.<domain> <unix time> 3600 600 86400 0`, TTL 0.
    pub fn soa(&self) -> Record {
        let serial = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(0);
        let mname = self
            .name(&format!("ns.{}", self.domain))
            .unwrap_or_else(|| self.apex.clone());
        let rname = self
            .name(&format!("hostmaster.{}", self.domain))
            .unwrap_or_else(|| self.apex.clone());
        let soa = SOA::new(
            mname,
            rname,
            serial,
            SOA_REFRESH,
            SOA_RETRY,
            SOA_EXPIRE,
            SOA_MIN_TTL,
        );
        Record::from_rdata(self.apex.clone(), SOA_MIN_TTL, RData::SOA(soa))
    }

    /// `<node>.node.<dc>.<domain>.`
    pub fn node_target(&self, node: &str, dc: &str) -> Option<Name> {
        self.name(&format!("{node}.node.{dc}.{}", self.domain))
    }

    /// `<service>.service.<dc>.<domain>.`
    pub fn service_target(&self, service: &str, dc: &str) -> Option<Name> {
        self.name(&format!("{service}.service.{dc}.{}", self.domain))
    }

    /// The PTR target for what a reverse lookup found: `<node>.node.<dc>.<domain>.` or
    /// `<service>.service.<dc>.<domain>.` (an empty datacenter is the local one). None if the node or
    /// service name is not a valid DNS name.
    pub fn reverse_target(&self, found: &ReverseName) -> Option<Name> {
        let dc = |dc: &str| {
            if dc.is_empty() {
                self.datacenter.clone()
            } else {
                dc.to_string()
            }
        };
        match found {
            ReverseName::Node { node, datacenter } => self.node_target(node, &dc(datacenter)),
            ReverseName::Service {
                service,
                datacenter,
            } => self.service_target(service, &dc(datacenter)),
        }
    }

    /// `<hex-ip>.addr.<dc>.<domain>.`
    pub fn addr_target(&self, ip: IpAddr, dc: &str) -> Option<Name> {
        self.name(&format!("{}.addr.{dc}.{}", encode_hex_ip(ip), self.domain))
    }

    /// An NS record at the apex pointing at `target`.
    pub fn ns(&self, target: Name) -> Record {
        Record::from_rdata(self.apex.clone(), self.node_ttl, RData::NS(NS(target)))
    }

    fn name(&self, text: &str) -> Option<Name> {
        fqdn(text)
    }
}

/// Parses a host name into a fully qualified `Name`; None if it is not a valid DNS name.
pub(crate) fn fqdn(text: &str) -> Option<Name> {
    let mut name = Name::from_ascii(text).ok()?;
    name.set_fqdn(true);
    Some(name)
}

/// An A or AAAA record for `ip` if the query type accepts that family.
pub(crate) fn ip_record(name: &Name, ttl: u32, ip: IpAddr, qtype: RecordType) -> Option<Record> {
    match (ip, qtype) {
        (IpAddr::V4(_), RecordType::A | RecordType::ANY)
        | (IpAddr::V6(_), RecordType::AAAA | RecordType::ANY) => {
            Some(address_record(name, ttl, ip))
        }
        _ => None,
    }
}

/// An A record for IPv4, AAAA for IPv6.
pub(crate) fn address_record(name: &Name, ttl: u32, ip: IpAddr) -> Record {
    let rdata = match ip {
        IpAddr::V4(v4) => RData::A(A(v4)),
        IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
    };
    Record::from_rdata(name.clone(), ttl, rdata)
}

/// A CNAME from `name` to the host `target`; None if `target` is not a valid name.
pub(crate) fn cname_record(name: &Name, ttl: u32, target: &str) -> Option<Record> {
    Some(Record::from_rdata(
        name.clone(),
        ttl,
        RData::CNAME(CNAME(fqdn(target)?)),
    ))
}

/// A PTR record from the reverse name `name` to `target`, with Consul's TTL 0.
pub(crate) fn ptr_record(name: &Name, target: Name) -> Record {
    Record::from_rdata(name.clone(), PTR_TTL, RData::PTR(PTR(target)))
}

/// Encodes one node meta pair as TXT text, as Consul's `generateMeta` does: `key=value` per RFC 1464
/// (in the key a backquote becomes two, `=` becomes `` `= `` and each leading or trailing space is
/// preceded by a backquote; in the value only backquotes are doubled), except that keys starting with
/// `rfc1035-` (any case) give the bare value.
pub(crate) fn meta_txt_text(key: &str, value: &str) -> String {
    let is_rfc1035 = key
        .get(..RFC1035_PREFIX.len())
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(RFC1035_PREFIX));
    if is_rfc1035 {
        return value.to_string();
    }
    let body = key.trim_start_matches(' ');
    let leading = key.len() - body.len();
    let middle = body.trim_end_matches(' ');
    let trailing = body.len() - middle.len();
    let mut text = String::with_capacity(key.len() + value.len() + leading + trailing + 1);
    for _ in 0..leading {
        text.push(BACKQUOTE);
        text.push(' ');
    }
    for c in middle.chars() {
        if c == BACKQUOTE || c == '=' {
            text.push(BACKQUOTE);
        }
        text.push(c);
    }
    for _ in 0..trailing {
        text.push(BACKQUOTE);
        text.push(' ');
    }
    text.push('=');
    for c in value.chars() {
        if c == BACKQUOTE {
            text.push(BACKQUOTE);
        }
        text.push(c);
    }
    text
}

/// One TXT record per node meta pair (in key order), owned by `name`. Text longer than a DNS
/// character-string is split over several strings of the same record, so it always encodes.
pub(crate) fn meta_txt_records(
    name: &Name,
    ttl: u32,
    meta: &BTreeMap<String, String>,
) -> Vec<Record> {
    meta.iter()
        .map(|(key, value)| {
            let text = meta_txt_text(key, value);
            let mut strings: Vec<&[u8]> = text.as_bytes().chunks(MAX_CHARACTER_STRING).collect();
            if strings.is_empty() {
                // An empty value under an `rfc1035-` key: one empty string, not an empty RDATA.
                strings.push(&[]);
            }
            Record::from_rdata(name.clone(), ttl, RData::TXT(TXT::from_bytes(strings)))
        })
        .collect()
}

fn same_address(a: &str, b: &str) -> bool {
    match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.eq_ignore_ascii_case(b),
    }
}

/// Consul: a service address that names the queried service itself falls back to the node address.
fn is_self_cname(address: &str, qname: &Name) -> bool {
    address.parse::<IpAddr>().is_err() && fqdn(address).is_some_and(|n| &n == qname)
}

/// Which address answers for an instance, and whether it is the service's own (not the node's).
fn instance_address<'a>(inst: &'a Instance, qname: &Name) -> (&'a str, bool) {
    let svc = inst.service_address.as_str();
    let node_is_ip = inst.node_address.parse::<IpAddr>().is_ok();
    if svc.is_empty()
        || same_address(svc, &inst.node_address)
        || (node_is_ip && is_self_cname(svc, qname))
    {
        (inst.node_address.as_str(), false)
    } else {
        (svc, true)
    }
}

/// A/AAAA answers for a service lookup (Consul's `serviceNodeRecords`): one per distinct address of the
/// family asked for, in instance order, capped at `a_record_limit`; a CNAME only when no address record exists.
/// `ttl` is the service TTL, or a prepared query's own.
pub(crate) fn service_address_records(
    zone: &Zone,
    qname: &Name,
    qtype: RecordType,
    instances: &[Instance],
    ttl: u32,
) -> Vec<Record> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut answers = Vec::new();
    let mut cname = None;
    for inst in instances {
        let (address, _) = instance_address(inst, qname);
        if address.is_empty() || !seen.insert(address) {
            continue;
        }
        match address.parse::<IpAddr>() {
            Ok(ip) => {
                if let Some(record) = ip_record(qname, ttl, ip, qtype) {
                    answers.push(record);
                    if zone.a_record_limit > 0 && answers.len() >= zone.a_record_limit {
                        break;
                    }
                }
            }
            Err(_) => {
                if cname.is_none() {
                    cname = cname_record(qname, ttl, address);
                }
            }
        }
    }
    if answers.is_empty() {
        answers.extend(cname);
    }
    answers
}

/// SRV answers and their additional records (Consul's `serviceSRVRecords`): target
/// `<node>.node.<dc>.<domain>` when the node address answers, `<hexip>.addr.<dc>.<domain>` when the service
/// has its own IP, or the host name itself; one answer per distinct (node, address, port). The additionals
/// are the targets' addresses and, as with Consul's default `enable_additional_node_meta_txt`, each answered
/// node's meta as TXT records owned by `<node>.node.<dc>.<domain>` (once per node). `dc` names instances
/// that carry no datacenter; `ttl` (the service TTL, or a prepared query's own) is every record's TTL.
pub(crate) fn service_srv_records(
    zone: &Zone,
    qname: &Name,
    instances: &[Instance],
    dc: &str,
    ttl: u32,
) -> (Vec<Record>, Vec<Record>) {
    let mut seen: HashSet<(&str, &str, u16)> = HashSet::new();
    let mut answers = Vec::new();
    let mut extras: Vec<Record> = Vec::new();
    let mut meta_nodes: HashSet<Name> = HashSet::new();
    let mut meta_extras: Vec<Record> = Vec::new();
    for inst in instances {
        let (address, own) = instance_address(inst, qname);
        if address.is_empty() || !seen.insert((inst.node.as_str(), address, inst.port)) {
            continue;
        }
        let inst_dc = if inst.datacenter.is_empty() {
            dc
        } else {
            inst.datacenter.as_str()
        };
        let (target, extra) = match address.parse::<IpAddr>() {
            Ok(ip) => {
                let target = if own {
                    zone.addr_target(ip, inst_dc)
                } else {
                    zone.node_target(&inst.node, inst_dc)
                };
                let Some(target) = target else {
                    warn!(node = %inst.node, "skipping instance whose node name is not a valid DNS name");
                    continue;
                };
                let extra = address_record(&target, ttl, ip);
                (target, Some(extra))
            }
            Err(_) => match fqdn(address) {
                Some(target) => (target, None),
                None => {
                    warn!(%address, "skipping instance whose address is neither an IP nor a host name");
                    continue;
                }
            },
        };
        let srv = SRV::new(1, inst.weight, inst.port, target);
        answers.push(Record::from_rdata(qname.clone(), ttl, RData::SRV(srv)));
        if let Some(extra) = extra
            && !extras.contains(&extra)
        {
            extras.push(extra);
        }
        if !inst.node_meta.is_empty()
            && let Some(node) = zone.node_target(&inst.node, inst_dc)
            && meta_nodes.insert(node.clone())
        {
            meta_extras.extend(meta_txt_records(&node, ttl, &inst.node_meta));
        }
    }
    extras.extend(meta_extras);
    (answers, extras)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> Zone {
        Zone {
            domain: "consul".into(),
            domain_labels: vec!["consul".into()],
            apex: fqdn("consul").unwrap(),
            datacenter: "dc1".into(),
            node_ttl: 7,
            service_ttl: 9,
            a_record_limit: 0,
        }
    }

    fn inst(node: &str, node_address: &str, service_address: &str, port: u16) -> Instance {
        Instance {
            node: node.into(),
            node_address: node_address.into(),
            node_meta: BTreeMap::new(),
            service_address: service_address.into(),
            port,
            datacenter: "dc1".into(),
            weight: 1,
        }
    }

    fn qname() -> Name {
        fqdn("web.service.consul").unwrap()
    }

    #[test]
    fn address_records_dedup_family_and_limit() {
        let instances = vec![
            inst("a", "10.0.0.1", "", 80),
            inst("b", "10.0.0.1", "", 81),
            inst("c", "10.0.0.2", "10.0.0.9", 80),
            inst("d", "2001:db8::1", "", 80),
        ];
        let a = service_address_records(&zone(), &qname(), RecordType::A, &instances, 9);
        let ips: Vec<String> = a.iter().map(|r| r.data.to_string()).collect();
        assert_eq!(ips, vec!["10.0.0.1", "10.0.0.9"]);
        assert!(a.iter().all(|r| r.ttl == 9));
        let aaaa = service_address_records(&zone(), &qname(), RecordType::AAAA, &instances, 9);
        assert_eq!(aaaa.len(), 1);
        let mut limited = zone();
        limited.a_record_limit = 1;
        assert_eq!(
            service_address_records(&limited, &qname(), RecordType::A, &instances, 9).len(),
            1
        );
    }

    #[test]
    fn cname_only_without_ips() {
        let instances = vec![inst("a", "10.0.0.1", "db.example.com", 80)];
        let recs = service_address_records(&zone(), &qname(), RecordType::A, &instances, 9);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].record_type(), RecordType::CNAME);
        let mixed = vec![
            inst("a", "10.0.0.1", "db.example.com", 80),
            inst("b", "10.0.0.2", "", 80),
        ];
        let recs = service_address_records(&zone(), &qname(), RecordType::A, &mixed, 9);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].record_type(), RecordType::A);
        // A service address naming the service itself falls back to the node address.
        let selfname = vec![inst("a", "10.0.0.1", "web.service.consul", 80)];
        let recs = service_address_records(&zone(), &qname(), RecordType::A, &selfname, 9);
        assert_eq!(recs[0].data.to_string(), "10.0.0.1");
    }

    #[test]
    fn srv_targets() {
        let instances = vec![
            inst("a", "10.0.0.1", "", 80),
            inst("a", "10.0.0.1", "", 80),
            inst("a", "10.0.0.1", "10.0.0.1", 81),
            inst("b", "10.0.0.2", "10.0.0.5", 82),
            inst("c", "10.0.0.3", "db.example.com", 83),
        ];
        let (answers, extras) = service_srv_records(&zone(), &qname(), &instances, "dc1", 9);
        let texts: Vec<String> = answers.iter().map(|r| r.data.to_string()).collect();
        assert_eq!(
            texts,
            vec![
                "1 1 80 a.node.dc1.consul.",
                "1 1 81 a.node.dc1.consul.",
                "1 1 82 0a000005.addr.dc1.consul.",
                "1 1 83 db.example.com."
            ]
        );
        let extra_names: Vec<String> = extras
            .iter()
            .map(|r| format!("{} {}", r.name, r.data))
            .collect();
        assert_eq!(
            extra_names,
            vec![
                "a.node.dc1.consul. 10.0.0.1",
                "0a000005.addr.dc1.consul. 10.0.0.5"
            ]
        );
    }

    fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn rfc1464_encoding() {
        assert_eq!(meta_txt_text("key", "value"), "key=value");
        assert_eq!(meta_txt_text("", ""), "=");
        assert_eq!(meta_txt_text("a=b", "c=d"), "a`=b=c=d");
        assert_eq!(meta_txt_text("a`b", "c`d"), "a``b=c``d");
        assert_eq!(meta_txt_text("=`", "``"), "`=``=````");
        assert_eq!(meta_txt_text("  k ", " v "), "` ` k` = v ");
        assert_eq!(meta_txt_text("a b", "x"), "a b=x");
        assert_eq!(meta_txt_text(" ", "x"), "` =x");
        assert_eq!(meta_txt_text("ke\u{e9}y", "v\u{e9}"), "ke\u{e9}y=v\u{e9}");
        // rfc1035- keys (any case) give the bare, unescaped value.
        assert_eq!(meta_txt_text("rfc1035-x", "a=b`c"), "a=b`c");
        assert_eq!(meta_txt_text("RFC1035-Spf", "v=spf1 -all"), "v=spf1 -all");
        assert_eq!(meta_txt_text("rfc1035", "v"), "rfc1035=v");
        assert_eq!(meta_txt_text("\u{e9}fc1035-x", "v"), "\u{e9}fc1035-x=v");
    }

    #[test]
    fn meta_txt_records_sorted_and_split() {
        let name = fqdn("foo.node.consul").unwrap();
        let long = "x".repeat(600);
        let records = meta_txt_records(
            &name,
            5,
            &meta(&[("b", "2"), ("a", "1"), ("c", &long), ("rfc1035-e", "")]),
        );
        let texts: Vec<Vec<usize>> = records
            .iter()
            .map(|r| match &r.data {
                RData::TXT(txt) => txt.txt_data.iter().map(|s| s.len()).collect(),
                _ => panic!("not a TXT"),
            })
            .collect();
        assert_eq!(texts, vec![vec![3], vec![3], vec![255, 255, 92], vec![0]]);
        assert_eq!(records[0].data.to_string(), "a=1");
        assert_eq!(records[1].data.to_string(), "b=2");
        assert!(records.iter().all(|r| r.ttl == 5 && r.name == name));
        assert!(meta_txt_records(&name, 5, &BTreeMap::new()).is_empty());
        // Every record encodes (no character-string over 255 bytes).
        for record in &records {
            let mut buffer = Vec::new();
            let mut encoder = hickory_proto::serialize::binary::BinEncoder::new(&mut buffer);
            hickory_proto::serialize::binary::BinEncodable::emit(record, &mut encoder)
                .expect("TXT encodes");
        }
    }

    #[test]
    fn ptr_and_reverse_targets() {
        let z = zone();
        let node = ReverseName::Node {
            node: "Foo".into(),
            datacenter: "dc2".into(),
        };
        assert_eq!(
            z.reverse_target(&node).unwrap().to_string(),
            "Foo.node.dc2.consul."
        );
        let svc = ReverseName::Service {
            service: "web".into(),
            datacenter: String::new(),
        };
        let target = z.reverse_target(&svc).unwrap();
        assert_eq!(target.to_string(), "web.service.dc1.consul.");
        let bad = ReverseName::Node {
            node: "a..b".into(),
            datacenter: String::new(),
        };
        assert_eq!(z.reverse_target(&bad), None);
        let owner = fqdn("1.0.0.10.in-addr.arpa").unwrap();
        let ptr = ptr_record(&owner, target);
        assert_eq!(ptr.record_type(), RecordType::PTR);
        assert_eq!(ptr.ttl, 0);
        assert_eq!(ptr.name, owner);
        assert_eq!(ptr.data.to_string(), "web.service.dc1.consul.");
    }

    #[test]
    fn srv_additional_node_meta() {
        let mut a = inst("a", "10.0.0.1", "", 80);
        a.node_meta = meta(&[("k", "v"), ("env", "prod")]);
        let mut a2 = a.clone();
        a2.port = 81;
        let mut b = inst("b", "10.0.0.2", "10.0.0.5", 82);
        b.node_meta = meta(&[("k", "w")]);
        let c = inst("c", "10.0.0.3", "", 83);
        let (answers, extras) = service_srv_records(&zone(), &qname(), &[a, a2, b, c], "dc1", 9);
        assert_eq!(answers.len(), 4);
        let txt: Vec<String> = extras
            .iter()
            .filter(|r| r.record_type() == RecordType::TXT)
            .map(|r| format!("{} {} {}", r.name, r.ttl, r.data))
            .collect();
        // Once per node, owned by the node name, with the service TTL; none for a node without meta.
        assert_eq!(
            txt,
            vec![
                "a.node.dc1.consul. 9 env=prod",
                "a.node.dc1.consul. 9 k=v",
                "b.node.dc1.consul. 9 k=w"
            ]
        );
        // Address records come first.
        assert_eq!(extras[0].record_type(), RecordType::A);
    }

    #[test]
    fn soa_fields() {
        let soa = zone().soa();
        let RData::SOA(s) = &soa.data else {
            panic!("not a SOA")
        };
        assert_eq!(soa.name.to_string(), "consul.");
        assert_eq!(s.mname.to_string(), "ns.consul.");
        assert_eq!(s.rname.to_string(), "hostmaster.consul.");
        assert_eq!(
            (s.refresh, s.retry, s.expire, s.minimum),
            (3600, 600, 86400, 0)
        );
        assert_eq!(soa.ttl, 0);
    }
}
