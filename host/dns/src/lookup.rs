//! Resolving one question against the backend into an `Answer` (sections + rcode): Consul's `dispatch`
//! (service, prepared query, node, addr and apex lookups), and `handlePtr` for reverse names under `arpa.`.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};
use rand::seq::SliceRandom;
use tracing::{debug, warn};

use crate::backend::{Backend, Instance, LookupError, QueryAnswer};
use crate::parse::{ParseError, Parsed, ServiceForm, ServiceQuery, parse_query};
use crate::records::{self, Zone};

/// Consul returns at most three name servers.
const MAX_NAME_SERVERS: usize = 3;
/// The catalog service the servers register as.
const CONSUL_SERVICE: &str = "consul";

/// The sections and code of a response, before size limits are applied.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub rcode: ResponseCode,
    pub authoritative: bool,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
    /// Whether the answer may be cached: computed from the local datacenter's catalog only (no other
    /// datacenter, no prepared query, which may fail over) and without a lookup failing.
    pub cacheable: bool,
    /// Whether asking again may order it differently (shuffled instances or name servers), so a cache
    /// keeps several variants of it.
    pub varies: bool,
}

impl Answer {
    /// A response code with no records (REFUSED, FORMERR, SERVFAIL, NOTIMP).
    pub fn error(rcode: ResponseCode, authoritative: bool) -> Self {
        Self {
            rcode,
            authoritative,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            cacheable: true,
            varies: false,
        }
    }

    fn negative(rcode: ResponseCode, soa: Record) -> Self {
        Self {
            authorities: vec![soa],
            ..Self::error(rcode, true)
        }
    }

    fn records(answers: Vec<Record>, additionals: Vec<Record>) -> Self {
        Self {
            answers,
            additionals,
            ..Self::error(ResponseCode::NoError, true)
        }
    }
}

/// The apex's name servers, and how finding them went.
struct NameServers {
    ns: Vec<Record>,
    glue: Vec<Record>,
    /// The backend failed: nothing is listed, and the answer must not be cached.
    failed: bool,
    /// Several servers were shuffled: the answer may differ next time.
    shuffled: bool,
}

impl NameServers {
    /// Marks an answer built from these servers as uncacheable or varying.
    fn mark(&self, mut answer: Answer) -> Answer {
        answer.cacheable &= !self.failed;
        answer.varies |= self.shuffled;
        answer
    }
}

/// Answers questions for one zone from a backend.
pub(crate) struct Resolver {
    pub zone: Zone,
    pub backend: Arc<dyn Backend>,
}

