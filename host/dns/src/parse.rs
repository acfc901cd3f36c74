//! Pure parsing of query names into lookups: Consul's `dispatch` grammar inside the DNS domain, and reverse
//! names under `arpa.` (`in-addr.arpa.`, `ip6.arpa.`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What a query name asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// The domain apex itself (`consul.`): SOA and NS live here.
    Apex,
    /// A service lookup.
    Service(ServiceQuery),
    /// `<svc>.connect[.<dc>].<domain>`: the service's connect set (proxies and native instances).
    Connect {
        /// Service name.
        service: String,
        /// Requested datacenter, if any.
        datacenter: Option<String>,
    },
    /// `<node>.node[.<dc>].<domain>`.
    Node {
        /// Node name (labels re-joined with `.`).
        node: String,
        /// Requested datacenter, if any.
        datacenter: Option<String>,
    },
    /// A prepared query: `<name>.query[.<dc>].<domain>`, or RFC 2782 `_<name>._<proto>.query[.<dc>].<domain>`.
    PreparedQuery {
        /// The query's name or ID (labels re-joined with `.`).
        name: String,
        /// Requested datacenter, if any.
        datacenter: Option<String>,
    },
    /// `<hex-ip>.addr[.<dc>].<domain>`: answered without the backend.
    Addr {
        /// The decoded address.
        ip: IpAddr,
        /// Requested datacenter, if any.
        datacenter: Option<String>,
    },
    /// A reverse name (`4.3.2.1.in-addr.arpa.`, or 32 nibbles under `ip6.arpa.`): a PTR lookup.
    Reverse {
        /// The decoded address.
        ip: IpAddr,
    },
}

/// A parsed service lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceQuery {
    /// Service name.
    pub service: String,
    /// Tag filter, if any.
    pub tag: Option<String>,
    /// Requested datacenter, if any.
    pub datacenter: Option<String>,
    /// Which spelling the name used.
    pub form: ServiceForm,
}

/// The spelling of a service query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceForm {
    /// `[<tag>.]<svc>.service[.<dc>].<domain>`.
    Plain,
    /// RFC 2782: `_<svc>._<tag>.service[.<dc>].<domain>`.
    Rfc2782,
    /// RFC 2782 without the `service` label: `_<svc>._<tag>[.<dc>].<domain>`; Consul honours it for SRV only.
    Rfc2782NoServiceLabel,
}

/// Why a name could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The name is neither inside the configured domain nor under `arpa.` (answered REFUSED).
    #[error("name is outside the DNS domain")]
    OutsideDomain,
    /// The name is inside the domain, or under `arpa.`, but means nothing (answered NXDOMAIN).
    #[error("invalid query name: {0}")]
    Invalid(&'static str),
}

/// Query kinds Consul knows but this server does not serve (answered NXDOMAIN).
const UNSUPPORTED_KINDS: &[&str] = &["virtual", "ingress", "ap", "peer", "sameness-group"];

/// Parses the labels of a query name (left to right, without the root) against the domain's labels.
/// Names outside the domain but under `arpa.` are reverse lookups (the domain wins if it is itself under
/// `arpa.`, as in Consul's mux). Matching is case-insensitive; returned names are lowercase.
pub fn parse_query<L: AsRef<str>, D: AsRef<str>>(
    labels: &[L],
    domain: &[D],
) -> Result<Parsed, ParseError> {
    let labels: Vec<String> = labels
        .iter()
        .map(|l| l.as_ref().to_ascii_lowercase())
        .collect();
    let split = labels.len().checked_sub(domain.len());
    let in_domain = split.is_some_and(|split| {
        labels[split..]
            .iter()
            .zip(domain)
            .all(|(l, d)| l.eq_ignore_ascii_case(d.as_ref()))
    });
    let split = match split {
        Some(split) if in_domain => split,
        _ => {
            return match labels.split_last() {
                Some((last, rest)) if last == ARPA => parse_reverse(rest)
                    .map(|ip| Parsed::Reverse { ip })
                    .ok_or(ParseError::Invalid("not a reverse address")),
                _ => Err(ParseError::OutsideDomain),
            };
        }
    };
    let rest = &labels[..split];
    if rest.is_empty() {
        return Ok(Parsed::Apex);
    }

    // Like Consul, the right-most known kind label decides; a `_x` label there means bare RFC 2782.
    for i in (0..rest.len()).rev() {
        let label = rest[i].as_str();
        let parts = &rest[..i];
        let suffixes = &rest[i + 1..];
        match label {
            "service" => return parse_service(parts, suffixes, false),
            "node" => return parse_node(parts, suffixes),
            "connect" => {
                let [service] = parts else {
                    return Err(ParseError::Invalid(
                        "a connect lookup takes one service name",
                    ));
                };
                return Ok(Parsed::Connect {
                    service: service.clone(),
                    datacenter: parse_datacenter(suffixes)?,
                });
            }
            "addr" => return parse_addr(parts, suffixes),
            "query" => return parse_prepared_query(parts, suffixes),
            kind if UNSUPPORTED_KINDS.contains(&kind) => {
                return Err(ParseError::Invalid("unsupported query kind"));
            }
            l if l.starts_with('_') => return parse_service(&rest[..=i], suffixes, true),
            _ => {}
        }
    }
    Err(ParseError::Invalid("no query kind"))
}

