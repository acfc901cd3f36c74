//! Linearizability checking for the fault-injection suite.
//!
//! The suite records, from many clients, every KV operation it sends to a cluster under
//! network partitions and crashes: when it was called, when it returned (if ever) and what it
//! answered. [`check`] decides whether some total order of those operations (1) respects real
//! time — an operation that returned before another was called comes first — and (2) is a legal
//! sequential execution of a [`Model`].
//!
//! The search is Porcupine's: Wing & Gong's backtracking over the list of call and return
//! events, with Lowe's memoization (a cache of the (set of linearized operations, model state)
//! pairs already explored, so each is explored once), on a doubly-linked list held in a `Vec`
//! from which an operation's call and return events are lifted when it is linearized and put
//! back when the search backtracks. The history is first partitioned by
//! [`Model::partition_key`] (P-compositionality: a history of independent objects is
//! linearizable iff each object's sub-history is), and each partition is searched on its own.
//!
//! Operations whose outcome is unknown (`ret: None`: a timeout, a reset connection) may have
//! taken effect at any time after their call, or never: their return event is placed after
//! every other event, and the search succeeds as soon as every operation with a known return is
//! linearized, whether or not the unknown ones were.
//!
//! Three prunings keep the search small, none of which changes the verdict (a test compares it
//! with a brute-force search on many small random histories):
//! - a read ([`Model::is_read_only`]) that can come next is placed at once, without trying the
//!   other candidates: any linearization can be reordered to place it there;
//! - operations of unknown outcome are only tried after the completed candidates, and a
//!   configuration counts as explored when one with the same completed operations and state
//!   but a subset of its unknown ones was (they never have to be placed);
//! - right after an unknown operation, an operation that yields the same state without it
//!   (a write over an unobserved timed-out write) is not tried: placing it instead is.
//!
//! A linearizable history of ~5,000 operations over ~50 keys from 10 clients checks in
//! milliseconds; refuting one explores every linearizable prefix of the bad key's history, which
//! takes longer the more concurrent and the longer that history is.
//!
//! [`KvModel`] is the model of praetor's (Consul's) KV store: put, get, check-and-set, delete.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::time::{Duration, Instant};

/// A client operation as observed: when it was called and when it returned (monotonic
/// nanoseconds from one clock), its input and output. An operation whose outcome is unknown
/// (timeout, connection reset) has `ret = None`: it may have taken effect at any time after
/// `call`, or never — treat it as returning at +infinity (Porcupine/Knossos "info" ops).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation<I, O> {
    /// The client that issued it (only used in explanations).
    pub client: u64,
    /// When the request was sent.
    pub call: u64,
    /// When the answer arrived; `None` when none did (the outcome is unknown).
    pub ret: Option<u64>,
    /// What was asked.
    pub input: I,
    /// What was answered (for `ret: None`, the model's "unknown" output).
    pub output: O,
}

/// A sequential specification: the states an object goes through and the answers it may give.
pub trait Model {
    /// The state of one partition (one key).
    type State: Clone + Eq + Hash + fmt::Debug;
    /// An operation's request.
    type Input: Clone + fmt::Debug;
    /// An operation's answer.
    type Output: Clone + fmt::Debug;

    /// The state every partition starts in.
    fn init(&self) -> Self::State;

    /// Applies `input` to `state`: Some(next) if `output` is a legal answer from `state`, else None.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: &Self::Output,
    ) -> Option<Self::State>;

    /// The key this operation touches (for P-compositionality); one partition per key.
    fn partition_key(&self, input: &Self::Input) -> String;

    /// Whether `input` never changes the state (a read): then `step` must return `state`
    /// itself or None, whatever the state and output. Such an operation is placed as soon as it
    /// can be, and left out of the search if its outcome is unknown (`ret: None`: it constrains
    /// nothing). Defaults to `false` (always correct, only slower).
    fn is_read_only(&self, _input: &Self::Input) -> bool {
        false
    }
}

/// The result of [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every partition is linearizable.
    Ok,
    /// The history of `key` has no linearization.
    Illegal {
        /// The partition that failed.
        key: String,
        /// The longest linearizable prefix found, the state it leaves, and the operations none
        /// of which could come next.
        detail: String,
    },
    /// The search budget ran out before `key` (the first such partition) was decided, and no
    /// partition was found illegal.
    Unknown {
        /// The first partition left undecided.
        key: String,
    },
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Ok => write!(f, "linearizable"),
            Verdict::Illegal { key, detail } => {
                write!(f, "not linearizable: key {key:?}: {detail}")
            }
            Verdict::Unknown { key } => {
                write!(f, "undecided: search budget exceeded on key {key:?}")
            }
        }
    }
}

/// Checks that `history` is linearizable with respect to `model`, one partition
/// ([`Model::partition_key`]) at a time, within about `budget` of wall-clock time in all (once
/// it has run out, each partition left gets only a short try).
///
/// Returns the first illegal partition (in key order) if any, else [`Verdict::Unknown`] if the
/// budget ran out on some partition, else [`Verdict::Ok`]. Operations are numbered by their
/// index in `history` in the explanation.
///
/// # Panics
/// If an operation returns before it is called (a broken recorder, not a broken cluster).
pub fn check<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    budget: Duration,
) -> Verdict {
    let deadline = Instant::now().checked_add(budget);
    let mut partitions: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, op) in history.iter().enumerate() {
        if let Some(ret) = op.ret {
            assert!(
                ret >= op.call,
                "operation #{i} returns at {ret}, before its call at {}",
                op.call
            );
        } else if model.is_read_only(&op.input) {
            continue;
        }
        partitions
            .entry(model.partition_key(&op.input))
            .or_default()
            .push(i);
    }
    let mut unknown = None;
    for (key, mut ops) in partitions {
        ops.sort_by_key(|&i| history[i].ret.is_none());
        match search(model, history, &ops, deadline) {
            Search::Linearizable => {}
            Search::TimedOut => {
                unknown.get_or_insert(key);
            }
            Search::Illegal(detail) => return Verdict::Illegal { key, detail },
        }
    }
    match unknown {
        Some(key) => Verdict::Unknown { key },
        None => Verdict::Ok,
    }
}

/// The outcome of searching one partition.
enum Search {
    Linearizable,
    Illegal(String),
    TimedOut,
}

