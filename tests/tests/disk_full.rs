//! Servers whose data dirs are small tmpfs mounts, written with values big enough that the raft
//! log needs new segments while a disk is full. One server: the write that needs a segment is
//! not acknowledged while there is no room, stale reads are answered, the waiting write lands
//! once space returns, and after a restart every acknowledged write reads back whole. Three
//! servers with the leader's disk full: the other two elect a leader and take writes, and once
//! space returns the old leader follows and holds every acknowledged write. (The fault suite's
//! `disk-full` scenario fills a follower's disk under small writes, which stay inside the
//! segment already made.) Needs root: it mounts the tmpfs.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use praetor_tests::faults::cluster::{mount_tmpfs, unmount_tmpfs};
use praetor_tests::faults::nemesis::fill_disk;
use praetor_tests::{Agent, AgentOptions, agreed_leader, scratch, wait_for};

/// Each value is a quarter of the log's first segment (1 MiB; later ones 2, 4, then 8 MiB).
const VALUE: usize = 256 << 10;
/// Room for segments of 1, 2, 4 and 8 MiB, an 8 MiB spare and the agent's small files.
const DISK_MIB: u64 = 32;

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

/// Writes `big/<n>` from `first` on through `agent` until one is not answered within 3 s (the
/// log needs a segment it cannot make); the answered ones must be acknowledged.
fn write_until_one_waits(
    agent: &Agent,
    first: usize,
    acked: &mut Vec<usize>,
) -> (usize, mpsc::Receiver<Result<praetor_tests::Resp, String>>) {
    for n in first..first + 56 {
        let rx = put_in_background(agent, n);
        match rx.recv_timeout(Duration::from_secs(3)) {
            Ok(r) => {
                assert!(acknowledged(&r), "PUT big/{n} on a full disk: {r:?}");
                acked.push(n);
            }
            Err(_) => return (n, rx),
        }
    }
    panic!("no write waited for space within 56 writes of 256 KiB")
}

/// Mounts a tmpfs for a server's data dir; unmounted when the guard drops.
fn disk(name: &str) -> (PathBuf, Unmount) {
    let disk = scratch(name).join("disk");
    mount_tmpfs(&disk, DISK_MIB);
    (disk.clone(), Unmount(disk))
}

#[test]
fn a_write_needing_a_new_segment_waits_out_a_full_disk_and_nothing_acknowledged_is_lost() {
    if let Err(e) = praetor_tests::faults::preflight() {
        panic!("{e}");
    }
    let (disk, _unmount) = disk("disk-full");
    let opts = AgentOptions {
        data_dir: Some(disk.join("data")),
        ..AgentOptions::default()
    };
    let mut a = Agent::start_with("df1", "127.0.1.10", &["-server", "-bootstrap"], &opts);
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
    let (n, rx) = write_until_one_waits(&a, 8, &mut acked);
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

#[test]
fn a_leader_whose_disk_fills_is_replaced_and_follows_once_space_returns() {
    if let Err(e) = praetor_tests::faults::preflight() {
        panic!("{e}");
    }
    let ips = ["127.0.1.11", "127.0.1.12", "127.0.1.13"];
    let join = [
        "-server",
        "-bootstrap-expect=3",
        "-retry-join=127.0.1.11",
        "-retry-join=127.0.1.12",
        "-retry-interval=1s",
    ];
    let disks: Vec<(PathBuf, Unmount)> = (1..=3).map(|i| disk(&format!("dfc{i}"))).collect();
    let s: Vec<Agent> = ips
        .iter()
        .zip(&disks)
        .enumerate()
        .map(|(i, (ip, (disk, _)))| {
            let opts = AgentOptions {
                data_dir: Some(disk.join("data")),
                ..AgentOptions::default()
            };
            Agent::start_with(&format!("dfc{}", i + 1), ip, &join, &opts)
        })
        .collect();
    let l = agreed_leader(&s, None);
    let leader = format!("{}:8300", s[l].ip);
    let other = (l + 1) % 3;

    let mut acked = Vec::new();
    for n in 0..8 {
        let r = put_in_background(&s[l], n)
            .recv_timeout(Duration::from_secs(30))
            .expect("a PUT answers");
        assert!(acknowledged(&r), "PUT big/{n}: {r:?}");
        acked.push(n);
    }
    let full = filler(&disks[l].0);
    fill_disk(&full, DISK_MIB).expect("filling the leader's tmpfs");
    let (n, rx) = write_until_one_waits(&s[l], 8, &mut acked);
    assert!(
        s[l].logs().contains("out of disk space for a new segment"),
        "the stalled leader says why:\n{}",
        s[l].logs()
    );

    // The stalled leader stops heartbeating: the other two elect one of themselves and take
    // writes.
    let new_leader = wait_for(
        "a leader other than the stalled one",
        Duration::from_secs(30),
        || s[other].http().leader().filter(|x| *x != leader),
    );
    for m in 200..204 {
        let r = put_in_background(&s[other], m)
            .recv_timeout(Duration::from_secs(30))
            .expect("a PUT answers");
        assert!(
            acknowledged(&r),
            "PUT big/{m} with {new_leader} leading: {r:?}"
        );
        acked.push(m);
    }

    // Space returns: the write that waited is answered (its entry reached no other server, so
    // it counts only if acknowledged), and the old leader follows and holds every acknowledged
    // write.
    std::fs::remove_file(&full).expect("removing the filler");
    let r = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the waiting PUT is answered once space returns");
    if acknowledged(&r) {
        acked.push(n);
    }
    for a in &s {
        let h = a.http();
        wait_for(
            &format!("{} holds every acknowledged write", a.name),
            Duration::from_secs(60),
            || {
                acked
                    .iter()
                    .all(|n| {
                        h.kv_get(&format!("big/{n}"), "&stale")
                            .is_some_and(|v| v == value(*n))
                    })
                    .then_some(())
            },
        );
    }
    let followed = wait_for(
        "the old leader follows the new one",
        Duration::from_secs(30),
        || s[l].http().leader().filter(|x| *x != leader),
    );
    assert_eq!(
        followed,
        s[other].http().leader().expect("a leader"),
        "one leader"
    );
}
