//! Per-scenario results, the summary table, and the artifacts kept when a scenario fails
//! (under `$CARGO_TARGET_DIR/faults/<scenario>-<seed>/`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::locks::LockHistory;
use super::workload::KvHistory;

/// What one scenario did and found.
#[derive(Debug, Clone, Default)]
pub struct ScenarioResult {
    pub name: String,
    pub seed: u64,
    /// Wall time of the whole scenario (start-up to clean-up).
    pub duration: Duration,
    /// KV operations: attempted, known outcome, unknown outcome, dropped.
    pub ops: usize,
    pub ok: usize,
    pub unknown: usize,
    pub dropped: usize,
    /// Operations given to the linearizability checker, and its time.
    pub checked_ops: usize,
    pub check_took: Duration,
    /// The checker's verdict (Display), None when no KV history was checked.
    pub verdict: Option<String>,
    pub linearizable: bool,
    /// Stale default reads: (stale, default reads examined) and examples.
    pub stale_reads: Option<(usize, usize)>,
    pub stale_examples: Vec<String>,
    /// Lock workload: one-line summary and the violations found.
    pub locks: Option<String>,
    pub lock_violations: Vec<String>,
    /// Faults injected.
    pub faults: usize,
    /// What the nemesis did, when ("t=<s> inject|heal ...", seconds from the load's start).
    pub timeline: Vec<String>,
    /// From the last heal until a write and a `?consistent` read succeeded on every server.
    pub recovery: Option<Duration>,
    /// Harness errors, failed heals, missed recovery bound.
    pub errors: Vec<String>,
    /// Where the artifacts were kept (failures only).
    pub kept: Option<PathBuf>,
}

impl ScenarioResult {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.errors.is_empty()
            && self.lock_violations.is_empty()
            && (self.verdict.is_none() || self.linearizable)
            && self.recovery.is_some()
    }

    /// The verdict column: "ok", or what failed first.
    pub fn verdict_short(&self) -> String {
        if self.passed() {
            return "ok".into();
        }
        if !self.errors.is_empty() {
            return "ERROR".into();
        }
        if self.verdict.is_some() && !self.linearizable {
            return "NOT-LINEARIZABLE".into();
        }
        if !self.lock_violations.is_empty() {
            return "LOCK-VIOLATION".into();
        }
        "NO-RECOVERY".into()
    }

    /// A multi-line description (printed after the table for each scenario).
    pub fn details(&self) -> String {
        let mut s = format!(
            "{} (seed {}): {:.1}s, {} faults; ops {} ok {} unknown {} dropped {}",
            self.name,
            self.seed,
            self.duration.as_secs_f64(),
            self.faults,
            self.ops,
            self.ok,
            self.unknown,
            self.dropped
        );
        if !self.timeline.is_empty() {
            s.push_str(&format!("\n  faults: {}", self.timeline.join(" | ")));
        }
        if let Some(v) = &self.verdict {
            s.push_str(&format!(
                "\n  linearizability ({} ops, checked in {:.2}s): {v}",
                self.checked_ops,
                self.check_took.as_secs_f64()
            ));
        }
        if let Some((stale, reads)) = self.stale_reads {
            s.push_str(&format!(
                "\n  default-consistency reads: {stale} of {reads} certainly stale (reported, not a failure)"
            ));
            for e in &self.stale_examples {
                s.push_str(&format!("\n    e.g. {e}"));
            }
        }
        if let Some(l) = &self.locks {
            s.push_str(&format!("\n  locks: {l}"));
            for v in &self.lock_violations {
                s.push_str(&format!("\n    VIOLATION: {v}"));
            }
        }
        match self.recovery {
            Some(r) => s.push_str(&format!("\n  recovered in {:.2}s", r.as_secs_f64())),
            None => s.push_str("\n  did NOT recover within the bound"),
        }
        for e in &self.errors {
            s.push_str(&format!("\n  error: {e}"));
        }
        if let Some(k) = &self.kept {
            s.push_str(&format!("\n  artifacts kept in {}", k.display()));
        }
        s
    }
}

