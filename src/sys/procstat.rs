//! A process's resident memory and CPU time, from `/proc/PID/stat`, for `forkhorn ctl workers`
//! and `/metrics` (read by the master when asked, never on a schedule).

/// What `/proc/PID/stat` says about a process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// Resident memory, bytes.
    pub rss_bytes: u64,
    /// User plus system CPU time, seconds.
    pub cpu_seconds: f64,
}

/// The usage of process `pid`, if it is there to read.
pub fn usage(pid: i32) -> Option<Usage> {
    let text = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let tick = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok()??;
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE).ok()??;
    parse(&text, tick as u64, page as u64)
}

/// Parses the text of `/proc/PID/stat`. The command name (field 2) is in parentheses and may
/// hold spaces and parentheses itself, so fields are counted after the last `)`.
fn parse(stat: &[u8], ticks_per_second: u64, page_size: u64) -> Option<Usage> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    // After the name: state is field 3; utime 14, stime 15, rss 24.
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    let ticks = field(14)? + field(15)?;
    Some(Usage {
        rss_bytes: field(24)? * page_size,
        cpu_seconds: ticks as f64 / ticks_per_second.max(1) as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stat_line() {
        let line = b"1234 (forkhorn: worker (x)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 \
                     100 1000000 300 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 17 1 0 0 0 0 0\n";
        assert_eq!(
            parse(line, 100, 4096),
            Some(Usage {
                rss_bytes: 300 * 4096,
                cpu_seconds: 3.0
            })
        );
        assert_eq!(parse(b"1234 (x) S 1", 100, 4096), None);
        assert_eq!(parse(b"garbage", 100, 4096), None);
    }

    #[test]
    fn reads_this_process() {
        let u = usage(std::process::id() as i32).unwrap();
        assert!(u.rss_bytes > 0);
    }
}