/// One call or return event in [`Events`].
#[derive(Debug, Clone)]
struct Node {
    /// The operation (index into the partition's operations).
    op: usize,
    /// A call event (else a return event).
    call: bool,
    /// For the call event of a completed operation: the node of its return event.
    ret: usize,
    prev: usize,
    next: usize,
}

/// The events of one partition in time order (node `k + 1` is the `k`-th event), linked so
/// that linearized operations can be lifted out and put back (dancing links) in two lists: the
/// call and return events of the completed operations (Porcupine's entry list), and the call
/// events of those of unknown outcome (whose returns, at infinity, bound nothing). Each list
/// runs from a head to a tail sentinel.
struct Events {
    nodes: Vec<Node>,
    /// The head of the unknown operations' list (its tail is the last node).
    unknown_head: usize,
}

impl Events {
    /// The head of the completed operations' list (its tail follows the last event).
    const HEAD: usize = 0;

    /// Events of `ops` (local numbers `0..completed` have a return): by time, calls before
    /// returns at equal times (operations that touch are concurrent), unknown returns after
    /// everything else.
    fn new<I, O>(history: &[Operation<I, O>], ops: &[usize], completed: usize) -> Events {
        let n = ops.len();
        // (returns at infinity, time, is a return, operation)
        let mut events: Vec<(bool, u64, bool, usize)> = Vec::with_capacity(2 * n);
        for (local, &i) in ops.iter().enumerate() {
            let op = &history[i];
            events.push((false, op.call, false, local));
            events.push(match op.ret {
                Some(ret) => (false, ret, true, local),
                None => (true, 0, true, local),
            });
        }
        events.sort_unstable();
        let (tail, unknown_head, unknown_tail) = (2 * n + 1, 2 * n + 2, 2 * n + 3);
        let mut nodes: Vec<Node> = (0..2 * n + 4)
            .map(|_| Node {
                op: usize::MAX,
                call: false,
                ret: 0,
                prev: 0,
                next: 0,
            })
            .collect();
        let mut ret_node = vec![0; n];
        let (mut last, mut last_unknown) = (Self::HEAD, unknown_head);
        for (k, &(_, _, is_ret, op)) in events.iter().enumerate() {
            let idx = k + 1;
            if is_ret {
                ret_node[op] = idx;
            }
            nodes[idx].op = op;
            nodes[idx].call = !is_ret;
        }
        for idx in 1..tail {
            let op = nodes[idx].op;
            let prev = if op < completed {
                &mut last
            } else if nodes[idx].call {
                &mut last_unknown
            } else {
                continue;
            };
            nodes[idx].prev = *prev;
            nodes[*prev].next = idx;
            *prev = idx;
            if nodes[idx].call && op < completed {
                nodes[idx].ret = ret_node[op];
            }
        }
        nodes[last].next = tail;
        nodes[tail].prev = last;
        nodes[last_unknown].next = unknown_tail;
        nodes[unknown_tail].prev = last_unknown;
        Events {
            nodes,
            unknown_head,
        }
    }

    /// The events in time order.
    fn in_order(&self) -> &[Node] {
        &self.nodes[1..self.nodes.len() - 3]
    }

    fn unlink(&mut self, e: usize) {
        let Node { prev, next, .. } = self.nodes[e];
        self.nodes[prev].next = next;
        self.nodes[next].prev = prev;
    }

    fn relink(&mut self, e: usize) {
        let Node { prev, next, .. } = self.nodes[e];
        self.nodes[prev].next = e;
        self.nodes[next].prev = e;
    }

    /// Takes the call event `e` (and the return event of a completed operation) out.
    fn lift(&mut self, e: usize, completed: bool) {
        self.unlink(e);
        if completed {
            self.unlink(self.nodes[e].ret);
        }
    }

    /// Undoes [`Events::lift`] of `e` (lifts must be undone in reverse order).
    fn unlift(&mut self, e: usize, completed: bool) {
        if completed {
            self.relink(self.nodes[e].ret);
        }
        self.relink(e);
    }
}

/// The operations linearized so far, as two bitsets: the completed operations (local numbers
/// `0..completed`) and those of unknown outcome (the others); with a hash of the first kept up
/// to date (Zobrist: the xor of a random word per member).
#[derive(Debug, Clone)]
struct Linearized {
    completed: usize,
    done: Vec<u64>,
    unknown: Vec<u64>,
    done_hash: u64,
}

impl Linearized {
    fn new(completed: usize, total: usize) -> Linearized {
        Linearized {
            completed,
            done: vec![0; completed.div_ceil(64)],
            unknown: vec![0; (total - completed).div_ceil(64)],
            done_hash: 0,
        }
    }

    /// Adds (`on`) or removes operation `op`, which is not (is) in the set.
    fn set(&mut self, op: usize, on: bool) {
        let (bits, i) = if op < self.completed {
            self.done_hash ^= splitmix64(op as u64);
            (&mut self.done, op)
        } else {
            (&mut self.unknown, op - self.completed)
        };
        if on {
            bits[i / 64] |= 1 << (i % 64);
        } else {
            bits[i / 64] &= !(1 << (i % 64));
        }
    }
}

/// SplitMix64's output function: a well-mixed word for each `x`.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Whether the bitset `a` is a subset of `b` (same length).
fn subset(a: &[u64], b: &[u64]) -> bool {
    a.iter().zip(b).all(|(a, b)| a & !b == 0)
}

/// Lowe's memoization: the configurations (operations linearized, state) already entered.
///
/// Operations of unknown outcome never have to be linearized, so a configuration is also
/// covered by an entered one with the same completed operations and state whose unknown
/// operations are a subset of its own (whatever can follow it can follow the entered one).
/// Without unknown operations this is Porcupine's plain cache.
struct Cache<S> {
    /// By the hash of (completed operations, state).
    seen: HashMap<u64, Vec<Entered<S>>, BuildHasherDefault<Fx>>,
}

/// The configurations entered with the same completed operations and state.
struct Entered<S> {
    done: Vec<u64>,
    state: S,
    /// Their sets of unknown operations (none a subset of another).
    unknowns: Vec<Vec<u64>>,
}

impl<S: Eq + Hash + Clone> Cache<S> {
    fn new() -> Cache<S> {
        Cache {
            seen: HashMap::default(),
        }
    }