/// `[.<dc>]` or `[.<dc>.dc]` after the kind label.
fn parse_datacenter(suffixes: &[String]) -> Result<Option<String>, ParseError> {
    match suffixes {
        [] => Ok(None),
        [dc] => Ok(Some(dc.clone())),
        [dc, kind] if kind == "dc" => Ok(Some(dc.clone())),
        _ => Err(ParseError::Invalid("bad datacenter suffix")),
    }
}

fn parse_service(parts: &[String], suffixes: &[String], bare: bool) -> Result<Parsed, ParseError> {
    let datacenter = parse_datacenter(suffixes)?;
    let (service, tag, form) = match parts {
        [] => return Err(ParseError::Invalid("missing service name")),
        [svc, tag] if svc.starts_with('_') && tag.starts_with('_') => {
            let tag = &tag[1..];
            let tag = match tag {
                "" | "tcp" | "udp" => None,
                t => Some(t.to_string()),
            };
            let form = if bare {
                ServiceForm::Rfc2782NoServiceLabel
            } else {
                ServiceForm::Rfc2782
            };
            (svc[1..].to_string(), tag, form)
        }
        [tags @ .., svc] => {
            let tag = if tags.is_empty() {
                None
            } else {
                Some(tags.join("."))
            };
            let form = if bare {
                ServiceForm::Rfc2782NoServiceLabel
            } else {
                ServiceForm::Plain
            };
            (svc.clone(), tag, form)
        }
    };
    if service.is_empty() {
        return Err(ParseError::Invalid("missing service name"));
    }
    Ok(Parsed::Service(ServiceQuery {
        service,
        tag,
        datacenter,
        form,
    }))
}

fn parse_node(parts: &[String], suffixes: &[String]) -> Result<Parsed, ParseError> {
    if parts.is_empty() {
        return Err(ParseError::Invalid("missing node name"));
    }
    let datacenter = parse_datacenter(suffixes)?;
    Ok(Parsed::Node {
        node: parts.join("."),
        datacenter,
    })
}

/// Consul's `query` kind: at most one label (the datacenter) after `query`, no `.dc` spelling. The name
/// may contain dots; when both the first and the last label before `query` start with `_`, it is RFC 2782:
/// the last label is the protocol (ignored) and the name is the labels before it, less the leading `_`.
fn parse_prepared_query(parts: &[String], suffixes: &[String]) -> Result<Parsed, ParseError> {
    let datacenter = match suffixes {
        [] => None,
        [dc] => Some(dc.clone()),
        _ => return Err(ParseError::Invalid("bad datacenter suffix")),
    };
    let name = match parts {
        [first, .., last] if first.starts_with('_') && last.starts_with('_') => {
            let name = parts[..parts.len() - 1].join(".");
            name.strip_prefix('_').unwrap_or(&name).to_string()
        }
        _ => parts.join("."),
    };
    if name.is_empty() {
        return Err(ParseError::Invalid("missing query name"));
    }
    Ok(Parsed::PreparedQuery { name, datacenter })
}

