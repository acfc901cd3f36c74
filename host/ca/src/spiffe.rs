//! SPIFFE IDs as Consul Connect uses them, trust domains and SNI names.

use std::fmt;

use crate::error::CaError;

/// A Connect SPIFFE ID.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SpiffeId {
    /// `spiffe://<td>/ns/<ns>/dc/<dc>/svc/<service>` (also read with an `/ap/default` prefix).
    Service {
        /// Trust domain (URI host).
        trust_domain: String,
        /// Namespace (`default` in CE).
        namespace: String,
        /// Datacenter.
        datacenter: String,
        /// Service name.
        service: String,
    },
    /// `spiffe://<td>/agent/client/dc/<dc>/id/<node-id>` (also read with an `/ap/default` prefix).
    Agent {
        /// Trust domain (URI host).
        trust_domain: String,
        /// Datacenter.
        datacenter: String,
        /// The agent's node name/ID.
        node_id: String,
    },
    /// `spiffe://<td>/agent/server/dc/<dc>`.
    Server {
        /// Trust domain (URI host).
        trust_domain: String,
        /// Datacenter.
        datacenter: String,
    },
    /// `spiffe://<td>/gateway/mesh/dc/<dc>` (also read with an `/ap/default` prefix).
    MeshGateway {
        /// Trust domain (URI host).
        trust_domain: String,
        /// Datacenter.
        datacenter: String,
    },
    /// `spiffe://<td>`: the CA signing ID (URI SAN of roots and intermediates).
    Signing {
        /// Trust domain (URI host).
        trust_domain: String,
    },
}

/// The trust domain of a cluster: `<cluster_id>.consul`.
pub fn trust_domain(cluster_id: &str) -> String {
    format!("{cluster_id}.consul")
}

/// SNI of a service's upstream: `<service>.<namespace>.<dc>.internal.<td>`
/// (an empty namespace counts as `default`).
pub fn service_sni(service: &str, namespace: &str, datacenter: &str, trust_domain: &str) -> String {
    let namespace = if namespace.is_empty() {
        "default"
    } else {
        namespace
    };
    format!("{service}.{namespace}.{datacenter}.internal.{trust_domain}")
}

/// SNI of a datacenter's mesh gateway: `<dc>.internal.<td>`.
pub fn gateway_sni(datacenter: &str, trust_domain: &str) -> String {
    format!("{datacenter}.internal.{trust_domain}")
}

impl SpiffeId {
    /// Parses a `spiffe://` URI. Rejects queries, fragments, userinfo, ports,
    /// empty segments, partitions other than `default` and unknown paths.
    pub fn parse(uri: &str) -> Result<SpiffeId, CaError> {
        let bad = || CaError::InvalidSpiffeId(uri.to_string());
        let scheme = uri.get(..9).ok_or_else(bad)?;
        if !scheme.eq_ignore_ascii_case("spiffe://") {
            return Err(bad());
        }
        let rest = uri.get(9..).ok_or_else(bad)?;
        if rest.contains(['?', '#']) {
            return Err(bad());
        }
        let (host, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(bad());
        }
        let trust_domain = host.to_string();
        if path.is_empty() || path == "/" {
            return Ok(SpiffeId::Signing { trust_domain });
        }
        let segments = path[1..]
            .split('/')
            .map(|s| pct_decode(s).filter(|s| !s.is_empty()))
            .collect::<Option<Vec<String>>>()
            .ok_or_else(bad)?;
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        let (partitioned, segs) = match segs.as_slice() {
            ["ap", "default", rest @ ..] => (true, rest),
            ["ap", ..] => return Err(bad()),
            s => (false, s),
        };
        let id = match *segs {
            ["ns", ns, "dc", dc, "svc", svc] => SpiffeId::Service {
                trust_domain,
                namespace: ns.into(),
                datacenter: dc.into(),
                service: svc.into(),
            },
            ["agent", "client", "dc", dc, "id", node] => SpiffeId::Agent {
                trust_domain,
                datacenter: dc.into(),
                node_id: node.into(),
            },
            ["agent", "server", "dc", dc] if !partitioned => SpiffeId::Server {
                trust_domain,
                datacenter: dc.into(),
            },
            ["gateway", "mesh", "dc", dc] => SpiffeId::MeshGateway {
                trust_domain,
                datacenter: dc.into(),
            },
            _ => return Err(bad()),
        };
        Ok(id)
    }

    /// The URI form (same as `Display`).
    pub fn uri(&self) -> String {
        self.to_string()
    }

    /// The trust domain (URI host).
    pub fn trust_domain(&self) -> &str {
        match self {
            SpiffeId::Service { trust_domain, .. }
            | SpiffeId::Agent { trust_domain, .. }
            | SpiffeId::Server { trust_domain, .. }
            | SpiffeId::MeshGateway { trust_domain, .. }
            | SpiffeId::Signing { trust_domain } => trust_domain,
        }
    }