    /// Records the configuration; false if it is covered by one already entered.
    fn enter(&mut self, lin: &Linearized, state: &S) -> bool {
        let mut h = Fx(lin.done_hash);
        state.hash(&mut h);
        let bucket = self.seen.entry(h.finish()).or_default();
        let Some(entered) = bucket
            .iter_mut()
            .find(|e| e.done == lin.done && e.state == *state)
        else {
            bucket.push(Entered {
                done: lin.done.clone(),
                state: state.clone(),
                unknowns: vec![lin.unknown.clone()],
            });
            return true;
        };
        let unknowns = &mut entered.unknowns;
        if unknowns.iter().any(|u| subset(u, &lin.unknown)) {
            return false;
        }
        unknowns.retain(|u| !subset(&lin.unknown, u));
        unknowns.push(lin.unknown.clone());
        true
    }
}

/// FxHash (rustc's hasher): fast, and good enough for the cache's own keys.
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl Fx {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.add(u64::from_le_bytes(word.try_into().expect("8 bytes")));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(n.into());
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

/// A linearized operation on the search stack.
struct Frame<S> {
    /// Its call event.
    entry: usize,
    /// The state before it.
    before: S,
    /// The first return event of the completed list when it was placed (see [`At::Scan`]).
    limit: usize,
    /// A read placed as soon as it could be: no other candidate needs trying instead.
    forced: bool,
}

/// Where the search is.
#[derive(Clone, Copy)]
enum At {
    /// At a configuration just entered.
    Fresh,
    /// Trying the candidates for the next operation: those called before the first return
    /// event left in the completed list. The completed ones first (`unknown` false), scanning
    /// that list up to its first return event (the node `limit` then); then those of unknown
    /// outcome, which may take effect as late as needed, scanning their list up to `limit`.
    Scan {
        entry: usize,
        unknown: bool,
        limit: usize,
    },
    /// Every candidate failed: undo the last operation placed.
    Backtrack,
}

/// The search of one partition.
struct Searcher<'a, M: Model> {
    model: &'a M,
    history: &'a [Operation<M::Input, M::Output>],
    /// The operations (indices into `history`); local numbers `0..total` completed.
    ops: &'a [usize],
    total: usize,
    events: Events,
    linearized: Linearized,
    cache: Cache<M::State>,
    calls: Vec<Frame<M::State>>,
    state: M::State,
    /// Completed operations not linearized yet.
    remaining: usize,
    /// The deepest point reached (completed operations linearized, the linearized operations
    /// in order, the state), to explain a failure.
    best: (usize, Vec<usize>, M::State),
}

impl<M: Model> Searcher<'_, M> {
    fn completed(&self, local: usize) -> bool {
        local < self.total
    }

    fn op(&self, entry: usize) -> &Operation<M::Input, M::Output> {
        &self.history[self.ops[self.events.nodes[entry].op]]
    }

    /// The state after the operation of call event `entry`, if it can come next (and is
    /// worth trying: see the comments).
    fn candidate(&self, entry: usize) -> Option<M::State> {
        let o = self.op(entry);
        let completed = self.completed(self.events.nodes[entry].op);
        if completed && self.model.is_read_only(&o.input) {
            // Reads that can come next are placed before any scan (`forced_read`).
            return None;
        }
        let next = self.model.step(&self.state, &o.input, &o.output)?;
        if !completed && next == self.state {
            // Covered by this very configuration (the operation need not be placed).
            return None;
        }
        // Right after an operation of unknown outcome that `o` makes irrelevant (the state is
        // the same without it), this configuration is covered by placing `o` in its stead,
        // which the configuration before it tries.
        if let Some(top) = self.calls.last()
            && !self.completed(self.events.nodes[top.entry].op)
            && self.model.step(&top.before, &o.input, &o.output).as_ref() == Some(&next)
        {
            return None;
        }
        Some(next)
    }

    /// A read (see [`Model::is_read_only`]) among the completed candidates that can come next.
    /// Placing it right away loses nothing: any linearization from here can be reordered to
    /// start with it (it changes no state, and nothing has to precede it).
    fn forced_read(&self) -> Option<usize> {
        let mut entry = self.events.nodes[Events::HEAD].next;
        while self.events.nodes[entry].call {
            let o = self.op(entry);
            if self.model.is_read_only(&o.input)
                && self.model.step(&self.state, &o.input, &o.output).is_some()
            {
                return Some(entry);
            }
            entry = self.events.nodes[entry].next;
        }
        None
    }

    /// Linearizes the operation of call event `entry`, leading to state `next`, unless that
    /// configuration is covered by one entered before.
    fn place(&mut self, entry: usize, next: M::State, limit: usize, forced: bool) -> bool {
        let op = self.events.nodes[entry].op;
        self.linearized.set(op, true);
        if !self.cache.enter(&self.linearized, &next) {
            self.linearized.set(op, false);
            return false;
        }
        let before = std::mem::replace(&mut self.state, next);
        self.calls.push(Frame {
            entry,
            before,
            limit,
            forced,
        });
        self.events.lift(entry, self.completed(op));
        if self.completed(op) {
            self.remaining -= 1;
            let done = self.total - self.remaining;
            if done > self.best.0 {
                let prefix = self.calls.iter().map(|f| self.events.nodes[f.entry].op);
                self.best = (done, prefix.collect(), self.state.clone());
            }
        }
        true
    }

    /// Undoes the last [`Searcher::place`].
    fn unplace(&mut self) -> Option<Frame<M::State>> {
        let mut frame = self.calls.pop()?;
        let op = self.events.nodes[frame.entry].op;
        std::mem::swap(&mut self.state, &mut frame.before);
        self.linearized.set(op, false);
        self.events.unlift(frame.entry, self.completed(op));
        if self.completed(op) {
            self.remaining += 1;
        }
        Some(frame)
    }

    fn run(&mut self, deadline: Option<Instant>) -> Search {
        let mut steps: u64 = 0;
        let mut at = At::Fresh;
        loop {
            steps += 1;
            if steps.is_multiple_of(1024) && deadline.is_some_and(|d| Instant::now() >= d) {
                return Search::TimedOut;
            }
            at = match at {
                At::Fresh if self.remaining == 0 => return Search::Linearizable,
                At::Fresh => match self.forced_read() {
                    Some(entry) => {
                        let next = self.state.clone();
                        if self.place(entry, next, 0, true) {
                            At::Fresh
                        } else {
                            At::Backtrack
                        }
                    }
                    None => At::Scan {
                        entry: self.events.nodes[Events::HEAD].next,
                        unknown: false,
                        limit: 0,
                    },
                },
                At::Scan {
                    entry,
                    unknown: true,
                    limit,
                } if entry >= limit => At::Backtrack,
                At::Scan {
                    entry,
                    unknown,
                    limit,
                } => {
                    let node = &self.events.nodes[entry];
                    let next_entry = node.next;
                    if !node.call {
                        // The first return event: now the candidates of unknown outcome.
                        At::Scan {
                            entry: self.events.nodes[self.events.unknown_head].next,
                            unknown: true,
                            limit: entry,
                        }
                    } else if let Some(next) = self.candidate(entry)
                        && self.place(entry, next, limit, false)
                    {
                        At::Fresh
                    } else {
                        At::Scan {
                            entry: next_entry,
                            unknown,
                            limit,
                        }
                    }
                }
                At::Backtrack => match self.unplace() {
                    None => {
                        let best =
                            std::mem::replace(&mut self.best, (0, Vec::new(), self.state.clone()));
                        return Search::Illegal(explain(
                            self.history,
                            self.ops,
                            &self.events,
                            self.total,
                            best,
                        ));
                    }
                    Some(frame) if frame.forced => At::Backtrack,
                    Some(frame) => At::Scan {
                        entry: self.events.nodes[frame.entry].next,
                        unknown: !self.completed(self.events.nodes[frame.entry].op),
                        limit: frame.limit,
                    },
                },
            };
        }
    }
}