fn parse_addr(parts: &[String], suffixes: &[String]) -> Result<Parsed, ParseError> {
    let [hex] = parts else {
        return Err(ParseError::Invalid("addr needs exactly one label"));
    };
    let datacenter = parse_datacenter(suffixes)?;
    let ip = decode_hex_ip(hex).ok_or(ParseError::Invalid("bad hex address"))?;
    Ok(Parsed::Addr { ip, datacenter })
}

/// The top-level domain of reverse names.
const ARPA: &str = "arpa";

/// Decodes the labels of a reverse name before the final `arpa` (left to right): exactly four decimal
/// octets, least significant first, then `in-addr` (`4.3.2.1.in-addr` is 1.2.3.4); or exactly 32 hex
/// nibbles, least significant first, then `ip6`. Octets are the canonical spelling (`0`-`255`, no leading
/// zero or sign), as Consul's `dns.ReverseAddr` writes them. Labels are compared case-insensitively.
/// None for anything else, including partial (network) names.
pub(crate) fn parse_reverse<L: AsRef<str>>(labels: &[L]) -> Option<IpAddr> {
    let (zone, digits) = labels.split_last()?;
    let zone = zone.as_ref();
    if zone.eq_ignore_ascii_case("in-addr") {
        let [a, b, c, d] = digits else {
            return None;
        };
        let octets = [d, c, b, a].map(|l| decimal_octet(l.as_ref()));
        let [a, b, c, d] = octets;
        Some(IpAddr::V4(Ipv4Addr::new(a?, b?, c?, d?)))
    } else if zone.eq_ignore_ascii_case("ip6") {
        if digits.len() != 32 {
            return None;
        }
        let mut value: u128 = 0;
        for label in digits.iter().rev() {
            let label = label.as_ref();
            if label.len() != 1 {
                return None;
            }
            let nibble = u8::from_str_radix(label, 16).ok()?;
            value = (value << 4) | u128::from(nibble);
        }
        Some(IpAddr::V6(Ipv6Addr::from(value)))
    } else {
        None
    }
}

/// `0`..=`255` written canonically: ASCII digits only, no leading zero.
fn decimal_octet(label: &str) -> Option<u8> {
    let canonical = !label.is_empty()
        && label.len() <= 3
        && label.bytes().all(|b| b.is_ascii_digit())
        && (label == "0" || !label.starts_with('0'));
    if canonical { label.parse().ok() } else { None }
}

