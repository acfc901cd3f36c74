//! From request bytes to response bytes, for both transports: the answer cache first (synchronous, no
//! allocation when the caller keeps its buffers), else request checks, resolving, EDNS echo, the response
//! header, UDP limits and encoding, and caching what may be cached.

use std::sync::Arc;
use std::time::Instant;

use hickory_proto::op::{Edns, Header, Message, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use tracing::{Instrument, debug, debug_span, error};

use crate::backend::Backend;
use crate::cache::AnswerCache;
use crate::config::DnsConfig;
use crate::lookup::{Answer, Resolver};
use crate::server::{DnsError, responder};
use crate::truncate;
use crate::wire::{self, DEFAULT_UDP_SIZE, Transport};

/// Buffers a receive loop keeps between requests, so a cache hit allocates nothing.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    key: Vec<u8>,
    /// The response, after a hit.
    pub out: Vec<u8>,
}

/// Serves the Consul DNS grammar over one zone, with the answer cache in front.
pub(crate) struct Responder {
    pub resolver: Resolver,
    pub udp_answer_limit: usize,
    pub cache: AnswerCache,
}

impl Responder {
    pub fn new(resolver: Resolver, udp_answer_limit: usize) -> Self {
        Self {
            resolver,
            udp_answer_limit,
            cache: AnswerCache::default(),
        }
    }

    fn backend(&self) -> &Arc<dyn Backend> {
        &self.resolver.backend
    }

    /// The cached response to `request`, if there is a current one: written to `scratch.out` with the
    /// request's ID and question case. Synchronous and cheap: meant to run on the receiving thread.
    pub fn cached(&self, request: &[u8], transport: Transport, scratch: &mut Scratch) -> bool {
        let Some(plain) = wire::plain(request) else {
            return false;
        };
        let Some(stamp) = self.backend().answer_stamp() else {
            return false;
        };
        wire::cache_key(request, plain, transport, &mut scratch.key);
        if !self
            .cache
            .get(&scratch.key, stamp, Instant::now(), &mut scratch.out)
        {
            return false;
        }
        wire::patch(&mut scratch.out, request, plain);
        true
    }

    /// The response to `request`, from the cache or computed; None when nothing is to be sent (fewer
    /// than 12 bytes, or a response rather than a query).
    pub async fn respond(&self, request: &[u8], transport: Transport) -> Option<Vec<u8>> {
        let mut scratch = Scratch::default();
        if self.cached(request, transport, &mut scratch) {
            return Some(scratch.out);
        }
        self.compute(request, transport).await
    }

    /// Computes the response to `request` (no cache lookup), and caches it when it may be.
    pub async fn compute(&self, request: &[u8], transport: Transport) -> Option<Vec<u8>> {
        let mut decoder = BinDecoder::new(request);
        // Fewer than 12 bytes is no DNS message: nothing to answer to.
        let header = Header::read(&mut decoder).ok()?;
        if header.metadata.message_type == MessageType::Response {
            // Never answer responses (reflection).
            return None;
        }
        let message = match Message::from_vec(request) {
            Ok(message) => message,
            Err(error) => {
                debug!(%error, id = header.metadata.id, "malformed DNS request");
                return Some(wire::header_only(&header.metadata, ResponseCode::FormErr));
            }
        };
        let plain = wire::plain(request);
        // Read before the answer is computed: the answer is at least as new as the stamp it is cached under.
        let stamp = plain.and_then(|_| self.backend().answer_stamp());
        let span = debug_span!("dns_request", id = message.metadata.id, ?transport);
        let (response, answer) = self.build(&message, transport).instrument(span).await;
        if let (Some(plain), Some(stamp), Some(answer)) = (plain, stamp, answer)
            && answer.cacheable
            && matches!(answer.rcode, ResponseCode::NoError | ResponseCode::NXDomain)
            && wire::reusable(&response, request, plain)
            // Still current: an answer computed across a change would only evict a newer entry.
            && self.backend().answer_stamp() == Some(stamp)
        {
            let mut key = Vec::with_capacity(request.len() + 1);
            wire::cache_key(request, plain, transport, &mut key);
            self.cache
                .insert(&key, stamp, answer.varies, &response, Instant::now());
        }
        Some(response)
    }

    /// The encoded response to a decoded request, and the answer it carries (None when it could not be
    /// encoded and SERVFAIL is sent instead).
    async fn build(&self, request: &Message, transport: Transport) -> (Vec<u8>, Option<Answer>) {
        // The echoed EDNS: only the payload size (raised to 512), as before; without it UDP replies
        // are capped at 512 bytes.
        let edns = request.edns.as_ref().map(|req| {
            let mut edns = Edns::new();
            edns.set_max_payload(req.max_payload());
            edns
        });

        let mut answer = self.answer(request).await;
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = answer.authoritative;
        metadata.response_code = answer.rcode;
        let max_size = match transport {
            Transport::Udp => {
                metadata.truncation = truncate::fit_udp(
                    &mut answer,
                    &request.queries,
                    edns.as_ref(),
                    &metadata,
                    self.udp_answer_limit,
                );
                edns.as_ref()
                    .map_or(DEFAULT_UDP_SIZE as u16, Edns::max_payload)
            }
            Transport::Tcp => u16::MAX,
        };
        let encoded = wire::encode(
            &metadata,
            &request.queries,
            &answer.answers,
            &answer.authorities,
            answer.additionals.iter(),
            edns.as_ref(),
            max_size,
        );
        match encoded {
            Ok(bytes) => (bytes, Some(answer)),
            Err(error) => {
                error!(%error, "error encoding DNS response");
                (
                    wire::header_only(&request.metadata, ResponseCode::ServFail),
                    None,
                )
            }
        }
    }

    async fn answer(&self, request: &Message) -> Answer {
        if request.metadata.op_code != OpCode::Query {
            return Answer::error(ResponseCode::NotImp, false);
        }
        match request.queries.as_slice() {
            [query] => {
                self.resolver
                    .resolve(query.name(), query.query_type(), query.query_class())
                    .await
            }
            // Zero or several questions.
            _ => Answer::error(ResponseCode::FormErr, false),
        }
    }
}

/// The server's request-to-response core without sockets: what the UDP threads and TCP connections run
/// for each request, cache included. For benchmarks and tools; the server builds its own.
pub struct Answerer {
    responder: Responder,
    scratch: Scratch,
}

impl std::fmt::Debug for Answerer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answerer").finish_non_exhaustive()
    }
}

impl Answerer {
    /// An answerer for `cfg`'s zone (its `bind` addresses are not used) over `backend`.
    pub fn new(cfg: &DnsConfig, backend: Arc<dyn Backend>) -> Result<Answerer, DnsError> {
        Ok(Answerer {
            responder: responder(cfg, backend)?,
            scratch: Scratch::default(),
        })
    }

    /// The cached response to `request` (as received over UDP, or over TCP without its length
    /// prefix), with the request's ID and question case, if a current one is cached.
    pub fn cached(&mut self, request: &[u8], tcp: bool) -> Option<&[u8]> {
        let transport = if tcp { Transport::Tcp } else { Transport::Udp };
        self.responder
            .cached(request, transport, &mut self.scratch)
            .then_some(self.scratch.out.as_slice())
    }

    /// Computes the response to `request` without looking in the cache, and caches it when it may be.
    /// None when nothing is to be sent.
    pub async fn compute(&self, request: &[u8], tcp: bool) -> Option<Vec<u8>> {
        let transport = if tcp { Transport::Tcp } else { Transport::Udp };
        self.responder.compute(request, transport).await
    }
}
