//! `praetor snapshot save|restore|inspect`: Consul's snapshot commands over `/v1/snapshot`.
//! `save` writes `FILE.unverified`, verifies it (checksums, decodable state) and renames it.

use std::path::Path;

use anyhow::{Context as _, anyhow};
use praetor_state::StoreSnapshot;
use serde::Serialize;

use super::Outcome;
use crate::cli::{SnapshotFileArgs, SnapshotInspectArgs};
use crate::client::Client;

/// The single FILE argument (Consul's texts for none or several).
fn one_file(files: &[String]) -> anyhow::Result<&str> {
    match files {
        [] => Err(anyhow!("Missing FILE argument")),
        [f] => Ok(f),
        more => Err(anyhow!(
            "Too many arguments (expected 1, got {})",
            more.len()
        )),
    }
}

/// Checks an archive and decodes its state.
fn verify(archive: &[u8]) -> anyhow::Result<(praetor_snapshot::Meta, StoreSnapshot)> {
    let (meta, state) = praetor_snapshot::read(archive)?;
    let snap = postcard::from_bytes(&state).context("failed to decode snapshot state")?;
    Ok((meta, snap))
}

pub fn save(args: &SnapshotFileArgs) -> Outcome {
    let file = one_file(&args.file)?;
    let client = Client::from_args(&args.http);
    let mut query = Vec::new();
    if args.http.stale {
        query.push(("stale", ""));
    }
    let archive = client
        .get("/v1/snapshot", &query)
        .map_err(|e| anyhow!("Error saving snapshot: {e}"))?;
    let unverified = format!("{file}.unverified");
    std::fs::write(&unverified, &archive)
        .map_err(|e| anyhow!("Error writing unverified snapshot file: {e}"))?;
    let (meta, _) = verify(&archive).map_err(|e| anyhow!("Error verifying snapshot file: {e}"))?;
    std::fs::rename(&unverified, file)
        .map_err(|e| anyhow!("Error renaming unverified snapshot file: {e}"))?;
    println!("Saved and verified snapshot to index {}", meta.index);
    Ok(0)
}

pub fn restore(args: &SnapshotFileArgs) -> Outcome {
    let file = one_file(&args.file)?;
    let archive = std::fs::read(file).map_err(|e| anyhow!("Error opening snapshot file: {e}"))?;
    let client = Client::from_args(&args.http);
    client
        .put("/v1/snapshot", &[], Some(&archive))
        .map_err(|e| anyhow!("Error restoring snapshot: {e}"))?;
    println!("Restored snapshot");
    Ok(0)
}

/// One row of the inspect table: a record type, how many, and their encoded size.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct Stat {
    name: &'static str,
    sum: usize,
    count: usize,
}

fn stat<T: Serialize>(name: &'static str, records: &[T]) -> Stat {
    Stat {
        name,
        sum: records
            .iter()
            .map(|r| postcard::to_allocvec(r).map_or(0, |b| b.len()))
            .sum(),
        count: records.len(),
    }
}

/// Record counts and sizes, by size then name (Consul's order).
fn stats(snap: &StoreSnapshot) -> Vec<Stat> {
    let mut rows = vec![
        stat("Register", &snap.nodes),
        stat("Service", &snap.services),
        stat("Check", &snap.checks),
        stat("Session", &snap.sessions),
        stat("KVS", &snap.kvs),
        stat("Tombstone", &snap.tombstones),
        stat("Coordinate", &snap.coordinates),
        stat("Area", &snap.areas),
    ];
    rows.retain(|r| r.count > 0);
    rows.sort_by(|a, b| b.sum.cmp(&a.sum).then(a.name.cmp(b.name)));
    rows
}

