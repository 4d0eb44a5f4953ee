//! What a server's processes cost, read from /proc: CPU time, resident memory, and which process
//! holds how many of the benchmark's connections. Linux only; the parsers are pure functions of
//! the file text so they are tested without a process to read.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// A process of a server's tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Proc {
    /// Its pid.
    pub pid: i32,
    /// Its parent's pid.
    pub ppid: i32,
}

/// A process and its live descendants, root first, breadth-first.
pub fn process_tree(root: i32) -> Vec<Proc> {
    let parents = parent_map();
    let mut tree = vec![Proc {
        pid: root,
        ppid: parents.get(&root).copied().unwrap_or(0),
    }];
    // A pid cannot be its own ancestor, so this ends.
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i].pid;
        let mut kids: Vec<Proc> = parents
            .iter()
            .filter(|(_, &p)| p == parent)
            .map(|(&pid, &ppid)| Proc { pid, ppid })
            .collect();
        kids.sort_unstable_by_key(|p| p.pid);
        tree.extend(kids);
        i += 1;
    }
    tree
}

/// The pids of a tree.
pub fn pids(tree: &[Proc]) -> Vec<i32> {
    tree.iter().map(|p| p.pid).collect()
}

/// The processes that serve: the leaves of the tree (a pre-fork server's workers, below a
/// master and perhaps a shell), or the root alone if it has no children.
pub fn workers(tree: &[Proc]) -> Vec<i32> {
    let leaves: Vec<i32> = tree
        .iter()
        .filter(|p| !tree.iter().any(|q| q.ppid == p.pid))
        .map(|p| p.pid)
        .collect();
    if leaves.is_empty() {
        tree.iter().take(1).map(|p| p.pid).collect()
    } else {
        leaves
    }
}

/// Every live process's parent.
fn parent_map() -> HashMap<i32, i32> {
    let mut map = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return map;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if let Some(stat) = read_stat(pid) {
            if stat.state != 'Z' {
                map.insert(pid, stat.ppid);
            }
        }
    }
    map
}

/// The fields of /proc/PID/stat this module uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// Process state (R, S, Z, ...).
    pub state: char,
    /// Parent pid.
    pub ppid: i32,
    /// utime + stime, in clock ticks: the process's own CPU time, threads that ended included.
    pub own_ticks: u64,
    /// cutime + cstime, in clock ticks: the CPU time of the children it has reaped, so a worker
    /// that dies mid-run is still counted, once.
    pub reaped_ticks: u64,
}

/// Parses /proc/PID/stat. The command name (field 2) may hold spaces and parentheses, so the
/// fields are counted from its last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let rest = text.get(text.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
    let num = |i: usize| f.get(i)?.parse::<u64>().ok();
    Some(Stat {
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        own_ticks: num(11)? + num(12)?,
        reaped_ticks: num(13)? + num(14)?,
    })
}

fn read_stat(pid: i32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Clock ticks per second for /proc times.
fn ticks_per_second() -> u64 {
    // SAFETY: sysconf has no memory effects.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(t).ok().filter(|t| *t > 0).unwrap_or(100)
}

/// CPU time used so far by `pids` (and the children they have reaped).
///
/// /proc/PID/stat counts in clock ticks (10 ms), which is too coarse for a few seconds of an
/// app that mostly waits; the scheduler's own nanosecond count (/proc/PID/task/*/schedstat) is
/// exact but forgets threads that have ended. Each process counts as the larger of the two.
pub fn cpu_time(pids: &[i32]) -> Duration {
    let hz = ticks_per_second() as f64;
    let ticks = |t: u64| Duration::from_secs_f64(t as f64 / hz);
    pids.iter()
        .filter_map(|&pid| {
            let stat = read_stat(pid)?;
            let own = ticks(stat.own_ticks).max(scheduled(pid));
            Some(own + ticks(stat.reaped_ticks))
        })
        .sum()
}

/// Time the live threads of `pid` have spent on a CPU, from schedstat (zero if unavailable).
fn scheduled(pid: i32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    let ns: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|text| text.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(ns)
}

/// Busy and total CPU ticks of the whole machine since boot, from the `cpu` line of /proc/stat.
pub fn machine_ticks() -> Option<(u64, u64)> {
    parse_machine_ticks(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// Parses the aggregate line `cpu user nice system idle iowait irq softirq steal ...`; idle and
/// iowait are not busy. Guest time is already inside user time, so it is not added.
pub fn parse_machine_ticks(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|v| v.parse().ok())
        .collect();
    if f.len() < 5 {
        return None;
    }
    let total: u64 = f.iter().sum();
    Some((total - f[3] - f[4], total))
}

/// Memory of a set of processes, in KiB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    /// Sum of resident set sizes: pages shared by fork are counted once per process.
    pub rss_kib: u64,
    /// Sum of proportional set sizes: each shared page split among its sharers, so the sum is
    /// what the processes cost together. None where smaps_rollup is unavailable.
    pub pss_kib: Option<u64>,
}

/// The value in kB of the line `key:` in a /proc status-style file.
pub fn kib_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(key)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// RSS and PSS of `pids` now.
pub fn memory(pids: &[i32]) -> Memory {
    let mut m = Memory {
        rss_kib: 0,
        pss_kib: Some(0),
    };
    for pid in pids {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        m.rss_kib += kib_field(&status, "VmRSS").unwrap_or(0);
        let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok();
        m.pss_kib = match (m.pss_kib, rollup.as_deref().and_then(|r| kib_field(r, "Pss"))) {
            (Some(sum), Some(pss)) => Some(sum + pss),
            _ => None,
        };
    }
    m
}

/// Socket inodes of established TCP connections whose local port is `port`, from the text of
/// /proc/net/tcp or /proc/net/tcp6.
pub fn established_inodes(table: &str, port: u16) -> HashSet<u64> {
    let want = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st ... inode(9); 01 is TCP_ESTABLISHED.
            (f.len() > 9 && f[1].ends_with(&want) && f[3] == "01").then(|| f[9].parse().ok())?
        })
        .collect()
}