impl Resolver {
    /// Resolves `qname`/`qtype`. `qname` is used as the owner name of answers (original case kept).
    pub async fn resolve(&self, qname: &Name, qtype: RecordType, qclass: DNSClass) -> Answer {
        let labels: Vec<String> = qname
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect();
        let parsed = match parse_query(&labels, &self.zone.domain_labels) {
            Ok(parsed) => parsed,
            Err(ParseError::OutsideDomain) => return Answer::error(ResponseCode::Refused, false),
            Err(ParseError::Invalid(why)) => {
                debug!(%qname, why, "query name invalid");
                return self.nxdomain();
            }
        };
        if qclass != DNSClass::IN && qclass != DNSClass::ANY {
            return Answer::error(ResponseCode::Refused, true);
        }
        if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
            return Answer::error(ResponseCode::NotImp, true);
        }
        let local = match &parsed {
            Parsed::PreparedQuery { .. } => false,
            Parsed::Service(query) => self.dc_arg(&query.datacenter).is_none(),
            Parsed::Connect { datacenter, .. } | Parsed::Node { datacenter, .. } => {
                self.dc_arg(datacenter).is_none()
            }
            Parsed::Apex | Parsed::Addr { .. } | Parsed::Reverse { .. } => true,
        };
        let mut answer = match parsed {
            Parsed::Apex => self.apex(qname, qtype).await,
            Parsed::Service(query) => self.service(qname, qtype, query).await,
            Parsed::Connect {
                service,
                datacenter,
            } => self.connect(qname, qtype, &service, datacenter).await,
            Parsed::PreparedQuery { name, datacenter } => {
                self.prepared_query(qname, qtype, &name, datacenter).await
            }
            Parsed::Node { node, datacenter } => self.node(qname, qtype, &node, datacenter).await,
            Parsed::Addr { ip, .. } => self.addr(qname, qtype, ip),
            Parsed::Reverse { ip } => self.reverse(qname, qtype, ip).await,
        };
        answer.cacheable &= local;
        answer
    }

    fn nxdomain(&self) -> Answer {
        Answer::negative(ResponseCode::NXDomain, self.zone.soa())
    }

    fn nodata(&self) -> Answer {
        Answer::negative(ResponseCode::NoError, self.zone.soa())
    }

    /// Consul's `rCodeFromError`: no path to the datacenter is NXDOMAIN, anything else SERVFAIL.
    fn failed(&self, error: LookupError) -> Answer {
        let mut answer = match error {
            LookupError::NoPathToDatacenter => self.nxdomain(),
            LookupError::Unavailable(reason) => {
                warn!(%reason, "DNS lookup failed");
                Answer::error(ResponseCode::ServFail, true)
            }
        };
        answer.cacheable = false;
        answer
    }

    /// The datacenter argument for the backend: None for the local one.
    fn dc_arg<'a>(&self, dc: &'a Option<String>) -> Option<&'a str> {
        dc.as_deref()
            .filter(|dc| !dc.eq_ignore_ascii_case(&self.zone.datacenter))
    }

    async fn apex(&self, qname: &Name, qtype: RecordType) -> Answer {
        match qtype {
            RecordType::SOA => {
                let servers = self.name_servers().await;
                servers.mark(Answer {
                    authorities: servers.ns.clone(),
                    ..Answer::records(vec![self.zone.soa()], servers.glue.clone())
                })
            }
            RecordType::NS => {
                let servers = self.name_servers().await;
                if servers.ns.is_empty() {
                    return servers.mark(self.nodata());
                }
                servers.mark(Answer::records(servers.ns.clone(), servers.glue.clone()))
            }
            RecordType::ANY => {
                let servers = self.name_servers().await;
                let mut answers = vec![self.zone.soa()];
                answers.extend(servers.ns.iter().cloned());
                servers.mark(Answer::records(answers, servers.glue.clone()))
            }
            _ => {
                debug!(%qname, %qtype, "no such record at the apex");
                self.nodata()
            }
        }
    }

    /// NS records for up to three servers (instances of the `consul` service) plus their address glue.
    async fn name_servers(&self) -> NameServers {
        let mut servers = match self
            .backend
            .service_instances(None, CONSUL_SERVICE, None)
            .await
        {
            Ok(servers) => servers,
            Err(error) => {
                warn!(%error, "unable to list servers for NS records");
                return NameServers {
                    ns: Vec::new(),
                    glue: Vec::new(),
                    failed: true,
                    shuffled: false,
                };
            }
        };
        let shuffled = servers.len() > 1;
        servers.shuffle(&mut rand::rng());
        let mut seen = HashSet::new();
        let (mut ns, mut glue) = (Vec::new(), Vec::new());
        for server in &servers {
            if ns.len() >= MAX_NAME_SERVERS {
                break;
            }
            let Ok(ip) = server.node_address.parse::<IpAddr>() else {
                continue;
            };
            let dc = if server.datacenter.is_empty() {
                &self.zone.datacenter
            } else {
                &server.datacenter
            };
            let Some(target) = self.zone.node_target(&server.node.to_ascii_lowercase(), dc) else {
                warn!(node = %server.node, "skipping server whose name is not a valid DNS name");
                continue;
            };
            if !seen.insert(target.clone()) {
                continue;
            }
            glue.push(records::address_record(&target, self.zone.node_ttl, ip));
            ns.push(self.zone.ns(target));
        }
        NameServers {
            ns,
            glue,
            failed: false,
            shuffled,
        }
    }

    /// Consul's `serviceLookup`: the service's passing instances, shuffled, answered with the service TTL.
    async fn service(&self, qname: &Name, qtype: RecordType, query: ServiceQuery) -> Answer {
        if query.form == ServiceForm::Rfc2782NoServiceLabel && qtype != RecordType::SRV {
            return self.nxdomain();
        }
        let dc_arg = self.dc_arg(&query.datacenter);
        let lookup = self
            .backend
            .service_instances(dc_arg, &query.service, query.tag.as_deref())
            .await;
        let mut instances: Vec<Instance> = match lookup {
            Ok(instances) => instances,
            Err(error) => return self.failed(error),
        };
        instances.shuffle(&mut rand::rng());
        let dc = dc_arg.unwrap_or(&self.zone.datacenter);
        let mut answer = self.instance_answer(qname, qtype, &instances, dc, self.zone.service_ttl);
        answer.varies = instances.len() > 1;
        answer
    }

    /// `<svc>.connect`: the healthy members of the service's connect set, answered like a
    /// service lookup (the proxies' addresses and ports).
    async fn connect(
        &self,
        qname: &Name,
        qtype: RecordType,
        service: &str,
        datacenter: Option<String>,
    ) -> Answer {
        let dc_arg = self.dc_arg(&datacenter);
        let mut instances = match self.backend.connect_instances(dc_arg, service).await {
            Ok(instances) => instances,
            Err(error) => return self.failed(error),
        };
        instances.shuffle(&mut rand::rng());
        let dc = dc_arg.unwrap_or(&self.zone.datacenter);
        let mut answer = self.instance_answer(qname, qtype, &instances, dc, self.zone.service_ttl);
        answer.varies = instances.len() > 1;
        answer
    }

    /// Consul's `preparedQueryLookup`: the query's instances (which may come from a failover datacenter;
    /// each carries its own) answered like a service lookup, with the query's `DNS.TTL` when it sets one,
    /// else the service TTL. The instances keep the order the query gave them (shuffled, or nearest first),
    /// as Consul does not shuffle them again. An unknown query, or one that found nothing, is NXDOMAIN.
    async fn prepared_query(
        &self,
        qname: &Name,
        qtype: RecordType,
        name: &str,
        datacenter: Option<String>,
    ) -> Answer {
        let dc_arg = self.dc_arg(&datacenter);
        let QueryAnswer { instances, ttl } = match self.backend.prepared_query(dc_arg, name).await {
            Ok(Some(answer)) => answer,
            Ok(None) => {
                debug!(%qname, query = name, "no such prepared query");
                return self.nxdomain();
            }
            Err(error) => return self.failed(error),
        };
        let dc = dc_arg.unwrap_or(&self.zone.datacenter);
        let ttl = ttl.unwrap_or(self.zone.service_ttl);
        self.instance_answer(qname, qtype, &instances, dc, ttl)
    }

    /// The answer for a service's instances, in the order given (Consul's `serviceSRVRecords` for SRV,
    /// `serviceNodeRecords` otherwise): NXDOMAIN when there are none, NODATA when none has a record of the
    /// type asked for. `dc` names instances that carry no datacenter.
    fn instance_answer(
        &self,
        qname: &Name,
        qtype: RecordType,
        instances: &[Instance],
        dc: &str,
        ttl: u32,
    ) -> Answer {
        if instances.is_empty() {
            return self.nxdomain();
        }
        let (answers, additionals) = match qtype {
            RecordType::SRV => records::service_srv_records(&self.zone, qname, instances, dc, ttl),
            RecordType::A | RecordType::AAAA | RecordType::ANY => (
                records::service_address_records(&self.zone, qname, qtype, instances, ttl),
                Vec::new(),
            ),
            _ => (Vec::new(), Vec::new()),
        };
        if answers.is_empty() {
            return self.nodata();
        }
        Answer::records(answers, additionals)
    }

    /// Consul's `nodeLookup`: A/AAAA/ANY give the node's address (or a CNAME to its host name) and TXT its
    /// meta. The meta TXT records go to the answer for TXT and ANY, and to the additional section for A and
    /// AAAA (Consul's default `enable_additional_node_meta_txt`). Other types are answered NOERROR with
    /// nothing at all (no SOA), before any lookup, as Consul does.
    async fn node(
        &self,
        qname: &Name,
        qtype: RecordType,
        node: &str,
        dc: Option<String>,
    ) -> Answer {
        if !matches!(
            qtype,
            RecordType::A | RecordType::AAAA | RecordType::ANY | RecordType::TXT
        ) {
            return Answer::records(Vec::new(), Vec::new());
        }
        let record = match self.backend.node(self.dc_arg(&dc), node).await {
            Ok(Some(record)) => record,
            Ok(None) => return self.nxdomain(),
            Err(error) => return self.failed(error),
        };
        let ttl = self.zone.node_ttl;
        let meta = records::meta_txt_records(qname, ttl, &record.meta);
        if qtype == RecordType::TXT {
            // A node without meta: NOERROR with an empty answer, as in Consul.
            return Answer::records(meta, Vec::new());
        }
        let mut answers: Vec<Record> = match record.address.parse::<IpAddr>() {
            Ok(ip) => records::ip_record(qname, ttl, ip, qtype)
                .into_iter()
                .collect(),
            Err(_) => records::cname_record(qname, ttl, &record.address)
                .into_iter()
                .collect(),
        };
        if qtype == RecordType::ANY {
            answers.extend(meta);
            if answers.is_empty() {
                return self.nodata();
            }
            return Answer::records(answers, Vec::new());
        }
        if answers.is_empty() {
            // The node has no address of the family asked for.
            return Answer {
                additionals: meta,
                ..self.nodata()
            };
        }
        Answer::records(answers, meta)
    }

    /// Consul's `handlePtr`: at most one PTR (TTL 0) naming the node, else the service, whose address the
    /// reverse name spells; the SOA joins the authority section when the question asked for SOA. Nothing
    /// found, or the backend failing, is NXDOMAIN with the SOA.
    async fn reverse(&self, qname: &Name, qtype: RecordType, ip: IpAddr) -> Answer {
        let found = match self.backend.reverse(ip).await {
            Ok(found) => found,
            Err(error) => {
                warn!(%error, %ip, "reverse lookup failed; answering NXDOMAIN");
                let mut answer = self.nxdomain();
                answer.cacheable = false;
                return answer;
            }
        };
        let target = found.and_then(|found| {
            let target = self.zone.reverse_target(&found);
            if target.is_none() {
                warn!(
                    ?found,
                    "reverse lookup found a name that is not a valid DNS name"
                );
            }
            target
        });
        let Some(target) = target else {
            debug!(%qname, %ip, "no node or service has this address");
            return self.nxdomain();
        };
        let mut answer = Answer::records(vec![records::ptr_record(qname, target)], Vec::new());
        if qtype == RecordType::SOA {
            answer.authorities.push(self.zone.soa());
        }
        answer
    }

    fn addr(&self, qname: &Name, qtype: RecordType, ip: IpAddr) -> Answer {
        match records::ip_record(qname, self.zone.node_ttl, ip, qtype) {
            Some(record) => Answer::records(vec![record], Vec::new()),
            None => self.nodata(),
        }
    }
}