/// Consul's `ByteSize`: `0`, `512B`, `1.5KB`, `2MB`.
fn byte_size(n: usize) -> String {
    const UNITS: [(&str, f64); 4] = [
        ("TB", 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("GB", 1024.0 * 1024.0 * 1024.0),
        ("MB", 1024.0 * 1024.0),
        ("KB", 1024.0),
    ];
    if n == 0 {
        return "0".into();
    }
    let v = n as f64;
    for (unit, size) in UNITS {
        if v >= size {
            let text = format!("{:.1}", v / size);
            return format!("{}{unit}", text.trim_end_matches(".0"));
        }
    }
    format!("{n}B")
}

/// Go's tabwriter (minwidth 8, padding 6) over rows of cells, each line with a leading space.
fn tab_rows(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.len());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::from(" ");
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let width = (widths[i] + 6).max(8);
                line.push_str(&" ".repeat(width - cell.len()));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn pretty(meta: &praetor_snapshot::Meta, rows: &[Stat]) -> String {
    let head = tab_rows(&[
        vec!["ID".into(), meta.id.clone()],
        vec!["Size".into(), meta.size.to_string()],
        vec!["Index".into(), meta.index.to_string()],
        vec!["Term".into(), meta.term.to_string()],
        vec!["Version".into(), meta.version.to_string()],
    ]);
    let dash = || vec!["----".to_string(), "----".to_string(), "----".to_string()];
    let mut table = vec![
        vec!["Type".to_string(), "Count".to_string(), "Size".to_string()],
        dash(),
    ];
    for r in rows {
        table.push(vec![
            r.name.to_string(),
            r.count.to_string(),
            byte_size(r.sum),
        ]);
    }
    table.push(dash());
    let total: usize = rows.iter().map(|r| r.sum).sum();
    table.push(vec!["Total".into(), String::new(), byte_size(total)]);
    format!("{head}\n{}", tab_rows(&table))
}

pub fn inspect(args: &SnapshotInspectArgs) -> Outcome {
    let file = one_file(&args.file)?;
    let archive =
        std::fs::read(Path::new(file)).map_err(|e| anyhow!("Error opening snapshot file: {e}"))?;
    let (meta, snap) = verify(&archive).map_err(|e| anyhow!("Error verifying snapshot: {e}"))?;
    let rows = stats(&snap);
    match args.format.as_str() {
        "pretty" => print!("{}", pretty(&meta, &rows)),
        "json" => {
            let total: usize = rows.iter().map(|r| r.sum).sum();
            let doc = serde_json::json!({
                "Meta": {
                    "ID": meta.id,
                    "Size": meta.size,
                    "Index": meta.index,
                    "Term": meta.term,
                    "Version": meta.version,
                },
                "Stats": rows,
                "StatsKV": null,
                "TotalSize": total,
                "TotalSizeKV": 0,
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        other => return Err(anyhow!("Unknown format: {other}")),
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use praetor_state::KvEntry;

    use super::*;

    #[test]
    fn byte_sizes_read_as_consul_prints_them() {
        assert_eq!(byte_size(0), "0");
        assert_eq!(byte_size(512), "512B");
        assert_eq!(byte_size(1536), "1.5KB");
        assert_eq!(byte_size(2 << 20), "2MB");
    }

    #[test]
    fn file_argument_errors_are_consuls() {
        assert_eq!(
            one_file(&[]).unwrap_err().to_string(),
            "Missing FILE argument"
        );
        let two = ["a".to_string(), "b".to_string()];
        assert_eq!(
            one_file(&two).unwrap_err().to_string(),
            "Too many arguments (expected 1, got 2)"
        );
    }

    #[test]
    fn inspect_counts_records_and_verifies_the_archive() {
        let snap = StoreSnapshot {
            last_index: 7,
            kvs: vec![
                KvEntry {
                    key: "a".into(),
                    value: b"1".to_vec(),
                    ..KvEntry::default()
                };
                3
            ],
            ..StoreSnapshot::default()
        };
        let state = postcard::to_allocvec(&snap).unwrap();
        let meta = praetor_snapshot::Meta {
            id: "2-7-0".into(),
            index: 7,
            term: 2,
            ..Default::default()
        };
        let archive = praetor_snapshot::write(meta, &state).unwrap();
        let (meta, back) = verify(&archive).unwrap();
        assert_eq!(back, snap);
        let rows = stats(&back);
        assert_eq!((rows.len(), rows[0].name, rows[0].count), (1, "KVS", 3));
        let text = pretty(&meta, &rows);
        assert!(text.starts_with(" ID      "), "{text}");
        assert!(text.contains(" KVS  ") && text.contains(" Total"), "{text}");
        let mut broken = archive.clone();
        let last = broken.len() - 20;
        broken[last] ^= 0xff;
        assert!(verify(&broken).is_err());
    }
}
