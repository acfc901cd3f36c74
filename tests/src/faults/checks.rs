//! Checks of a recorded KV history: linearizability of writes and `?consistent` reads (the
//! checker of [`crate::linearizability`]), and a count of stale default-consistency reads
//! (reported only: Consul's default mode lets a deposed leader answer for a while).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::workload::{KvHistory, Record};
use crate::linearizability::{self, KvInput, KvModel, KvOutput, Operation, Verdict};

/// The result of the linearizability check.
#[derive(Debug, Clone)]
pub struct LinearCheck {
    pub verdict: Verdict,
    /// Operations handed to the checker.
    pub ops: usize,
    pub took: Duration,
}

/// Checks the linearizable part of `hist` (writes, `?consistent` reads, final reads).
pub fn check_linearizable(hist: &KvHistory, budget: Duration) -> LinearCheck {
    let ops: Vec<Operation<KvInput, KvOutput>> = hist.linear.iter().map(|r| r.op.clone()).collect();
    let started = Instant::now();
    let verdict = linearizability::check(&KvModel, &ops, budget);
    LinearCheck {
        verdict,
        ops: ops.len(),
        took: started.elapsed(),
    }
}

/// Stale default reads: how many there were and a few examples.
#[derive(Debug, Clone, Default)]
pub struct StaleReads {
    /// Default reads examined.
    pub reads: usize,
    /// Those that returned a value certainly older than a write acknowledged before they were
    /// called.
    pub stale: usize,
    pub examples: Vec<String>,
}

