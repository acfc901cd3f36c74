//! Cost of encoding and decoding a KV write as raft carries it (postcard), with the value
//! serialized as bytes (what `KvEntry` does) against the same struct with the value as a
//! sequence of u8 (what it did before; the bytes are the same). `cargo bench -p praetor-state`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use praetor_state::{Command, KvEntry, KvOp};
use serde::{Deserialize, Serialize};

/// `KvEntry` as it was: the value a sequence of u8.
#[derive(Serialize, Deserialize)]
struct SeqEntry {
    key: String,
    value: Vec<u8>,
    flags: u64,
    session: Option<String>,
    lock_index: u64,
    create_index: u64,
    modify_index: u64,
}

fn codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("kv-entry");
    for (name, size) in [("1KiB", 1usize << 10), ("256KiB", 256 << 10)] {
        let entry = KvEntry {
            key: "bench/key".into(),
            value: vec![0x5a; size],
            ..Default::default()
        };
        let seq = SeqEntry {
            key: entry.key.clone(),
            value: entry.value.clone(),
            flags: 0,
            session: None,
            lock_index: 0,
            create_index: 0,
            modify_index: 0,
        };
        let bytes = postcard::to_allocvec(&entry).expect("encode");
        assert_eq!(
            bytes,
            postcard::to_allocvec(&seq).expect("encode"),
            "the same bytes either way"
        );
        g.bench_function(format!("encode/bytes/{name}"), |b| {
            b.iter(|| postcard::to_allocvec(black_box(&entry)))
        });
        g.bench_function(format!("encode/seq/{name}"), |b| {
            b.iter(|| postcard::to_allocvec(black_box(&seq)))
        });
        g.bench_function(format!("decode/bytes/{name}"), |b| {
            b.iter(|| postcard::from_bytes::<KvEntry>(black_box(&bytes)))
        });
        g.bench_function(format!("decode/seq/{name}"), |b| {
            b.iter(|| postcard::from_bytes::<SeqEntry>(black_box(&bytes)))
        });
    }
    g.finish();
    // The raft command around it adds only a few fields.
    let cmd = Command::KvSet {
        op: KvOp::Set,
        entry: KvEntry {
            key: "bench/key".into(),
            value: vec![0x5a; 1 << 10],
            ..Default::default()
        },
        cas_index: 0,
        now_ms: 0,
    };
    c.bench_function("command/encode/1KiB", |b| {
        b.iter(|| postcard::to_allocvec(black_box(&cmd)))
    });
}

criterion_group!(benches, codec);
criterion_main!(benches);