/// The summary table of `results`.
pub fn table(results: &[ScenarioResult]) -> String {
    let row = |cols: [&str; 12]| {
        format!(
            "{:<18} {:>20} {:>6} {:>6} {:>6} {:>5} {:>5} {:>9} {:>11} {:>6} {:>8}  {}\n",
            cols[0],
            cols[1],
            cols[2],
            cols[3],
            cols[4],
            cols[5],
            cols[6],
            cols[7],
            cols[8],
            cols[9],
            cols[10],
            cols[11]
        )
    };
    let mut s = row([
        "scenario",
        "seed",
        "secs",
        "ops",
        "ok",
        "unk",
        "drop",
        "stale",
        "lock-checks",
        "faults",
        "recover",
        "verdict",
    ]);
    for r in results {
        let stale = r
            .stale_reads
            .map(|(a, b)| format!("{a}/{b}"))
            .unwrap_or_else(|| "-".into());
        let locks = if r.locks.is_some() {
            format!("{} viol", r.lock_violations.len())
        } else {
            "-".into()
        };
        let recover = r
            .recovery
            .map(|d| format!("{:.2}s", d.as_secs_f64()))
            .unwrap_or_else(|| "NONE".into());
        s.push_str(&row([
            &r.name,
            &r.seed.to_string(),
            &format!("{:.1}", r.duration.as_secs_f64()),
            &r.ops.to_string(),
            &r.ok.to_string(),
            &r.unknown.to_string(),
            &r.dropped.to_string(),
            &stale,
            &locks,
            &r.faults.to_string(),
            &recover,
            &r.verdict_short(),
        ]));
    }
    s
}

/// The target dir: `$CARGO_TARGET_DIR`, else the one holding the praetor binary.
pub fn target_dir() -> PathBuf {
    if let Ok(t) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(t);
    }
    let bin = crate::praetor_bin();
    bin.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir)
}

fn write_lines(path: &Path, lines: impl Iterator<Item = String>) {
    if let Ok(f) = std::fs::File::create(path) {
        let mut w = std::io::BufWriter::new(f);
        for l in lines {
            let _ = writeln!(w, "{l}");
        }
    }
}

/// Copies every `*.log` under `from` (the servers' dirs) into `to`, keeping the layout.
fn copy_logs(from: &Path, to: &Path) {
    let Ok(dir) = std::fs::read_dir(from) else {
        return;
    };
    for e in dir.flatten() {
        let p = e.path();
        if p.is_dir() {
            // Never descend into a data dir (it may be a tmpfs being torn down).
            if p.file_name().is_some_and(|n| n == "disk" || n == "data") {
                continue;
            }
            copy_logs(&p, &to.join(e.file_name()));
        } else if p.extension().is_some_and(|x| x == "log") {
            let _ = std::fs::create_dir_all(to);
            let _ = std::fs::copy(&p, to.join(e.file_name()));
        }
    }
}

/// Keeps the artifacts of a failed scenario: the histories as JSON lines, the fault timeline,
/// the summary and the servers' logs. Returns the directory.
pub fn keep_artifacts(
    result: &ScenarioResult,
    scratch: &Path,
    kv: Option<&KvHistory>,
    locks: Option<&LockHistory>,
    timeline: &[String],
) -> PathBuf {
    let dir = target_dir()
        .join("faults")
        .join(format!("{}-{}", result.name, result.seed));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    if let Some(h) = kv {
        let mut linear: Vec<_> = h.linear.iter().collect();
        linear.sort_by_key(|r| r.op.call);
        write_lines(
            &dir.join("history.jsonl"),
            linear.iter().map(|r| r.to_json().to_string()),
        );
        write_lines(
            &dir.join("default_reads.jsonl"),
            h.default_reads.iter().map(|r| r.to_json().to_string()),
        );
        write_lines(
            &dir.join("dropped.jsonl"),
            h.dropped.iter().map(|r| r.to_json().to_string()),
        );
    }
    if let Some(l) = locks {
        write_lines(
            &dir.join("lock_events.jsonl"),
            l.events.iter().map(|e| e.to_string()),
        );
        write_lines(
            &dir.join("lock_versions.jsonl"),
            l.versions.iter().map(|v| {
                serde_json::json!({"modify_index": v.modify_index, "lock_index": v.lock_index,
                    "session": v.session, "source": v.source})
                .to_string()
            }),
        );
    }
    write_lines(&dir.join("timeline.txt"), timeline.iter().cloned());
    let _ = std::fs::write(dir.join("summary.txt"), result.details());
    copy_logs(scratch, &dir.join("logs"));
    dir
}