/// How many of the server-side sockets of connections to `port` each of `pids` holds, in the
/// order of `pids`. A socket shared by several processes counts for each. The sockets come from
/// sock_diag ([`super::sockdiag`]), or from /proc/net/tcp where netlink is not allowed.
pub fn connections_held(pids: &[i32], port: u16) -> Vec<(i32, usize)> {
    let inodes = super::sockdiag::established_inodes(port).unwrap_or_else(|_| {
        let mut inodes = HashSet::new();
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            inodes.extend(established_inodes(
                &std::fs::read_to_string(table).unwrap_or_default(),
                port,
            ));
        }
        inodes
    });
    pids.iter()
        .map(|&pid| {
            let held = std::fs::read_dir(format!("/proc/{pid}/fd"))
                .map(|dir| {
                    dir.flatten()
                        .filter_map(|e| std::fs::read_link(e.path()).ok())
                        .filter_map(|target| socket_inode(&target.to_string_lossy()))
                        .filter(|inode| inodes.contains(inode))
                        .count()
                })
                .unwrap_or(0);
            (pid, held)
        })
        .collect()
}

/// The inode of a `socket:[N]` descriptor link.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_a_hostile_name() {
        let text = "4242 (a) b) (c) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 1 0 1000 \
                    1000000 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        assert_eq!(
            parse_stat(text),
            Some(Stat {
                state: 'S',
                ppid: 17,
                own_ticks: 250 + 50,
                reaped_ticks: 7 + 3
            })
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn established_sockets_of_a_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 100 1 0 100 0 0 10 0\n\
           1: 0100007F:1F90 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 101 1 0 20 4 30 10 -1\n\
           2: 0100007F:A000 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 102 1 0 20 4 30 10 -1\n\
           3: 0100007F:1F90 0100007F:A001 06 00000000:00000000 03:00000A27 00000000     0        0 0 3 0\n\
           4: 0100007F:1F90 0100007F:A002 01 00000000:00000000 00:00000000 00000000     0        0 103 1 0 20 4 30 10 -1\n";
        // Port 8080 = 0x1F90: the listener (0A), the client side (local A000) and TIME_WAIT (06)
        // are not counted.
        assert_eq!(established_inodes(table, 8080), HashSet::from([101, 103]));
        assert_eq!(established_inodes(table, 80), HashSet::new());
    }

    #[test]
    fn workers_are_the_leaves() {
        let p = |pid, ppid| Proc { pid, ppid };
        // sh -> master -> two workers
        let tree = [p(10, 1), p(11, 10), p(12, 11), p(13, 11)];
        assert_eq!(workers(&tree), [12, 13]);
        assert_eq!(pids(&tree), [10, 11, 12, 13]);
    }

    #[test]
    fn machine_ticks_from_proc_stat() {
        let text = "cpu  100 5 50 800 20 3 2 0 7 0\ncpu0 50 2 25 400 10 1 1 0 3 0\n";
        assert_eq!(parse_machine_ticks(text), Some((160, 980)));
        assert_eq!(parse_machine_ticks("intr 1 2 3\n"), None);
        assert!(machine_ticks().is_some_and(|(busy, total)| busy <= total && total > 0));
    }

    #[test]
    fn status_fields() {
        let status = "Name:\tforkhorn\nVmPeak:\t  10000 kB\nVmRSS:\t    1936 kB\n";
        assert_eq!(kib_field(status, "VmRSS"), Some(1936));
        assert_eq!(kib_field(status, "VmRS"), None);
        assert_eq!(kib_field("Rss:  1760 kB\nPss:   254 kB\n", "Pss"), Some(254));
        assert_eq!(socket_inode("socket:[12345]"), Some(12345));
        assert_eq!(socket_inode("pipe:[12345]"), None);
    }

    #[test]
    fn this_process_is_visible() {
        let me = std::process::id() as i32;
        let tree = process_tree(me);
        assert_eq!(tree[0].pid, me);
        assert_eq!(workers(&tree[..1]), [me]);
        assert!(memory(&[me]).rss_kib > 0);
        assert!(read_stat(me).is_some_and(|s| s.state != 'Z'));
        // Burn some CPU: the count must see it, to better than a clock tick.
        let before = cpu_time(&[me]);
        let t = std::time::Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let used = cpu_time(&[me]).saturating_sub(before);
        assert!(used >= Duration::from_millis(20), "{used:?}");
    }
}
