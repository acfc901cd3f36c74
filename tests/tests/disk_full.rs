//! A server whose data dir is a small tmpfs, written with values big enough that its raft log
//! needs new segments while the disk is full: the write that needs one is not acknowledged
//! while there is no room, the agent keeps answering stale reads, the waiting write lands once
//! space returns, and after a restart every acknowledged write reads back whole. (The fault
//! suite's `disk-full` scenario fills a follower's disk under small writes, which stay inside
//! the segment already made.) Needs root: it mounts the tmpfs.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use praetor_tests::faults::cluster::{mount_tmpfs, unmount_tmpfs};
use praetor_tests::faults::nemesis::fill_disk;
use praetor_tests::{Agent, AgentOptions, scratch, wait_for};

/// Each value is a quarter of the log's first segment (1 MiB; later ones 2, 4, then 8 MiB).
const VALUE: usize = 256 << 10;
/// Room for segments of 1, 2, 4 and 8 MiB and the agent's small files.
const DISK_MIB: u64 = 24;

fn value(n: usize) -> Vec<u8> {
    let mut v = vec![b'a' + (n % 26) as u8; VALUE];
    v[..8].copy_from_slice(&(n as u64).to_be_bytes());
    v
}

/// Unmounts the tmpfs when the test ends (declared before the agent, so dropped after it).
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        unmount_tmpfs(&self.0);
    }
}

fn put_in_background(
    agent: &Agent,
    n: usize,
) -> mpsc::Receiver<Result<praetor_tests::Resp, String>> {
    let (tx, rx) = mpsc::channel();
    let h = agent.http();
    std::thread::spawn(move || {
        let _ = tx.send(h.try_put(&format!("/v1/kv/big/{n}"), &value(n)));
    });
    rx
}

fn acknowledged(r: &Result<praetor_tests::Resp, String>) -> bool {
    matches!(r, Ok(r) if r.status == 200 && r.text() == "true")
}

fn filler(disk: &Path) -> PathBuf {
    disk.join("filler")
}

#[test]
fn a_write_needing_a_new_segment_waits_out_a_full_disk_and_nothing_acknowledged_is_lost() {
    if let Err(e) = praetor_tests::faults::preflight() {
        panic!("{e}");
    }
    let disk = scratch("disk-full").join("disk");
    mount_tmpfs(&disk, DISK_MIB);
    let _unmount = Unmount(disk.clone());
    let opts = AgentOptions {
        data_dir: Some(disk.join("data")),
        ..AgentOptions::default()
    };
    let mut a = Agent::start_with("df1", "127.0.1.1", &["-server", "-bootstrap"], &opts);
    wait_for("a leader", Duration::from_secs(30), || a.http().leader());

    // Eight acknowledged writes: the log has rolled into its second segment.
    let mut acked = Vec::new();
    for n in 0..8 {
        let r = put_in_background(&a, n)
            .recv_timeout(Duration::from_secs(30))
            .expect("a PUT answers");
        assert!(acknowledged(&r), "PUT big/{n}: {r:?}");
        acked.push(n);
    }

    let mib = fill_disk(&filler(&disk), DISK_MIB).expect("filling the tmpfs");
    assert!(mib > 0, "the filler took no space");

    // Writes go on into the space the log already holds, until one needs a segment that cannot
    // be made: that one is not answered (nothing is acknowledged without its fsync).
    let mut waiting = None;
    for n in 8..64 {
        let rx = put_in_background(&a, n);
        match rx.recv_timeout(Duration::from_secs(3)) {
            Ok(r) => {
                assert!(acknowledged(&r), "PUT big/{n} on a full disk: {r:?}");
                acked.push(n);
            }
            Err(_) => {
                waiting = Some((n, rx));
                break;
            }
        }
    }
    let (n, rx) = waiting.expect("a write waits for space within 56 writes of 256 KiB");
    assert!(
        a.logs().contains("out of disk space for a new segment"),
        "the agent says why writes wait:\n{}",
        a.logs()
    );
    // Stale reads are answered from the state meanwhile.
    let first = a.http().get("/v1/kv/big/0?stale&raw");
    assert_eq!(
        first.status,
        200,
        "stale read on a full disk: {}",
        first.text()
    );
    assert_eq!(first.body, value(0));
    assert!(
        rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "PUT big/{n} was answered while the disk was still full"
    );

    std::fs::remove_file(filler(&disk)).expect("removing the filler");
    let r = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the waiting PUT is answered once space returns");
    assert!(acknowledged(&r), "PUT big/{n} after space returned: {r:?}");
    acked.push(n);
    let r = put_in_background(&a, 100)
        .recv_timeout(Duration::from_secs(30))
        .expect("a PUT answers");
    assert!(acknowledged(&r), "PUT big/100 after space returned: {r:?}");
    acked.push(100);

    // SIGKILL and start again on the same log: every acknowledged value, whole.
    a.restart();
    wait_for(
        "a leader after the restart",
        Duration::from_secs(30),
        || a.http().leader(),
    );
    for n in acked {
        let r = a.http().get(&format!("/v1/kv/big/{n}?raw"));
        assert_eq!(r.status, 200, "big/{n} after the restart: {}", r.text());
        assert!(r.body == value(n), "big/{n} read back different bytes");
    }
}
