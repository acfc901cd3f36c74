//! UDP response size policy: Consul's `udp_answer_limit` and trimming answers to the client's buffer (TC bit).

use hickory_proto::op::{Edns, Metadata, Query};
use hickory_proto::rr::{Name, RData, Record};

use crate::lookup::Answer;
use crate::wire::{self, DEFAULT_UDP_SIZE};
/// Consul caps `udp_answer_limit` at 8 (`maxUDPAnswerLimit`).
const MAX_UDP_ANSWER_LIMIT: usize = 8;

/// Fits `answer` into a UDP response: at most `udp_answer_limit` answers when the client's buffer is 512 bytes
/// (no EDNS), then drops trailing answers (and the additionals that only they needed) until the encoded
/// message fits the buffer, then trailing additionals (e.g. node meta TXT) that still do not fit. Returns
/// true when answers were dropped: the caller sets TC so the client can retry over TCP for the full list.
/// Dropping additional data alone does not set TC (RFC 2181 §9).
pub(crate) fn fit_udp(
    answer: &mut Answer,
    queries: &[Query],
    edns: Option<&Edns>,
    metadata: &Metadata,
    udp_answer_limit: usize,
) -> bool {
    let max_size = edns.map_or(DEFAULT_UDP_SIZE, |e| {
        usize::from(e.max_payload()).max(DEFAULT_UDP_SIZE)
    });
    let mut trimmed = false;

    if max_size == DEFAULT_UDP_SIZE && udp_answer_limit > 0 {
        let limit = udp_answer_limit.min(MAX_UDP_ANSWER_LIMIT);
        if answer.answers.len() > limit {
            answer.answers.truncate(limit);
            trimmed = true;
        }
    }

    let fits = |n: usize, answer: &Answer| {
        encoded_len(queries, edns, metadata, answer, n).is_some_and(|len| len <= max_size)
    };
    let count = answer.answers.len();
    if count > 1 && !fits(count, answer) {
        // Largest prefix that fits, by binary search; at least one answer is always sent.
        let (mut good, mut bad) = (1, count);
        while bad - good > 1 {
            let mid = good + (bad - good) / 2;
            if fits(mid, answer) {
                good = mid;
            } else {
                bad = mid;
            }
        }
        answer.answers.truncate(good);
        trimmed = true;
    }

    if trimmed {
        let kept: Vec<Record> = needed_additionals(&answer.answers, &answer.additionals)
            .cloned()
            .collect();
        answer.additionals = kept;
    }

    let fits_extras = |n: usize, answer: &Answer| {
        let additionals = answer.additionals[..n].iter();
        encoded_size(
            queries,
            edns,
            metadata,
            answer,
            &answer.answers,
            additionals,
        )
        .is_some_and(|len| len <= max_size)
    };
    let count = answer.additionals.len();
    if count > 0 && !fits_extras(count, answer) {
        // Largest prefix of the additionals that fits; possibly none.
        let (mut good, mut bad) = (0, count);
        while bad - good > 1 {
            let mid = good + (bad - good) / 2;
            if fits_extras(mid, answer) {
                good = mid;
            } else {
                bad = mid;
            }
        }
        answer.additionals.truncate(good);
    }
    trimmed
}

/// Encoded size of the response with only the first `n` answers and the additionals they need.
fn encoded_len(
    queries: &[Query],
    edns: Option<&Edns>,
    metadata: &Metadata,
    answer: &Answer,
    n: usize,
) -> Option<usize> {
    let answers = &answer.answers[..n];
    let additionals = needed_additionals(answers, &answer.additionals);
    encoded_size(queries, edns, metadata, answer, answers, additionals)
}

/// Encoded size of a response with these answers and additionals (and `answer`'s authorities), through
/// the encoder that sends it.
fn encoded_size<'a>(
    queries: &[Query],
    edns: Option<&Edns>,
    metadata: &Metadata,
    answer: &'a Answer,
    answers: &'a [Record],
    additionals: impl Iterator<Item = &'a Record>,
) -> Option<usize> {
    wire::encode(
        metadata,
        queries,
        answers,
        &answer.authorities,
        additionals,
        edns,
        u16::MAX,
    )
    .ok()
    .map(|bytes| bytes.len())
}

/// The additional records still referenced by `answers` (SRV and NS targets); all of them when no answer
/// references a target.
fn needed_additionals<'a>(
    answers: &'a [Record],
    additionals: &'a [Record],
) -> impl Iterator<Item = &'a Record> {
    let targets: Vec<&Name> = answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(srv) => Some(&srv.target),
            RData::NS(ns) => Some(&ns.0),
            _ => None,
        })
        .collect();
    additionals
        .iter()
        .filter(move |extra| targets.is_empty() || targets.contains(&&extra.name))
}