/// Searches for a linearization of the operations `ops` (indices into `history`, those with
/// a known return first).
fn search<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    ops: &[usize],
    deadline: Option<Instant>,
) -> Search {
    let total = ops.iter().filter(|&&i| history[i].ret.is_some()).count();
    let state = model.init();
    let mut searcher = Searcher {
        model,
        history,
        ops,
        total,
        events: Events::new(history, ops, total),
        linearized: Linearized::new(total, ops.len()),
        cache: Cache::new(),
        calls: Vec::new(),
        best: (0, Vec::new(), state.clone()),
        state,
        remaining: total,
    };
    searcher.run(deadline)
}

/// One operation for an explanation: `#index client c [call, ret] input -> output`.
fn describe<I: fmt::Debug, O: fmt::Debug>(history: &[Operation<I, O>], i: usize) -> String {
    let o = &history[i];
    let ret = o.ret.map_or_else(|| "?".to_string(), |r| r.to_string());
    format!(
        "#{i} client {} [{}, {ret}] {:?} -> {:?}",
        o.client, o.call, o.input, o.output
    )
}

/// Explains a failed search from its deepest point: the longest linearizable prefix, the state
/// it leaves, and the operations that could come next (those called before the first return of
/// a completed operation outside the prefix), none of which leads to a linearization.
fn explain<S: fmt::Debug, I: fmt::Debug, O: fmt::Debug>(
    history: &[Operation<I, O>],
    ops: &[usize],
    events: &Events,
    total: usize,
    (done, prefix, state): (usize, Vec<usize>, S),
) -> String {
    const SHOWN: usize = 3;
    const LISTED: usize = 8;
    let mut in_prefix = vec![false; ops.len()];
    for &op in &prefix {
        in_prefix[op] = true;
    }
    let (mut next, mut unknown, mut bound) = (Vec::new(), Vec::new(), None);
    for node in events.in_order() {
        match (in_prefix[node.op], node.call, node.op < total) {
            (true, ..) => {}
            (false, true, true) => next.push(ops[node.op]),
            (false, true, false) => unknown.push(ops[node.op]),
            (false, false, _) => {
                bound = Some(ops[node.op]);
                break;
            }
        }
    }
    let cut = prefix.len().saturating_sub(SHOWN);
    let shown: Vec<String> = prefix[cut..]
        .iter()
        .map(|&l| describe(history, ops[l]))
        .collect();
    let more = if cut > 0 { "..., " } else { "" };
    let mut listed: Vec<String> = next
        .iter()
        .take(LISTED)
        .map(|&i| describe(history, i))
        .collect();
    if next.len() > LISTED {
        listed.push(format!("{} more", next.len() - LISTED));
    }
    let bound = bound.map_or_else(String::new, |i| format!(" (called before #{i} returns)"));
    let mut text = format!(
        "only {done} of {total} completed operations can be linearized. Longest linearizable \
         prefix ({} operations): [{more}{}], leaving state {state:?}. No linearization \
         continues it with any of the completed operations that can come next{bound}: {}",
        prefix.len(),
        shown.join("; "),
        listed.join("; "),
    );
    if !unknown.is_empty() {
        let ids: Vec<String> = unknown
            .iter()
            .take(LISTED)
            .map(|i| format!("#{i}"))
            .collect();
        let more = if unknown.len() > LISTED { ", ..." } else { "" };
        text += &format!(
            "; nor with any of the {} of unknown outcome ({}{more})",
            unknown.len(),
            ids.join(", ")
        );
    }
    text
}

/// A request to praetor's KV store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KvInput {
    /// `PUT /v1/kv/<key>` with `value`.
    Put { key: String, value: String },
    /// `GET /v1/kv/<key>`.
    Get { key: String },
    /// `PUT /v1/kv/<key>?cas=<index>`: `expect` None = create only if absent (Consul
    /// `?cas=0`); Some(v) = the value read before (every written value is unique in the
    /// workload, so comparing values is comparing ModifyIndex).
    Cas {
        key: String,
        expect: Option<String>,
        value: String,
    },
    /// `DELETE /v1/kv/<key>`.
    Delete { key: String },
}

impl KvInput {
    /// The key the request touches.
    pub fn key(&self) -> &str {
        match self {
            KvInput::Put { key, .. }
            | KvInput::Get { key }
            | KvInput::Cas { key, .. }
            | KvInput::Delete { key } => key,
        }
    }
}

/// An answer from praetor's KV store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KvOutput {
    /// Put or Delete acknowledged.
    Ok,
    /// Get: the value, None = 404.
    Value(Option<String>),
    /// Cas: whether it was applied.
    Cas(bool),
    /// No answer; pair with `ret: None` (which lets the operation take effect late or never).
    Unknown,
}