    /// The datacenter, for every kind but [`SpiffeId::Signing`].
    pub fn datacenter(&self) -> Option<&str> {
        match self {
            SpiffeId::Service { datacenter, .. }
            | SpiffeId::Agent { datacenter, .. }
            | SpiffeId::Server { datacenter, .. }
            | SpiffeId::MeshGateway { datacenter, .. } => Some(datacenter),
            SpiffeId::Signing { .. } => None,
        }
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spiffe://{}", self.trust_domain())?;
        let e = pct_encode;
        match self {
            SpiffeId::Service {
                namespace,
                datacenter,
                service,
                ..
            } => write!(
                f,
                "/ns/{}/dc/{}/svc/{}",
                e(namespace),
                e(datacenter),
                e(service)
            ),
            SpiffeId::Agent {
                datacenter,
                node_id,
                ..
            } => write!(f, "/agent/client/dc/{}/id/{}", e(datacenter), e(node_id)),
            SpiffeId::Server { datacenter, .. } => write!(f, "/agent/server/dc/{}", e(datacenter)),
            SpiffeId::MeshGateway { datacenter, .. } => {
                write!(f, "/gateway/mesh/dc/{}", e(datacenter))
            }
            SpiffeId::Signing { .. } => Ok(()),
        }
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters and the
/// sub-delimiters/`:`/`@` that Go leaves alone in paths.
fn pct_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn pct_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TD: &str = "11111111-2222-3333-4444-555555555555.consul";

    #[test]
    fn round_trips() {
        let ids = [
            SpiffeId::Service {
                trust_domain: TD.into(),
                namespace: "default".into(),
                datacenter: "dc1".into(),
                service: "web".into(),
            },
            SpiffeId::Agent {
                trust_domain: TD.into(),
                datacenter: "dc1".into(),
                node_id: "node-1".into(),
            },
            SpiffeId::Server {
                trust_domain: TD.into(),
                datacenter: "dc2".into(),
            },
            SpiffeId::MeshGateway {
                trust_domain: TD.into(),
                datacenter: "dc3".into(),
            },
            SpiffeId::Signing {
                trust_domain: TD.into(),
            },
        ];
        let uris = [
            format!("spiffe://{TD}/ns/default/dc/dc1/svc/web"),
            format!("spiffe://{TD}/agent/client/dc/dc1/id/node-1"),
            format!("spiffe://{TD}/agent/server/dc/dc2"),
            format!("spiffe://{TD}/gateway/mesh/dc/dc3"),
            format!("spiffe://{TD}"),
        ];
        for (id, uri) in ids.iter().zip(uris.iter()) {
            assert_eq!(&id.uri(), uri);
            assert_eq!(&SpiffeId::parse(uri).unwrap(), id);
        }
        assert_eq!(ids[0].datacenter(), Some("dc1"));
        assert_eq!(ids[4].datacenter(), None);
        assert_eq!(ids[3].trust_domain(), TD);
    }

    #[test]
    fn partition_prefix_and_escapes() {
        let id =
            SpiffeId::parse(&format!("spiffe://{TD}/ap/default/ns/ns1/dc/dc1/svc/api")).unwrap();
        assert_eq!(
            id,
            SpiffeId::Service {
                trust_domain: TD.into(),
                namespace: "ns1".into(),
                datacenter: "dc1".into(),
                service: "api".into()
            }
        );
        assert_eq!(id.uri(), format!("spiffe://{TD}/ns/ns1/dc/dc1/svc/api"));
        assert!(matches!(
            SpiffeId::parse(&format!(
                "spiffe://{TD}/ap/default/agent/client/dc/dc1/id/n"
            )),
            Ok(SpiffeId::Agent { .. })
        ));
        assert!(matches!(
            SpiffeId::parse(&format!("spiffe://{TD}/ap/default/gateway/mesh/dc/dc1")),
            Ok(SpiffeId::MeshGateway { .. })
        ));
        assert!(matches!(
            SpiffeId::parse(&format!("spiffe://{TD}/")),
            Ok(SpiffeId::Signing { .. })
        ));
        let odd = SpiffeId::Service {
            trust_domain: TD.into(),
            namespace: "default".into(),
            datacenter: "dc1".into(),
            service: "a b/c%".into(),
        };
        assert_eq!(
            odd.uri(),
            format!("spiffe://{TD}/ns/default/dc/dc1/svc/a%20b%2Fc%25")
        );
        assert_eq!(SpiffeId::parse(&odd.uri()).unwrap(), odd);
    }

    #[test]
    fn rejections() {
        for bad in [
            "",
            "spiffe:/",
            "spiffe://",
            "https://example.com/ns/default/dc/dc1/svc/web",
            &format!("spiffe://{TD}/ns/default/dc/dc1/svc"),
            &format!("spiffe://{TD}/ns/default/dc/dc1/svc/web/extra"),
            &format!("spiffe://{TD}/ns//dc/dc1/svc/web"),
            &format!("spiffe://{TD}/ns/default/dc/dc1/svc/web?x=1"),
            &format!("spiffe://{TD}/ns/default/dc/dc1/svc/web#f"),
            &format!("spiffe://user@{TD}/agent/server/dc/dc1"),
            &format!("spiffe://{TD}:8080/agent/server/dc/dc1"),
            &format!("spiffe://{TD}/ap/team/ns/default/dc/dc1/svc/web"),
            &format!("spiffe://{TD}/ap/default/agent/server/dc/dc1"),
            &format!("spiffe://{TD}/agent/other/dc/dc1"),
            &format!("spiffe://{TD}/gateway/terminating/dc/dc1"),
            &format!("spiffe://{TD}/ns/default/dc/dc1/svc/w%zz"),
            &format!("spiffe://{TD}/ns/default/dc/dc1/svc/w%"),
        ] {
            assert!(
                matches!(SpiffeId::parse(bad), Err(CaError::InvalidSpiffeId(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn names() {
        assert_eq!(trust_domain("abc"), "abc.consul");
        assert_eq!(
            service_sni("web", "default", "dc1", TD),
            format!("web.default.dc1.internal.{TD}")
        );
        assert_eq!(
            service_sni("web", "", "dc1", "td"),
            "web.default.dc1.internal.td"
        );
        assert_eq!(gateway_sni("dc2", "td"), "dc2.internal.td");
    }
}