/// Counts default reads that were certainly stale: a read `R` of key `k` that returned `x`
/// while some mutation `W` of `k` (put, delete, successful check-and-set) had been
/// acknowledged before `R` was called (`W.ret < R.call`) and every possible origin of `x` had
/// returned before `W` was called — so `W` is ordered after that origin in any linearization
/// and `x` was overwritten before `R` began.
///
/// The origin of `Some(v)` is the one write of `v` (values are unique); if its outcome is
/// unknown it has no return and nothing is counted. The origins of `None` are the initial
/// state and every delete of `k`; a read of `None` is stale when `W` sets a value and every
/// delete returned before `W` was called.
pub fn stale_default_reads(hist: &KvHistory) -> StaleReads {
    let mut by_key: BTreeMap<&str, Vec<&Record>> = BTreeMap::new();
    for r in &hist.linear {
        if !matches!(r.op.input, KvInput::Get { .. }) {
            by_key.entry(r.op.input.key()).or_default().push(r);
        }
    }
    let mut out = StaleReads::default();
    for read in &hist.default_reads {
        out.reads += 1;
        let KvOutput::Value(x) = &read.op.output else {
            continue;
        };
        let writes = by_key
            .get(read.op.input.key())
            .map(Vec::as_slice)
            .unwrap_or_default();
        // When the origin(s) of `x` had all returned; None when that is not known.
        let origin_done: Option<u64> = match x {
            Some(v) => writes.iter().find_map(|w| match &w.op.input {
                KvInput::Put { value, .. } | KvInput::Cas { value, .. } if value == v => {
                    Some(w.op.ret)
                }
                _ => None,
            }),
            None => Some(
                writes
                    .iter()
                    .filter(|w| matches!(w.op.input, KvInput::Delete { .. }))
                    .map(|w| w.op.ret)
                    .try_fold(0u64, |acc, r| r.map(|r| acc.max(r))),
            ),
        }
        .flatten();
        let Some(origin_done) = origin_done else {
            continue;
        };
        let newer = writes.iter().find(|w| {
            let acknowledged = matches!(
                (&w.op.input, &w.op.output),
                (KvInput::Put { .. } | KvInput::Delete { .. }, KvOutput::Ok)
                    | (KvInput::Cas { .. }, KvOutput::Cas(true))
            );
            let changes_x = match (&w.op.input, x) {
                (KvInput::Delete { .. }, None) => false,
                (KvInput::Put { value, .. } | KvInput::Cas { value, .. }, Some(v)) => value != v,
                _ => true,
            };
            acknowledged
                && changes_x
                && w.op.ret.is_some_and(|r| r < read.op.call)
                && w.op.call > origin_done
        });
        if let Some(w) = newer {
            out.stale += 1;
            if out.examples.len() < 5 {
                out.examples.push(format!(
                    "client {} read {:?} of {} from server {} at {:.3}s, but {:?} was acknowledged at {:.3}s",
                    read.op.client,
                    x,
                    read.op.input.key(),
                    read.server,
                    read.op.call as f64 / 1e9,
                    w.op.input,
                    w.op.ret.unwrap_or_default() as f64 / 1e9,
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::workload::OpKind;

    fn rec(call: u64, ret: Option<u64>, input: KvInput, output: KvOutput, kind: OpKind) -> Record {
        Record {
            op: Operation {
                client: 1,
                call,
                ret,
                input,
                output,
            },
            kind,
            server: 0,
            note: String::new(),
            modify_index: None,
        }
    }

    fn put(call: u64, ret: u64, v: &str) -> Record {
        let input = KvInput::Put {
            key: "k".into(),
            value: v.into(),
        };
        rec(call, Some(ret), input, KvOutput::Ok, OpKind::Put)
    }

    fn dread(call: u64, ret: u64, v: Option<&str>) -> Record {
        let input = KvInput::Get { key: "k".into() };
        let output = KvOutput::Value(v.map(Into::into));
        rec(call, Some(ret), input, output, OpKind::ReadDefault)
    }

    #[test]
    fn stale_reads_are_counted_only_when_certain() {
        let mut h = KvHistory::default();
        h.linear.push(put(0, 10, "a"));
        h.linear.push(put(20, 30, "b"));
        // Stale: "a" returned at 10, "b" called at 20 and acknowledged at 30 < 40.
        h.default_reads.push(dread(40, 50, Some("a")));
        // Not stale: called before "b" was acknowledged.
        h.default_reads.push(dread(25, 50, Some("a")));
        // Stale: None although "a" and "b" were acknowledged and nothing was deleted.
        h.default_reads.push(dread(60, 70, None));
        // Fresh.
        h.default_reads.push(dread(60, 70, Some("b")));
        let s = stale_default_reads(&h);
        assert_eq!(s.reads, 4);
        assert_eq!(s.stale, 2, "{:?}", s.examples);
    }

    #[test]
    fn a_lost_acknowledged_write_is_not_linearizable() {
        let mut h = KvHistory::default();
        h.linear.push(put(0, 10, "a"));
        let input = KvInput::Get { key: "k".into() };
        h.linear.push(rec(
            20,
            Some(30),
            input,
            KvOutput::Value(None),
            OpKind::Final,
        ));
        let c = check_linearizable(&h, Duration::from_secs(5));
        assert!(
            matches!(c.verdict, Verdict::Illegal { .. }),
            "{:?}",
            c.verdict
        );
        h.linear.pop();
        let input = KvInput::Get { key: "k".into() };
        h.linear.push(rec(
            20,
            Some(30),
            input,
            KvOutput::Value(Some("a".into())),
            OpKind::Final,
        ));
        assert_eq!(
            check_linearizable(&h, Duration::from_secs(5)).verdict,
            Verdict::Ok
        );
    }

    #[test]
    fn an_unknown_delete_makes_none_reads_unjudgeable() {
        let mut h = KvHistory::default();
        h.linear.push(put(0, 10, "a"));
        h.linear.push(rec(
            5,
            None,
            KvInput::Delete { key: "k".into() },
            KvOutput::Unknown,
            OpKind::Delete,
        ));
        h.default_reads.push(dread(60, 70, None));
        assert_eq!(stale_default_reads(&h).stale, 0);
    }
}