/// The model of praetor's KV store: one register per key, `None` when the key is absent.
///
/// A [`KvOutput::Unknown`] answer is read as "took effect" (a CAS: as applied if its
/// expectation holds, else as a no-op); "never took effect" is the checker leaving the
/// operation out, which it does for operations with `ret: None` only.
#[derive(Debug, Clone, Copy, Default)]
pub struct KvModel;

impl Model for KvModel {
    type State = Option<String>;
    type Input = KvInput;
    type Output = KvOutput;

    fn init(&self) -> Option<String> {
        None
    }

    fn step(
        &self,
        state: &Option<String>,
        input: &KvInput,
        output: &KvOutput,
    ) -> Option<Self::State> {
        match (input, output) {
            (KvInput::Put { value, .. }, KvOutput::Ok | KvOutput::Unknown) => {
                Some(Some(value.clone()))
            }
            (KvInput::Delete { .. }, KvOutput::Ok | KvOutput::Unknown) => Some(None),
            (KvInput::Get { .. }, KvOutput::Value(v)) => (v == state).then(|| state.clone()),
            (KvInput::Get { .. }, KvOutput::Unknown) => Some(state.clone()),
            (KvInput::Cas { expect, value, .. }, KvOutput::Cas(true)) => {
                (expect == state).then(|| Some(value.clone()))
            }
            (KvInput::Cas { expect, .. }, KvOutput::Cas(false)) => {
                (expect != state).then(|| state.clone())
            }
            // Applied if it could be; a failed (or never applied) CAS changes nothing.
            (KvInput::Cas { expect, value, .. }, KvOutput::Unknown) => Some(if expect == state {
                Some(value.clone())
            } else {
                state.clone()
            }),
            _ => None,
        }
    }

    fn partition_key(&self, input: &KvInput) -> String {
        input.key().to_string()
    }

