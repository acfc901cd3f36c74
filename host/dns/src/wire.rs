//! Wire-level helpers: encoding a response (question first, so answer owners compress to it), and the
//! cheap scan of "plain" requests whose answers can be cached, their cache key, and patching a cached
//! response for a new request (ID and question case).

use hickory_proto::ProtoError;
use hickory_proto::op::{
    Edns, Header, HeaderCounts, Metadata, Query, ResponseCode, emit_message_parts,
};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::BinEncoder;

/// Size of the DNS header (RFC 1035 §4.1.1).
pub(crate) const HEADER_LEN: usize = 12;
/// Plain DNS over UDP (RFC 1035 §4.2.1).
pub(crate) const DEFAULT_UDP_SIZE: usize = 512;
/// The longest name on the wire, length octets and root included (RFC 1035 §2.3.4).
const MAX_NAME_LEN: usize = 255;
/// The longest label (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: u8 = 63;
/// An OPT record without options: root name, TYPE, CLASS, TTL, RDLENGTH.
const BARE_OPT_LEN: usize = 1 + 2 + 2 + 4 + 2;
/// The OPT record's TYPE (RFC 6891).
const OPT_TYPE: [u8; 2] = [0, 41];

/// The transport a request came over: it decides the size limits, and is part of the cache key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Udp,
    Tcp,
}

/// Encodes a response message with hickory's encoder. The questions are emitted as names (not copied
/// as raw bytes, as hickory's server does), so the encoder can point later names, the answers' owner
/// first, at them. Records that do not fit `max_size` are left out and set TC, as in hickory.
pub(crate) fn encode<'a>(
    metadata: &Metadata,
    queries: &[Query],
    answers: &'a [Record],
    authorities: &'a [Record],
    additionals: impl Iterator<Item = &'a Record>,
    edns: Option<&Edns>,
    max_size: u16,
) -> Result<Vec<u8>, ProtoError> {
    let mut buffer = Vec::with_capacity(DEFAULT_UDP_SIZE);
    let mut encoder = BinEncoder::new(&mut buffer);
    encoder.set_max_size(max_size);
    let mut additionals = additionals;
    emit_message_parts(
        metadata,
        &mut queries.iter(),
        &mut answers.iter(),
        &mut authorities.iter(),
        &mut additionals,
        edns,
        None,
        &mut encoder,
    )?;
    Ok(buffer)
}

/// A response with only a header: `rcode`, the request's ID and flags, no question (hickory's
/// `error_msg`, for requests whose header is all that could be read).
pub(crate) fn header_only(request: &Metadata, rcode: ResponseCode) -> Vec<u8> {
    let mut metadata = Metadata::response_from_request(request);
    metadata.response_code = rcode;
    let header = Header {
        metadata,
        counts: HeaderCounts::default(),
    };
    let mut buffer = Vec::with_capacity(HEADER_LEN);
    let mut encoder = BinEncoder::new(&mut buffer);
    match hickory_proto::serialize::binary::BinEncodable::emit(&header, &mut encoder) {
        Ok(()) => buffer,
        // A header always encodes; an empty reply is dropped by the callers.
        Err(_) => Vec::new(),
    }
}

/// Where the question of a plain request ends: the offset just past its name (which starts at
/// [`HEADER_LEN`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plain {
    pub name_end: usize,
}

/// Scans `request` for the shape whose answers are cached: a query (QR clear, opcode QUERY) with
/// exactly one question whose name has no compression pointer, no answer or authority records, and
/// at most one additional record, an OPT without options; nothing after it. Never panics.
pub(crate) fn plain(request: &[u8]) -> Option<Plain> {
    let header = request.get(..HEADER_LEN)?;
    // QR (0x80) clear and opcode (0x78) QUERY.
    if header[2] & 0xf8 != 0 {
        return None;
    }
    let count = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
    let (questions, answers, authorities, additionals) = (count(4), count(6), count(8), count(10));
    if questions != 1 || answers != 0 || authorities != 0 || additionals > 1 {
        return None;
    }
    let mut at = HEADER_LEN;
    loop {
        let len = *request.get(at)?;
        at += 1;
        if len == 0 {
            break;
        }
        if len > MAX_LABEL_LEN {
            return None;
        }
        at += usize::from(len);
        if at - HEADER_LEN >= MAX_NAME_LEN {
            return None;
        }
    }
    let name_end = at;
    // QTYPE and QCLASS.
    let question_end = name_end + 4;
    let rest = request.get(question_end..)?;
    match additionals {
        0 if rest.is_empty() => Some(Plain { name_end }),
        1 if rest.len() == BARE_OPT_LEN
            && rest[0] == 0
            && rest[1..3] == OPT_TYPE
            && rest[9..11] == [0, 0] =>
        {
            Some(Plain { name_end })
        }
        _ => None,
    }
}

