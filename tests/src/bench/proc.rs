//! Child processes of the bench: spawning with logs to a file and death with the bench,
//! polling for conditions with a deadline, and reading a process's resident memory.

use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::BenchError;

/// A process the bench started; SIGKILLed and reaped when dropped.
pub struct Proc {
    pub name: String,
    pub log: PathBuf,
    child: Option<Child>,
}

impl Proc {
    /// Starts `cmd` with stdout and stderr appended to `log`. The child gets SIGKILL if the bench
    /// dies first, so nothing outlives an interrupted run.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Result<Proc, BenchError> {
        let file = std::fs::File::create(log).map_err(BenchError::file(log))?;
        let err = file.try_clone().map_err(BenchError::file(log))?;
        cmd.stdin(Stdio::null()).stdout(file).stderr(err);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        #[allow(unsafe_code)]
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let program = cmd.get_program().to_string_lossy().into_owned();
        let child = cmd
            .spawn()
            .map_err(|source| BenchError::Spawn { program, source })?;
        Ok(Proc {
            name: name.into(),
            log: log.to_path_buf(),
            child: Some(child),
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// An error if the process has exited.
    pub fn check_running(&mut self) -> Result<(), BenchError> {
        let Some(c) = self.child.as_mut() else {
            return Err(self.exited("stopped".into()));
        };
        match c.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(self.exited(status.to_string())),
            Err(e) => Err(self.exited(e.to_string())),
        }
    }

    fn exited(&self, status: String) -> BenchError {
        BenchError::Exited {
            name: self.name.clone(),
            status,
            log: self.log.clone(),
        }
    }

    /// SIGKILL and reap.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `f` every 100 ms until it returns `Some`, or fails after `deadline` naming `what`.
pub fn poll_until<T>(
    what: &str,
    deadline: Duration,
    f: impl FnMut() -> Option<T>,
) -> Result<T, BenchError> {
    poll_every(what, deadline, Duration::from_millis(100), f)
}

/// [`poll_until`] polling every `interval` (start-up timing polls every 2 ms).
pub fn poll_every<T>(
    what: &str,
    deadline: Duration,
    interval: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> Result<T, BenchError> {
    let until = Instant::now() + deadline;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if Instant::now() >= until {
            return Err(BenchError::Timeout {
                what: what.into(),
                secs: deadline.as_secs_f64(),
            });
        }
        std::thread::sleep(interval);
    }
}

/// `n` distinct ports of `ip` that are free for both TCP and UDP right now (the kernel picks them;
/// every socket is held until all are found, so they differ). Bounded to 20 tries per port.
pub fn free_ports(ip: IpAddr, n: usize) -> Result<Vec<u16>, BenchError> {
    let mut held = Vec::new();
    let mut ports = Vec::new();
    for _ in 0..n * 20 {
        if ports.len() == n {
            break;
        }
        let tcp = TcpListener::bind(SocketAddr::new(ip, 0))
            .map_err(|e| BenchError::Unexpected(format!("no free TCP port on {ip}: {e}")))?;
        let port = tcp
            .local_addr()
            .map_err(|e| BenchError::Unexpected(format!("{ip}: {e}")))?
            .port();
        if let Ok(udp) = UdpSocket::bind(SocketAddr::new(ip, port)) {
            ports.push(port);
            held.push((tcp, Some(udp)));
        } else {
            held.push((tcp, None));
        }
    }
    if ports.len() == n {
        Ok(ports)
    } else {
        Err(BenchError::Unexpected(format!(
            "found only {} of {n} ports free for TCP and UDP on {ip}",
            ports.len()
        )))
    }
}

/// An error naming the first of `tcp` / `udp` that another process already listens on: the bench
/// uses fixed loopback addresses, so a leftover server (or a test run using the same addresses)
/// would otherwise be measured in place of the one the bench starts.
pub fn ensure_free(tcp: &[SocketAddr], udp: &[SocketAddr]) -> Result<(), BenchError> {
    let busy = |a: &SocketAddr, e: std::io::Error| {
        BenchError::Unexpected(format!(
            "{a} is already in use ({e}): stop whatever listens there and run the bench again"
        ))
    };
    for a in tcp {
        TcpListener::bind(a).map_err(|e| busy(a, e))?;
    }
    for a in udp {
        UdpSocket::bind(a).map_err(|e| busy(a, e))?;
    }
    Ok(())
}

/// Resident set size of `pid` in MiB (`VmRSS` of `/proc/PID/status`).
pub fn rss_mib(pid: u32) -> Result<f64, BenchError> {
    let path = PathBuf::from(format!("/proc/{pid}/status"));
    let status = std::fs::read_to_string(&path).map_err(BenchError::file(&path))?;
    parse_vmrss_kib(&status)
        .map(|kib| kib as f64 / 1024.0)
        .ok_or_else(|| BenchError::Unexpected(format!("no VmRSS in {}", path.display())))
}

/// The `VmRSS:` line of a `/proc/PID/status` text, in KiB.
pub fn parse_vmrss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vmrss_is_parsed_and_own_rss_is_plausible() {
        assert_eq!(
            parse_vmrss_kib("Name:\tx\nVmRSS:\t   12345 kB\nVmData: 1 kB\n"),
            Some(12345)
        );
        assert_eq!(parse_vmrss_kib("Name:\tx\n"), None);
        let own = rss_mib(std::process::id()).unwrap();
        assert!(own > 0.1 && own < 4096.0, "{own}");
    }

    #[test]
    fn ensure_free_sees_a_listener() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let used = l.local_addr().unwrap();
        let e = ensure_free(&[used], &[]).unwrap_err();
        assert!(e.to_string().contains(&used.to_string()), "{e}");
        drop(l);
        assert!(ensure_free(&[used], &[used]).is_ok());
    }

    #[test]
    fn free_ports_are_distinct_and_bindable() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let p = free_ports(ip, 4).unwrap();
        let mut d = p.clone();
        d.sort_unstable();
        d.dedup();
        assert_eq!(d.len(), 4, "{p:?}");
        assert!(ensure_free(&[SocketAddr::new(ip, p[0])], &[SocketAddr::new(ip, p[0])]).is_ok());
    }

    #[test]
    fn poll_until_times_out_with_the_reason() {
        let e = poll_until("never", Duration::from_millis(150), || None::<()>).unwrap_err();
        assert!(e.to_string().contains("never"), "{e}");
        let mut n = 0;
        assert_eq!(
            poll_until("third try", Duration::from_secs(5), || {
                n += 1;
                (n == 3).then_some(n)
            })
            .unwrap(),
            3
        );
    }
}
