//! The heartbeat: a shared-memory page per worker through which the worker proves it is alive
//! and says which request it is serving, and the master reads both.
//!
//! Shared memory rather than a pipe or a file's mtime: a worker's beat is one store per loop
//! iteration and one copy of the request line per request, with no system call, and the master
//! can name the stuck request in its `WORKER TIMEOUT` line.

use nix::sys::mman::{mmap_anonymous, munmap, MapFlags, ProtFlags};
use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

const REQUEST_WORDS: usize = 32;

#[repr(C)]
struct Page {
    /// CLOCK_MONOTONIC milliseconds of the last beat (0: never).
    last_beat: AtomicU64,
    /// Requests served.
    requests: AtomicU64,
    /// Length of the request line below; 0 when no request is in the application.
    request_len: AtomicU32,
    /// The request line, packed into words so every access is atomic.
    request: [AtomicU64; REQUEST_WORDS],
}

/// One worker's heartbeat page, mapped shared before fork so both processes see it.
#[derive(Debug)]
pub struct Heartbeat {
    page: NonNull<Page>,
}

/// Milliseconds on the system-wide monotonic clock (comparable across processes).
pub fn monotonic_ms() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1000 + t.tv_nsec() as u64 / 1_000_000)
        .unwrap_or(0)
}

impl Heartbeat {
    /// Maps a new zeroed page.
    pub fn new() -> Result<Heartbeat, nix::Error> {
        let len = NonZeroUsize::new(std::mem::size_of::<Page>()).ok_or(nix::Error::EINVAL)?;
        // SAFETY: a fresh anonymous shared mapping, zero-filled by the kernel; all-zero bytes
        // are a valid `Page` (atomics of 0).
        let ptr = unsafe {
            mmap_anonymous(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )?
        };
        Ok(Heartbeat { page: ptr.cast() })
    }

    fn page(&self) -> &Page {
        // SAFETY: the mapping lives as long as `self` and holds a `Page`; all access is atomic.
        unsafe { self.page.as_ref() }
    }

    /// Worker: proves it is alive now; returns the time it stored (monotonic ms).
    pub fn beat(&self) -> u64 {
        let now = monotonic_ms();
        self.page().last_beat.store(now, Ordering::Relaxed);
        now
    }

    /// Worker: a request enters the application; returns the time (monotonic ms).
    pub fn begin_request(&self, method: &[u8], target: &[u8]) -> u64 {
        let p = self.page();
        let mut line = [0u8; REQUEST_WORDS * 8];
        let mut n = 0;
        for &b in method.iter().chain(b" ").chain(target) {
            if n == line.len() {
                break;
            }
            line[n] = b;
            n += 1;
        }
        for (i, word) in p.request.iter().enumerate().take(n.div_ceil(8)) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&line[i * 8..i * 8 + 8]);
            word.store(u64::from_ne_bytes(bytes), Ordering::Relaxed);
        }
        p.request_len.store(n as u32, Ordering::Release);
        p.requests.fetch_add(1, Ordering::Relaxed);
        self.beat()
    }

    /// Worker: the application returned; returns the time (monotonic ms).
    pub fn end_request(&self) -> u64 {
        self.page().request_len.store(0, Ordering::Release);
        self.beat()
    }

    /// Master: when the worker last beat (monotonic ms; 0 = never).
    pub fn last_beat(&self) -> u64 {
        self.page().last_beat.load(Ordering::Relaxed)
    }

    /// Master: the request in the application, if any.
    pub fn current_request(&self) -> Option<String> {
        let p = self.page();
        let n = p.request_len.load(Ordering::Acquire) as usize;
        if n == 0 {
            return None;
        }
        let mut line = Vec::with_capacity(n);
        for word in p.request.iter().take(n.div_ceil(8)) {
            line.extend_from_slice(&word.load(Ordering::Relaxed).to_ne_bytes());
        }
        line.truncate(n);
        Some(String::from_utf8_lossy(&line).into_owned())
    }

    /// Requests the worker has taken into the application.
    pub fn requests(&self) -> u64 {
        self.page().requests.load(Ordering::Relaxed)
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        // SAFETY: the mapping was created in `new` with this length and is not used after.
        unsafe {
            let _ = munmap(self.page.cast(), std::mem::size_of::<Page>());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_line_round_trip_and_truncation() {
        let hb = Heartbeat::new().unwrap();
        assert_eq!(hb.last_beat(), 0);
        assert_eq!(hb.current_request(), None);
        hb.begin_request(b"GET", b"/a?b=c");
        assert_eq!(hb.current_request().as_deref(), Some("GET /a?b=c"));
        assert!(hb.last_beat() > 0);
        let long = vec![b'x'; 1000];
        hb.begin_request(b"POST", &long);
        assert_eq!(hb.current_request().unwrap().len(), REQUEST_WORDS * 8);
        hb.end_request();
        assert_eq!(hb.current_request(), None);
        assert_eq!(hb.requests(), 2);
    }

    #[test]
    fn a_child_process_beats_into_the_parents_page() {
        let hb = Heartbeat::new().unwrap();
        let pid = crate::sys::process::fork_child(|| {
            hb.begin_request(b"GET", b"/from-child");
            0
        })
        .unwrap();
        nix::sys::wait::waitpid(pid, None).unwrap();
        assert_eq!(hb.current_request().as_deref(), Some("GET /from-child"));
    }
}