/// The cache key of a plain request: everything after the ID (flags, counts, question, OPT with its
/// payload size), the question name lowercased (ASCII), then the transport.
pub(crate) fn cache_key(request: &[u8], plain: Plain, transport: Transport, key: &mut Vec<u8>) {
    key.clear();
    key.extend_from_slice(request.get(2..).unwrap_or_default());
    // Label length octets are at most 63, below b'A': lowercasing the whole name leaves them alone.
    if let Some(name) = key.get_mut(HEADER_LEN - 2..plain.name_end - 2) {
        name.make_ascii_lowercase();
    }
    key.push(match transport {
        Transport::Udp => 0,
        Transport::Tcp => 1,
    });
}

/// Whether `response` (built for `request`) starts with `request`'s question name at [`HEADER_LEN`],
/// byte for byte: then [`patch`] can serve it to any request with the same key.
pub(crate) fn reusable(response: &[u8], request: &[u8], plain: Plain) -> bool {
    let range = HEADER_LEN..plain.name_end;
    match (response.get(range.clone()), request.get(range)) {
        (Some(a), Some(b)) => a == b && response.len() >= plain.name_end + 4,
        _ => false,
    }
}

/// Makes a cached response (for a request with the same key) the answer to `request`: its ID, and its
/// question name in the request's case. The answers' owner names point at the question, so they take
/// the case too.
pub(crate) fn patch(response: &mut [u8], request: &[u8], plain: Plain) {
    if let (Some(dst), Some(src)) = (response.get_mut(..2), request.get(..2)) {
        dst.copy_from_slice(src);
    }
    let range = HEADER_LEN..plain.name_end;
    if let (Some(dst), Some(src)) = (response.get_mut(range.clone()), request.get(range))
        && dst.len() == src.len()
    {
        dst.copy_from_slice(src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Message;
    use hickory_proto::rr::{Name, RecordType};

    fn query(name: &str, edns: Option<u16>) -> Vec<u8> {
        let mut msg = Message::query();
        msg.metadata.id = 0x1234;
        msg.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
        if let Some(size) = edns {
            let mut e = Edns::new();
            e.set_max_payload(size);
            msg.set_edns(e);
        }
        msg.to_vec().unwrap()
    }

    #[test]
    fn plain_requests_recognised() {
        let q = query("Web.service.consul.", None);
        let p = plain(&q).expect("plain");
        assert_eq!(p.name_end, HEADER_LEN + 20);
        assert!(plain(&query("web.service.consul.", Some(1232))).is_some());
        // Trailing bytes, a response, a second question, an OPT with options: not plain.
        let mut trailing = q.clone();
        trailing.push(0);
        assert_eq!(plain(&trailing), None);
        let mut response = q.clone();
        response[2] |= 0x80;
        assert_eq!(plain(&response), None);
        let mut two = q.clone();
        two[5] = 2;
        assert_eq!(plain(&two), None);
        let mut opt = query("web.service.consul.", Some(1232));
        let n = opt.len();
        opt[n - 1] = 4;
        opt.extend_from_slice(&[0, 8, 0, 0]);
        assert_eq!(plain(&opt), None);
        // Compression pointers and truncation.
        let pointer = [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1];
        assert_eq!(plain(&pointer), None);
        for n in 0..q.len() {
            assert_eq!(plain(&q[..n]), None, "{n} bytes");
        }
    }

    #[test]
    fn key_ignores_id_and_case_but_not_transport_or_edns() {
        let plain_of = |q: &[u8]| plain(q).unwrap();
        let key = |q: &[u8], t| {
            let mut k = Vec::new();
            cache_key(q, plain_of(q), t, &mut k);
            k
        };
        let a = query("Web.Service.CONSUL.", None);
        let mut b = query("web.service.consul.", None);
        b[0] = 0x77;
        assert_eq!(key(&a, Transport::Udp), key(&b, Transport::Udp));
        assert_ne!(key(&a, Transport::Udp), key(&a, Transport::Tcp));
        let c = query("web.service.consul.", Some(1232));
        let d = query("web.service.consul.", Some(4096));
        assert_ne!(key(&c, Transport::Udp), key(&d, Transport::Udp));
        assert_ne!(key(&b, Transport::Udp), key(&c, Transport::Udp));
    }

    #[test]
    fn patch_restores_id_and_case() {
        let cached = query("web.service.consul.", None);
        let mut request = query("WEB.Service.consul.", None);
        request[0] = 0xab;
        let p = plain(&request).unwrap();
        assert!(reusable(&cached, &cached, p));
        assert!(!reusable(&cached, &request, p));
        let mut response = cached.clone();
        patch(&mut response, &request, p);
        assert_eq!(response, request);
    }
}