/// Decodes 8 hex digits to IPv4 or 32 to IPv6.
pub(crate) fn decode_hex_ip(hex: &str) -> Option<IpAddr> {
    let bytes = decode_hex(hex)?;
    match bytes.len() {
        4 => {
            let octets: [u8; 4] = bytes.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(octets)))
        }
        16 => {
            let octets: [u8; 16] = bytes.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(octets)))
        }
        _ => None,
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) || !hex.is_ascii() {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Encodes an address the way Consul names `<hex>.addr` targets: 8 hex digits for IPv4 (also IPv4-mapped), 32 for IPv6.
pub(crate) fn encode_hex_ip(ip: IpAddr) -> String {
    let bytes: Vec<u8> = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.octets().to_vec(),
            None => v6.octets().to_vec(),
        },
    };
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOMAIN: &[&str] = &["consul"];

    fn parse(name: &str) -> Result<Parsed, ParseError> {
        let labels: Vec<&str> = name
            .trim_end_matches('.')
            .split('.')
            .filter(|l| !l.is_empty())
            .collect();
        parse_query(&labels, DOMAIN)
    }

    fn svc(service: &str, tag: Option<&str>, dc: Option<&str>, form: ServiceForm) -> Parsed {
        Parsed::Service(ServiceQuery {
            service: service.to_string(),
            tag: tag.map(str::to_string),
            datacenter: dc.map(str::to_string),
            form,
        })
    }

    #[test]
    fn apex_and_outside() {
        assert_eq!(parse("consul."), Ok(Parsed::Apex));
        assert_eq!(parse("CONSUL"), Ok(Parsed::Apex));
        assert_eq!(parse("example.com."), Err(ParseError::OutsideDomain));
        assert_eq!(
            parse("web.service.consul.com."),
            Err(ParseError::OutsideDomain)
        );
        assert_eq!(parse("."), Err(ParseError::OutsideDomain));
    }

    #[test]
    fn multi_label_domain() {
        let labels = ["web", "service", "dc2", "My", "Domain"];
        assert_eq!(
            parse_query(&labels, &["my", "domain"]),
            Ok(svc("web", None, Some("dc2"), ServiceForm::Plain))
        );
        assert_eq!(
            parse_query(&["web", "service", "domain"], &["my", "domain"]),
            Err(ParseError::OutsideDomain)
        );
    }

    #[test]
    fn service_forms() {
        assert_eq!(
            parse("web.service.consul"),
            Ok(svc("web", None, None, ServiceForm::Plain))
        );
        assert_eq!(
            parse("WEB.Service.DC2.consul"),
            Ok(svc("web", None, Some("dc2"), ServiceForm::Plain))
        );
        assert_eq!(
            parse("web.service.dc2.dc.consul"),
            Ok(svc("web", None, Some("dc2"), ServiceForm::Plain))
        );
        assert_eq!(
            parse("v1.web.service.consul"),
            Ok(svc("web", Some("v1"), None, ServiceForm::Plain))
        );
        assert_eq!(
            parse("a.b.web.service.consul"),
            Ok(svc("web", Some("a.b"), None, ServiceForm::Plain))
        );
        assert_eq!(
            parse("service.consul"),
            Err(ParseError::Invalid("missing service name"))
        );
        assert!(matches!(
            parse("web.service.a.b.consul"),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(
            parse("web.service.dc2.peer.consul"),
            Err(ParseError::Invalid(_))
        ));
    }

    #[test]
    fn rfc2782_forms() {
        assert_eq!(
            parse("_web._tcp.service.consul"),
            Ok(svc("web", None, None, ServiceForm::Rfc2782))
        );
        assert_eq!(
            parse("_web._udp.service.dc1.consul"),
            Ok(svc("web", None, Some("dc1"), ServiceForm::Rfc2782))
        );
        assert_eq!(
            parse("_web._v1.service.consul"),
            Ok(svc("web", Some("v1"), None, ServiceForm::Rfc2782))
        );
        assert_eq!(
            parse("_web._v1.consul"),
            Ok(svc(
                "web",
                Some("v1"),
                None,
                ServiceForm::Rfc2782NoServiceLabel
            ))
        );
        assert_eq!(
            parse("_web._tcp.dc2.consul"),
            Ok(svc(
                "web",
                None,
                Some("dc2"),
                ServiceForm::Rfc2782NoServiceLabel
            ))
        );
        assert!(matches!(
            parse("_._tcp.service.consul"),
            Err(ParseError::Invalid(_))
        ));
    }

    #[test]
    fn node_forms() {
        assert_eq!(
            parse("foo.node.consul"),
            Ok(Parsed::Node {
                node: "foo".into(),
                datacenter: None
            })
        );
        assert_eq!(
            parse("Foo.Bar.node.dc2.consul"),
            Ok(Parsed::Node {
                node: "foo.bar".into(),
                datacenter: Some("dc2".into())
            })
        );
        assert!(matches!(parse("node.consul"), Err(ParseError::Invalid(_))));
        // The right-most kind label wins, as in Consul.
        assert_eq!(
            parse("web.service.node.consul"),
            Ok(Parsed::Node {
                node: "web.service".into(),
                datacenter: None
            })
        );
    }

    fn query(name: &str, dc: Option<&str>) -> Parsed {
        Parsed::PreparedQuery {
            name: name.to_string(),
            datacenter: dc.map(str::to_string),
        }
    }

    #[test]
    fn prepared_query_plain() {
        assert_eq!(parse("geo-db.query.consul"), Ok(query("geo-db", None)));
        assert_eq!(parse("Geo-DB.Query.CONSUL."), Ok(query("geo-db", None)));
        // An ID is a name like any other.
        assert_eq!(
            parse("8f246b77-f3e1-ff88-5b48-8ec93abf3e05.query.consul"),
            Ok(query("8f246b77-f3e1-ff88-5b48-8ec93abf3e05", None))
        );
    }

    #[test]
    fn prepared_query_with_datacenter() {
        assert_eq!(parse("db.query.dc2.consul"), Ok(query("db", Some("dc2"))));
        assert_eq!(parse("db.query.DC2.consul"), Ok(query("db", Some("dc2"))));
        let labels = ["db", "query", "dc2", "my", "domain"];
        assert_eq!(
            parse_query(&labels, &["my", "domain"]),
            Ok(query("db", Some("dc2")))
        );
    }

    #[test]
    fn prepared_query_dotted_name() {
        assert_eq!(parse("a.b.c.query.consul"), Ok(query("a.b.c", None)));
        assert_eq!(
            parse("My.DB.query.dc1.consul"),
            Ok(query("my.db", Some("dc1")))
        );
        // Only one end starting with `_` is no RFC 2782 name: the labels are kept whole.
        assert_eq!(parse("_db.tcp.query.consul"), Ok(query("_db.tcp", None)));
        assert_eq!(parse("db._tcp.query.consul"), Ok(query("db._tcp", None)));
        assert_eq!(parse("_db.query.consul"), Ok(query("_db", None)));
    }

    #[test]
    fn prepared_query_rfc2782() {
        assert_eq!(parse("_db._tcp.query.consul"), Ok(query("db", None)));
        assert_eq!(
            parse("_DB._udp.query.dc2.consul"),
            Ok(query("db", Some("dc2")))
        );
        // The protocol label is ignored, whatever it says.
        assert_eq!(parse("_db._v1.query.consul"), Ok(query("db", None)));
        // All labels but the last make the name, less the leading `_`.
        assert_eq!(parse("_my.db._tcp.query.consul"), Ok(query("my.db", None)));
        assert_eq!(parse("_a._b._tcp.query.consul"), Ok(query("a._b", None)));
        assert_eq!(
            parse("_._tcp.query.consul"),
            Err(ParseError::Invalid("missing query name"))
        );
    }

    #[test]
    fn prepared_query_invalid() {
        assert_eq!(
            parse("query.consul"),
            Err(ParseError::Invalid("missing query name"))
        );
        assert_eq!(
            parse("query.dc2.consul"),
            Err(ParseError::Invalid("missing query name"))
        );
        // At most one label (the datacenter) after `query`; not even Consul's `<dc>.dc` spelling.
        for name in [
            "db.query.dc2.extra.consul",
            "db.query.dc2.dc.consul",
            "_db._tcp.query.a.b.consul",
        ] {
            assert_eq!(
                parse(name),
                Err(ParseError::Invalid("bad datacenter suffix")),
                "{name}"
            );
        }
        // The right-most kind label decides.
        assert_eq!(
            parse("db.query.service.consul"),
            Ok(svc("query", Some("db"), None, ServiceForm::Plain))
        );
        assert_eq!(
            parse("web.service.query.consul"),
            Ok(query("web.service", None))
        );
    }

    #[test]
    fn addr_forms() {
        assert_eq!(
            parse("7f000001.addr.dc1.consul"),
            Ok(Parsed::Addr {
                ip: "127.0.0.1".parse().unwrap(),
                datacenter: Some("dc1".into())
            })
        );
        assert_eq!(
            parse("7F000001.addr.consul"),
            Ok(Parsed::Addr {
                ip: "127.0.0.1".parse().unwrap(),
                datacenter: None
            })
        );
        assert_eq!(
            parse("20010db8000000000000000000000001.addr.dc1.consul"),
            Ok(Parsed::Addr {
                ip: "2001:db8::1".parse().unwrap(),
                datacenter: Some("dc1".into())
            })
        );
        assert!(matches!(
            parse("7f0000.addr.dc1.consul"),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(
            parse("zz000001.addr.dc1.consul"),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(
            parse("a.7f000001.addr.dc1.consul"),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(parse("addr.consul"), Err(ParseError::Invalid(_))));
        assert!(matches!(
            parse("7f00000\u{e9}.addr.consul"),
            Err(ParseError::Invalid(_))
        ));
    }

    /// The labels of the reverse name of `ip`, through hickory's own encoder (`Name: From<IpAddr>`).
    fn reverse_labels(ip: IpAddr) -> Vec<String> {
        hickory_proto::rr::Name::from(ip)
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect()
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            parse("4.3.2.1.in-addr.arpa."),
            Ok(Parsed::Reverse {
                ip: "1.2.3.4".parse().unwrap()
            })
        );
        assert_eq!(
            parse("0.0.0.10.IN-ADDR.ARPA"),
            Ok(Parsed::Reverse {
                ip: "10.0.0.0".parse().unwrap()
            })
        );
        assert_eq!(
            parse("b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."),
            Ok(Parsed::Reverse {
                ip: "2001:db8::567:89ab".parse().unwrap()
            })
        );
        assert_eq!(
            parse("B.A.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.IP6.ARPA."),
            Ok(Parsed::Reverse {
                ip: "2001:db8::567:89ab".parse().unwrap()
            })
        );
        for ip in [
            "10.1.2.3",
            "255.255.255.255",
            "0.0.0.0",
            "2001:db8::ff",
            "::1",
            "::",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            let labels = reverse_labels(ip);
            assert_eq!(
                parse_query(&labels, DOMAIN),
                Ok(Parsed::Reverse { ip }),
                "{labels:?}"
            );
        }
    }

    #[test]
    fn invalid_reverse_names() {
        for name in [
            "arpa.",
            "in-addr.arpa.",
            "2.1.in-addr.arpa.",             // a network, not an address
            "5.4.3.2.1.in-addr.arpa.",       // too many labels
            "256.3.2.1.in-addr.arpa.",       // octet out of range
            "04.3.2.1.in-addr.arpa.",        // leading zero
            "+4.3.2.1.in-addr.arpa.",        // sign
            "-1.3.2.1.in-addr.arpa.",        // sign
            "a.3.2.1.in-addr.arpa.",         // not decimal
            "4.3.2.1.blah.arpa.",            // unknown reverse zone
            "4.3.2.1.home.arpa.",            // unknown reverse zone
            "1.0.0.2.ip6.arpa.",             // partial nibble form
            "10.0.0.2.ip6.arpa.",            // labels are not nibbles
            "4.3.2.1.in-addr.arpa.consul.x", // not under arpa at all
        ] {
            let expected = if name.ends_with(".x") {
                Err(ParseError::OutsideDomain)
            } else {
                Err(ParseError::Invalid("not a reverse address"))
            };
            assert_eq!(parse(name), expected, "{name}");
        }
        let mut nibbles = vec!["0"; 32];
        nibbles[0] = "g";
        let mut labels = nibbles.clone();
        labels.extend(["ip6", "arpa"]);
        assert!(matches!(
            parse_query(&labels, DOMAIN),
            Err(ParseError::Invalid(_))
        ));
        nibbles[0] = "00";
        let mut labels = nibbles;
        labels.extend(["ip6", "arpa"]);
        assert!(matches!(
            parse_query(&labels, DOMAIN),
            Err(ParseError::Invalid(_))
        ));
        assert_eq!(parse_reverse::<&str>(&[]), None);
        assert_eq!(parse_reverse(&["\u{e9}", "3", "2", "1", "in-addr"]), None);
    }

    #[test]
    fn domain_under_arpa_wins() {
        // A domain that is itself under arpa. is served as the domain, like Consul's longest-match mux.
        let labels = ["foo", "node", "in-addr", "arpa"];
        assert_eq!(
            parse_query(&labels, &["in-addr", "arpa"]),
            Ok(Parsed::Node {
                node: "foo".into(),
                datacenter: None
            })
        );
    }

    #[test]
    fn unknown_names() {
        assert_eq!(
            parse("bogus.consul"),
            Err(ParseError::Invalid("no query kind"))
        );
        assert_eq!(
            parse("web.connect.dc2.consul"),
            Ok(Parsed::Connect {
                service: "web".into(),
                datacenter: Some("dc2".into())
            })
        );
        assert_eq!(
            parse("v1.web.connect.consul"),
            Err(ParseError::Invalid(
                "a connect lookup takes one service name"
            ))
        );
        assert_eq!(
            parse("x.virtual.consul"),
            Err(ParseError::Invalid("unsupported query kind"))
        );
    }

    #[test]
    fn hex_round_trip() {
        for ip in ["10.1.2.3", "2001:db8::ff", "::1"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(decode_hex_ip(&encode_hex_ip(ip)), Some(ip));
        }
        assert_eq!(encode_hex_ip("127.0.0.2".parse().unwrap()), "7f000002");
        assert_eq!(
            encode_hex_ip("::ffff:127.0.0.2".parse().unwrap()),
            "7f000002"
        );
    }
}