    fn is_read_only(&self, input: &KvInput) -> bool {
        matches!(input, KvInput::Get { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Op = Operation<KvInput, KvOutput>;

    fn op(client: u64, call: u64, ret: u64, input: KvInput, output: KvOutput) -> Op {
        Operation {
            client,
            call,
            ret: Some(ret),
            input,
            output,
        }
    }

    fn put(client: u64, call: u64, ret: u64, key: &str, value: &str) -> Op {
        let input = KvInput::Put {
            key: key.into(),
            value: value.into(),
        };
        op(client, call, ret, input, KvOutput::Ok)
    }

    fn get(client: u64, call: u64, ret: u64, key: &str, value: Option<&str>) -> Op {
        let input = KvInput::Get { key: key.into() };
        op(
            client,
            call,
            ret,
            input,
            KvOutput::Value(value.map(Into::into)),
        )
    }

    fn cas(
        client: u64,
        call: u64,
        ret: u64,
        key: &str,
        expect: Option<&str>,
        value: &str,
        ok: bool,
    ) -> Op {
        let input = KvInput::Cas {
            key: key.into(),
            expect: expect.map(Into::into),
            value: value.into(),
        };
        op(client, call, ret, input, KvOutput::Cas(ok))
    }

    fn del(client: u64, call: u64, ret: u64, key: &str) -> Op {
        op(
            client,
            call,
            ret,
            KvInput::Delete { key: key.into() },
            KvOutput::Ok,
        )
    }

    /// The same operation with no answer (timed out).
    fn timed_out(mut o: Op) -> Op {
        o.ret = None;
        o.output = KvOutput::Unknown;
        o
    }

    fn verdict(history: &[Op]) -> Verdict {
        check(&KvModel, history, Duration::from_secs(10))
    }

    fn assert_ok(history: &[Op]) {
        let v = verdict(history);
        assert_eq!(v, Verdict::Ok, "{v}");
    }

    fn assert_illegal(history: &[Op], bad_key: &str) {
        match verdict(history) {
            Verdict::Illegal { key, detail } => {
                eprintln!("expected failure on {key}: {detail}");
                assert_eq!(key, bad_key, "{detail}");
                assert!(!detail.is_empty());
            }
            v => panic!("expected key {bad_key} to be illegal, got {v}"),
        }
    }

    #[test]
    fn empty_and_only_unknown_histories_pass() {
        assert_ok(&[]);
        assert_ok(&[
            timed_out(put(1, 0, 0, "k", "a")),
            timed_out(get(2, 5, 0, "k", None)),
            timed_out(del(3, 7, 0, "k")),
        ]);
    }

    #[test]
    fn sequential_put_get() {
        assert_ok(&[
            get(1, 0, 10, "k", None),
            put(1, 20, 30, "k", "a"),
            get(1, 40, 50, "k", Some("a")),
            put(2, 60, 70, "k", "b"),
            get(1, 80, 90, "k", Some("b")),
            del(2, 100, 110, "k"),
            get(1, 120, 130, "k", None),
        ]);
    }

    #[test]
    fn concurrent_put_and_get_sees_either_value() {
        for seen in [Some("a"), Some("b")] {
            assert_ok(&[
                put(1, 0, 10, "k", "a"),
                put(1, 20, 60, "k", "b"),
                get(2, 30, 50, "k", seen),
                get(2, 70, 80, "k", Some("b")),
            ]);
        }
        // Touching intervals are concurrent.
        assert_ok(&[put(1, 0, 10, "k", "a"), get(2, 10, 20, "k", None)]);
        // During the put, once a read has seen b no later read may see a again.
        assert_illegal(
            &[
                put(1, 0, 10, "k", "a"),
                put(1, 20, 60, "k", "b"),
                get(2, 25, 30, "k", Some("b")),
                get(3, 35, 40, "k", Some("a")),
            ],
            "k",
        );
    }

    #[test]
    fn cas_consistent_with_order() {
        assert_ok(&[
            cas(1, 0, 10, "k", None, "a", true),
            cas(2, 20, 30, "k", None, "x", false),
            get(1, 40, 50, "k", Some("a")),
            cas(1, 60, 70, "k", Some("a"), "b", true),
            cas(2, 65, 80, "k", Some("a"), "c", false),
            get(2, 90, 100, "k", Some("b")),
        ]);
        // Concurrent CAS with the same expectation: exactly one wins, either one.
        assert_ok(&[
            put(1, 0, 10, "k", "a"),
            cas(1, 20, 50, "k", Some("a"), "b", false),
            cas(2, 20, 50, "k", Some("a"), "c", true),
            get(3, 60, 70, "k", Some("c")),
        ]);
        // A CAS failure is only legal when the value differs.
        assert_illegal(
            &[
                put(1, 0, 10, "k", "a"),
                cas(2, 20, 30, "k", Some("a"), "b", false),
            ],
            "k",
        );
    }

    #[test]
    fn timed_out_put_seen_later() {
        assert_ok(&[
            put(1, 0, 10, "k", "a"),
            timed_out(put(2, 20, 0, "k", "b")),
            get(1, 30, 40, "k", Some("a")),
            get(1, 50, 60, "k", Some("b")),
            get(3, 1000, 1010, "k", Some("b")),
        ]);
        // A timed-out CAS that took effect after the client gave up and moved on.
        assert_ok(&[
            put(1, 0, 10, "k", "a"),
            timed_out(cas(2, 20, 0, "k", Some("a"), "b", false)),
            get(2, 30, 40, "k", Some("a")),
            get(1, 50, 60, "k", Some("b")),
        ]);
    }

    #[test]
    fn timed_out_put_never_seen() {
        assert_ok(&[
            put(1, 0, 10, "k", "a"),
            timed_out(put(2, 20, 0, "k", "b")),
            get(1, 30, 40, "k", Some("a")),
            get(3, 1000, 1010, "k", Some("a")),
            timed_out(get(3, 1020, 0, "k", None)),
        ]);
    }

    #[test]
    fn timed_out_put_cannot_act_before_its_call_or_twice() {
        // Seen before it was called.
        assert_illegal(
            &[
                get(1, 0, 10, "k", Some("b")),
                timed_out(put(2, 20, 0, "k", "b")),
            ],
            "k",
        );
        // Seen, then the value acknowledged before it was called is back.
        assert_illegal(
            &[
                put(1, 0, 10, "k", "a"),
                timed_out(put(2, 20, 0, "k", "b")),
                get(1, 30, 40, "k", Some("b")),
                get(1, 50, 60, "k", Some("a")),
            ],
            "k",
        );
    }

    #[test]
    fn stale_read_is_illegal() {
        assert_illegal(
            &[
                put(1, 0, 10, "k", "a"),
                put(1, 20, 30, "k", "b"),
                get(2, 40, 50, "k", Some("a")),
            ],
            "k",
        );
    }

    #[test]
    fn two_cas_on_the_same_expectation_both_succeeding_is_illegal() {
        assert_illegal(
            &[
                put(1, 0, 10, "k", "a"),
                cas(1, 20, 50, "k", Some("a"), "b", true),
                cas(2, 25, 45, "k", Some("a"), "c", true),
            ],
            "k",
        );
        // Two creations (?cas=0) of the same key.
        assert_illegal(
            &[
                cas(1, 0, 50, "k", None, "b", true),
                cas(2, 5, 45, "k", None, "c", true),
            ],
            "k",
        );
    }

    #[test]
    fn read_of_a_value_never_written_is_illegal() {
        assert_illegal(
            &[
                put(1, 0, 10, "k", "a"),
                put(2, 5, 30, "k", "b"),
                get(3, 8, 40, "k", Some("zzz")),
            ],
            "k",
        );
    }

    #[test]
    fn lost_acknowledged_write_is_illegal() {
        assert_illegal(
            &[
                put(1, 0, 10, "k", "a"),
                get(2, 15, 20, "k", Some("a")),
                put(1, 30, 40, "k", "b"),
                get(2, 50, 60, "k", Some("a")),
                get(3, 70, 80, "k", Some("a")),
            ],
            "k",
        );
    }

    #[test]
    fn read_after_acknowledged_delete_is_illegal() {
        assert_illegal(
            &[
                put(1, 0, 10, "k", "a"),
                del(1, 20, 30, "k"),
                get(2, 40, 50, "k", Some("a")),
            ],
            "k",
        );
    }

    #[test]
    fn keys_are_checked_independently() {
        // Per key linearizable; across keys the real-time order would make a single register
        // illegal (b's read of "x" after "y" was written is fine because they are other keys).
        let history = [
            put(1, 0, 100, "a", "1"),
            put(2, 10, 20, "b", "x"),
            get(3, 30, 40, "c", None),
            put(2, 50, 60, "b", "y"),
            get(3, 55, 90, "a", Some("1")),
            get(4, 70, 80, "b", Some("y")),
            cas(4, 85, 95, "c", None, "z", true),
            get(1, 110, 120, "a", Some("1")),
            get(2, 110, 120, "c", Some("z")),
        ];
        assert_ok(&history);
        // The same history with one stale read on "b" names "b".
        let mut bad = history.to_vec();
        bad[5] = get(4, 70, 80, "b", Some("x"));
        assert_illegal(&bad, "b");
    }

    #[test]
    fn budget_exceeded_is_unknown() {
        // 20 concurrent puts, then a read of none of them: proving it illegal means trying
        // every subset of the puts.
        let mut history: Vec<Op> = (0..20)
            .map(|i| put(i, 0, 100, "k", &format!("v{i}")))
            .collect();
        history.push(get(99, 200, 210, "k", Some("nope")));
        let unknown = Verdict::Unknown { key: "k".into() };
        assert_eq!(check(&KvModel, &history, Duration::ZERO), unknown);
        let start = Instant::now();
        assert_eq!(
            check(&KvModel, &history, Duration::from_millis(50)),
            unknown
        );
        let took = start.elapsed();
        assert!(
            took < Duration::from_secs(1),
            "budget of 50ms, took {took:?}"
        );
        // Other keys are still checked, and an illegal one wins over an undecided one.
        history.push(get(1, 0, 10, "other", Some("nope")));
        match check(&KvModel, &history, Duration::from_millis(50)) {
            Verdict::Illegal { key, .. } => assert_eq!(key, "other"),
            v => panic!("expected key other to be illegal, got {v}"),
        }
    }

    /// xorshift64: a tiny deterministic PRNG.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// The shape of a generated history.
    #[derive(Debug, Clone, Copy)]
    struct Workload {
        seed: u64,
        clients: usize,
        keys: u64,
        ops: usize,
        /// The share of operations that time out (ret None), in percent.
        timeout_pct: u64,
    }

    /// A linearizable history by construction: clients issuing operations one at a time over
    /// the keys, with random overlapping intervals; each operation takes effect at a random
    /// point inside its interval (a timed-out one: at a random point after its call, possibly
    /// after the client moved on, or never), and outputs come from a sequential register
    /// applied in effect order.
    fn generate(w: Workload) -> Vec<Op> {
        let Workload {
            seed,
            clients,
            keys,
            ops: n,
            timeout_pct,
        } = w;
        let mut rng = XorShift(seed);
        let mut free_at = vec![0u64; clients];
        let mut last_written: BTreeMap<String, String> = BTreeMap::new();
        let mut history = Vec::with_capacity(n);
        let mut effects = Vec::with_capacity(n);
        for i in 0..n {
            let client = (0..clients).min_by_key(|&c| (free_at[c], c)).unwrap();
            let call = free_at[client] + rng.below(20);
            let duration = 1 + rng.below(300);
            let key = format!("k{:02}", rng.below(keys));
            let value = format!("v{i}");
            let input = match rng.below(10) {
                0..=3 => KvInput::Get { key },
                4..=6 => {
                    last_written.insert(key.clone(), value.clone());
                    KvInput::Put { key, value }
                }
                7..=8 => {
                    let expect = match rng.below(3) {
                        0 => None,
                        1 => last_written.get(&key).cloned(),
                        _ => Some(format!("v{}", rng.below(i as u64 + 1))),
                    };
                    last_written.insert(key.clone(), value.clone());
                    KvInput::Cas { key, expect, value }
                }
                _ => KvInput::Delete { key },
            };
            let (ret, effect) = if rng.below(100) < timeout_pct {
                let effect = (rng.below(2) == 0).then(|| call + rng.below(2000));
                (None, effect)
            } else {
                (Some(call + duration), Some(call + rng.below(duration + 1)))
            };
            free_at[client] = call + duration + 1;
            history.push(Operation {
                client: client as u64,
                call,
                ret,
                input,
                output: KvOutput::Unknown,
            });
            effects.push(effect);
        }
        let mut order: Vec<usize> = (0..n).filter(|&i| effects[i].is_some()).collect();
        order.sort_by_key(|&i| (effects[i], i));
        let mut store: BTreeMap<String, String> = BTreeMap::new();
        for i in order {
            let o = &mut history[i];
            let output = match &o.input {
                KvInput::Get { key } => KvOutput::Value(store.get(key).cloned()),
                KvInput::Put { key, value } => {
                    store.insert(key.clone(), value.clone());
                    KvOutput::Ok
                }
                KvInput::Delete { key } => {
                    store.remove(key);
                    KvOutput::Ok
                }
                KvInput::Cas { key, expect, value } => {
                    let ok = store.get(key) == expect.as_ref();
                    if ok {
                        store.insert(key.clone(), value.clone());
                    }
                    KvOutput::Cas(ok)
                }
            };
            if o.ret.is_some() {
                o.output = output;
            }
        }
        history
    }

    /// The value `o` wrote if it is an acknowledged write.
    fn acked_write(o: &Op) -> Option<&str> {
        match (&o.input, &o.output, o.ret) {
            (KvInput::Put { value, .. }, KvOutput::Ok, Some(_))
            | (KvInput::Cas { value, .. }, KvOutput::Cas(true), Some(_)) => Some(value),
            _ => None,
        }
    }

    /// Makes one completed read from the middle of `history` stale: it returns the value of an
    /// acknowledged write `w1` although another acknowledged write `w2` of the key was called
    /// after `w1` returned and returned before the read was called. Returns the key.
    fn corrupt_one_read(history: &mut [Op]) -> String {
        let n = history.len();
        for g in n / 2..n {
            let (KvInput::Get { key }, Some(_)) = (&history[g].input, history[g].ret) else {
                continue;
            };
            let key = key.clone();
            let writes: Vec<usize> = (0..n)
                .filter(|&w| history[w].input.key() == key && acked_write(&history[w]).is_some())
                .collect();
            for &w2 in &writes {
                if history[w2].ret.unwrap() >= history[g].call {
                    continue;
                }
                let w1 = writes
                    .iter()
                    .find(|&&w1| history[w1].ret.unwrap() < history[w2].call);
                if let Some(&w1) = w1 {
                    let stale = acked_write(&history[w1]).unwrap().to_string();
                    eprintln!(
                        "corrupting {} to read {stale:?} (written by #{w1}, overwritten by #{w2})",
                        describe(history, g)
                    );
                    history[g].output = KvOutput::Value(Some(stale));
                    return key;
                }
            }
        }
        panic!("no read to corrupt");
    }

    /// Checks the generated history of `w` (Ok, within 2 s), then the same history with one
    /// stale read (Illegal on its key, within `refute`), printing the timings.
    fn stress(what: &str, w: Workload, refute: Duration) {
        let mut history = generate(w);
        let unknown = history.iter().filter(|o| o.ret.is_none()).count();
        let start = Instant::now();
        let v = check(&KvModel, &history, Duration::from_secs(10));
        let took = start.elapsed();
        eprintln!(
            "{what}: {} ops ({unknown} timed out), {} keys, {} clients: {v} in {took:?}",
            w.ops, w.keys, w.clients
        );
        assert_eq!(v, Verdict::Ok, "{v}");
        assert!(took < Duration::from_secs(2), "took {took:?}");

        let key = corrupt_one_read(&mut history);
        let start = Instant::now();
        let v = check(&KvModel, &history, Duration::from_secs(10));
        let took = start.elapsed();
        eprintln!("{what}, one read made stale: {v}\n  in {took:?}");
        match v {
            Verdict::Illegal { key: k, .. } => assert_eq!(k, key),
            v => panic!("corrupted history: expected Illegal on {key}, got {v}"),
        }
        assert!(took < refute, "took {took:?}");
    }

    #[test]
    fn generated_stress_history() {
        stress(
            "stress",
            Workload {
                seed: 0x9e37_79b9_7f4a_7c15,
                clients: 10,
                keys: 50,
                ops: 5000,
                timeout_pct: 2,
            },
            Duration::from_secs(2),
        );
    }

    #[test]
    fn generated_history_with_many_timeouts() {
        // A long partition: a third of the operations time out.
        stress(
            "many timeouts",
            Workload {
                seed: 7,
                clients: 10,
                keys: 50,
                ops: 5000,
                timeout_pct: 30,
            },
            Duration::from_secs(2),
        );
    }

    #[test]
    fn generated_hot_key_history() {
        // Every client on one key: the most concurrency a partition can see.
        stress(
            "hot key",
            Workload {
                seed: 42,
                clients: 10,
                keys: 1,
                ops: 1000,
                timeout_pct: 2,
            },
            // Refuting means exploring every linearizable prefix of 500 operations on one key
            // from 10 clients: about a second in a debug build.
            Duration::from_secs(8),
        );
    }

    /// Whether `history` is linearizable, by trying every order of all its operations at once
    /// (no partitioning: the state maps every key to its value; small histories only).
    fn brute_force(history: &[Op]) -> bool {
        type Store = BTreeMap<String, Option<String>>;
        fn place(history: &[Op], placed: &mut Vec<bool>, store: &Store) -> bool {
            let done = |i: usize| placed[i] || history[i].ret.is_none();
            if (0..history.len()).all(done) {
                return true;
            }
            (0..history.len()).any(|i| {
                let o = &history[i];
                // Everything that returned before `o` was called comes before it.
                let ready = !placed[i]
                    && (0..history.len())
                        .all(|j| placed[j] || history[j].ret.is_none_or(|r| r >= o.call));
                let key = o.input.key();
                let value = store.get(key).cloned().flatten();
                let Some(next) = ready
                    .then(|| KvModel.step(&value, &o.input, &o.output))
                    .flatten()
                else {
                    return false;
                };
                let mut store = store.clone();
                store.insert(key.to_string(), next);
                placed[i] = true;
                let ok = place(history, placed, &store);
                placed[i] = false;
                ok
            })
        }
        place(history, &mut vec![false; history.len()], &Store::new())
    }

    /// A small random history, not necessarily linearizable: heavily overlapping intervals,
    /// outputs drawn from the values written, some operations timed out.
    fn random_history(rng: &mut XorShift) -> Vec<Op> {
        let n = 1 + rng.below(8) as usize;
        let keys = 1 + rng.below(2);
        let value = |rng: &mut XorShift| {
            let v = rng.below(n as u64 + 1);
            (v < n as u64).then(|| format!("v{v}"))
        };
        (0..n)
            .map(|i| {
                let key = format!("k{}", rng.below(keys));
                let call = rng.below(12);
                let ret = call + rng.below(8);
                let (input, output) = match rng.below(4) {
                    0 => (KvInput::Get { key }, KvOutput::Value(value(rng))),
                    1 => {
                        let value = format!("v{i}");
                        (KvInput::Put { key, value }, KvOutput::Ok)
                    }
                    2 => {
                        let (expect, value) = (value(rng), format!("v{i}"));
                        let output = KvOutput::Cas(rng.below(2) == 0);
                        (KvInput::Cas { key, expect, value }, output)
                    }
                    _ => (KvInput::Delete { key }, KvOutput::Ok),
                };
                let o = op(i as u64, call, ret, input, output);
                if rng.below(5) < 2 { timed_out(o) } else { o }
            })
            .collect()
    }

    #[test]
    fn agrees_with_brute_force_on_small_random_histories() {
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        let (mut legal, mut illegal) = (0, 0);
        for _ in 0..20_000 {
            let history = random_history(&mut rng);
            let expected = brute_force(&history);
            let v = verdict(&history);
            assert_eq!(v == Verdict::Ok, expected, "{v} for {history:#?}");
            assert!(!matches!(v, Verdict::Unknown { .. }));
            if expected {
                legal += 1;
            } else {
                illegal += 1;
            }
        }
        eprintln!("brute force: {legal} linearizable, {illegal} not");
        assert!(legal > 2_000 && illegal > 2_000, "{legal} / {illegal}");
    }

    /// Whether the history of one key (at most 64 operations) is linearizable: Wing & Gong's
    /// search with Lowe's memoization in its plainest form, to compare [`check`] with.
    fn reference(history: &[Op]) -> bool {
        type Seen = std::collections::HashSet<(u64, Option<String>)>;
        fn go(history: &[Op], placed: u64, state: Option<String>, seen: &mut Seen) -> bool {
            let n = history.len();
            if (0..n).all(|i| placed & (1 << i) != 0 || history[i].ret.is_none()) {
                return true;
            }
            if !seen.insert((placed, state.clone())) {
                return false;
            }
            (0..n).any(|i| {
                let o = &history[i];
                let ready = placed & (1 << i) == 0
                    && (0..n).all(|j| {
                        placed & (1 << j) != 0 || history[j].ret.is_none_or(|r| r >= o.call)
                    });
                ready
                    && KvModel
                        .step(&state, &o.input, &o.output)
                        .is_some_and(|next| go(history, placed | (1 << i), next, seen))
            })
        }
        assert!(history.len() <= 64);
        go(history, 0, None, &mut Seen::new())
    }

    #[test]
    fn agrees_with_reference_search_on_generated_histories() {
        let mut rng = XorShift(0x1234_5678_9abc_def1);
        let (mut legal, mut illegal) = (0, 0);
        for seed in 1..=400 {
            let w = Workload {
                seed,
                clients: 2 + seed as usize % 5,
                keys: 1,
                ops: 30,
                timeout_pct: seed % 15,
            };
            let mut history = generate(w);
            // Change one completed operation's answer in most histories.
            if rng.below(4) != 0 {
                let i = rng.below(30) as usize;
                let v = rng.below(35);
                let other = (v < 30).then(|| format!("v{v}"));
                history[i].output = match &history[i].output {
                    KvOutput::Value(_) => KvOutput::Value(other),
                    KvOutput::Cas(ok) => KvOutput::Cas(!ok),
                    output => output.clone(),
                };
            }
            let expected = reference(&history);
            let v = verdict(&history);
            assert_eq!(v == Verdict::Ok, expected, "seed {seed}: {v}");
            if expected {
                legal += 1;
            } else {
                illegal += 1;
            }
        }
        eprintln!("reference: {legal} linearizable, {illegal} not");
        assert!(legal > 100 && illegal > 100, "{legal} / {illegal}");
    }

    #[test]
    fn generated_histories_of_other_seeds_pass() {
        for seed in 1..=20 {
            let w = Workload {
                seed,
                clients: 5,
                keys: 3,
                ops: 300,
                timeout_pct: 10,
            };
            let v = verdict(&generate(w));
            assert_eq!(v, Verdict::Ok, "seed {seed}: {v}");
        }
    }
}
