//! The heartbeat: a shared-memory page per worker through which the worker proves it is alive
//! and says which request it is serving, and the master reads both.
//!
//! Shared memory rather than a pipe or a file's mtime: a worker's beat is one store per loop
//! iteration and one copy of the request line per request, with no system call, and the master
//! can name the stuck request in its `WORKER TIMEOUT` line. The loop's beat proves the loop
//! alive (and with it an application running on the loop's thread); each application thread
//! has a slot of its own whose progress time the master checks, since a stuck application
//! thread does not stop the loop from beating.
//!
//! The page also holds the worker's request counters ([`Tally`]), which `forkhorn ctl` and
//! `/metrics` read, when the master asked for them (`counting`).

use crate::metrics::tally::Tally;
use nix::sys::mman::{mmap_anonymous, munmap, MapFlags, ProtFlags};
use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

const REQUEST_WORDS: usize = 32;

/// The page's fixed part.
#[repr(C)]
struct Header {
    /// CLOCK_MONOTONIC milliseconds of the last beat of the worker's loop (0: never).
    last_beat: AtomicU64,
    /// Requests served.
    requests: AtomicU64,
    /// Set by the master when it reads the counters: the worker then keeps [`Header::tally`]
    /// (otherwise it reads no clock for them).
    counting: AtomicBool,
    tally: Tally,
}

/// What one thread that calls the application shows: slot 0 is the loop thread's, the others
/// belong to the application threads of a threaded worker.
#[repr(C)]
struct Slot {
    /// CLOCK_MONOTONIC milliseconds when the request in the application last made progress
    /// (entered, or produced output); meaningful while `request_len` is not 0.
    progress: AtomicU64,
    /// CLOCK_MONOTONIC microseconds when the request entered the application.
    entered_us: AtomicU64,
    /// Length of the request line below; 0 when no request is in the application.
    request_len: AtomicU32,
    /// The request line, packed into words so every access is atomic.
    request: [AtomicU64; REQUEST_WORDS],
}

/// One worker's heartbeat page, mapped shared before fork so both processes see it: a header,
/// then one `Slot` per thread that calls the application.
#[derive(Debug)]
pub struct Heartbeat {
    page: NonNull<Header>,
    slots: usize,
}

// SAFETY: the mapping is shared memory accessed only through atomics, so threads may use it
// together; it is unmapped only when the owner drops it.
unsafe impl Send for Heartbeat {}
// SAFETY: as for Send: every access through `&Heartbeat` is an atomic load or store.
unsafe impl Sync for Heartbeat {}

/// Milliseconds on the system-wide monotonic clock (comparable across processes).
pub fn monotonic_ms() -> u64 {
    monotonic_us() / 1000
}

/// Microseconds on the system-wide monotonic clock.
pub fn monotonic_us() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1_000)
        .unwrap_or(0)
}

impl Heartbeat {
    /// Maps a new zeroed page with `slots` request slots (at least one: the loop thread's);
    /// with `counting`, the worker keeps its request counters there.
    pub fn new(slots: usize, counting: bool) -> Result<Heartbeat, nix::Error> {
        let slots = slots.max(1);
        let len = NonZeroUsize::new(Self::len(slots)).ok_or(nix::Error::EINVAL)?;
        // SAFETY: a fresh anonymous shared mapping, zero-filled by the kernel; all-zero bytes
        // are a valid `Header` followed by valid `Slot`s (atomics of 0), and a page-aligned
        // mapping is aligned for both.
        let ptr = unsafe {
            mmap_anonymous(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )?
        };
        let hb = Heartbeat {
            page: ptr.cast(),
            slots,
        };
        hb.header().counting.store(counting, Ordering::Relaxed);
        Ok(hb)
    }

    /// The request counters, when the master reads them.
    pub fn tally(&self) -> Option<&Tally> {
        let h = self.header();
        h.counting.load(Ordering::Relaxed).then_some(&h.tally)
    }

    /// Master: the counters, read even when the worker does not keep them (all zero then).
    pub fn counters(&self) -> &Tally {
        &self.header().tally
    }

    /// Master: how many of the threads that call the application are inside it now.
    pub fn busy(&self) -> usize {
        (0..self.slots)
            .filter(|&i| self.slot(i).request_len.load(Ordering::Relaxed) != 0)
            .count()
    }

    /// Master: the threads that call the application (the loop's, or the application threads).
    pub fn threads(&self) -> usize {
        self.slots.saturating_sub(1).max(1)
    }

    /// Master: the oldest request inside the application, and for how long (ms) it has been
    /// there at `now_ms`.
    pub fn oldest_request(&self, now_ms: u64) -> Option<(String, u64)> {
        (0..self.slots)
            .filter_map(|i| {
                let line = self.request_line(i)?;
                let entered = self.slot(i).entered_us.load(Ordering::Relaxed) / 1000;
                Some((line, now_ms.saturating_sub(entered)))
            })
            .max_by_key(|(_, ms)| *ms)
    }

    fn len(slots: usize) -> usize {
        std::mem::size_of::<Header>() + slots * std::mem::size_of::<Slot>()
    }

    fn header(&self) -> &Header {
        // SAFETY: the mapping lives as long as `self` and starts with a `Header`; all access
        // is atomic.
        unsafe { self.page.as_ref() }
    }

    fn slot(&self, i: usize) -> &Slot {
        let i = i.min(self.slots - 1);
        // SAFETY: `i` is below `slots`, so the slot lies inside the mapping made for `slots`
        // slots, right after the header (whose size is a multiple of 8, the slots' alignment);
        // all access is atomic.
        unsafe {
            &*self
                .page
                .as_ptr()
                .cast::<u8>()
                .add(std::mem::size_of::<Header>())
                .cast::<Slot>()
                .add(i)
        }
    }

    /// Worker: proves its loop is alive now; returns the time it stored (monotonic ms).
    pub fn beat(&self) -> u64 {
        let now = monotonic_ms();
        self.header().last_beat.store(now, Ordering::Relaxed);
        now
    }

    /// Worker: a request enters the application on the thread of `slot`; returns the time
    /// (monotonic ms).
    pub fn begin_request(&self, slot: usize, method: &[u8], target: &[u8]) -> u64 {
        let s = self.slot(slot);
        let mut line = [0u8; REQUEST_WORDS * 8];
        let mut n = 0;
        for &b in method.iter().chain(b" ").chain(target) {
            if n == line.len() {
                break;
            }
            line[n] = b;
            n += 1;
        }
        for (i, word) in s.request.iter().enumerate().take(n.div_ceil(8)) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&line[i * 8..i * 8 + 8]);
            word.store(u64::from_ne_bytes(bytes), Ordering::Relaxed);
        }
        let now_us = monotonic_us();
        let now = now_us / 1000;
        s.entered_us.store(now_us, Ordering::Relaxed);
        s.progress.store(now, Ordering::Relaxed);
        s.request_len.store(n as u32, Ordering::Release);
        self.header().requests.fetch_add(1, Ordering::Relaxed);
        if slot == 0 {
            self.header().last_beat.store(now, Ordering::Relaxed);
        }
        now
    }

    /// Worker: the request on `slot` made progress (produced output, or waits for a slow
    /// client rather than for the application).
    pub fn progress(&self, slot: usize) {
        self.slot(slot).progress.store(monotonic_ms(), Ordering::Relaxed);
    }

    /// Worker: the application returned on `slot`; returns the time (monotonic ms).
    pub fn end_request(&self, slot: usize) -> u64 {
        let s = self.slot(slot);
        s.request_len.store(0, Ordering::Release);
        let now_us = monotonic_us();
        if let Some(tally) = self.tally() {
            tally.app_returned(now_us.saturating_sub(s.entered_us.load(Ordering::Relaxed)));
        }
        let now = now_us / 1000;
        if slot == 0 {
            self.header().last_beat.store(now, Ordering::Relaxed);
        }
        now
    }

    /// Master: when the worker's loop last beat (monotonic ms; 0 = never).
    pub fn last_beat(&self) -> u64 {
        self.header().last_beat.load(Ordering::Relaxed)
    }

    /// Master: the request in the application on the loop's thread, if any.
    pub fn current_request(&self) -> Option<String> {
        self.request_line(0)
    }

    /// Master: a request that has been inside the application on an application thread with no
    /// progress for more than `limit_ms` at `now_ms`.
    pub fn stuck_request(&self, now_ms: u64, limit_ms: u64) -> Option<String> {
        (1..self.slots).find_map(|i| {
            let s = self.slot(i);
            if s.request_len.load(Ordering::Acquire) == 0 {
                return None;
            }
            let since = s.progress.load(Ordering::Relaxed);
            if now_ms.saturating_sub(since) <= limit_ms {
                return None;
            }
            self.request_line(i)
        })
    }

    fn request_line(&self, slot: usize) -> Option<String> {
        let s = self.slot(slot);
        let n = s.request_len.load(Ordering::Acquire) as usize;
        if n == 0 {
            return None;
        }
        let mut line = Vec::with_capacity(n);
        for word in s.request.iter().take(n.div_ceil(8)) {
            line.extend_from_slice(&word.load(Ordering::Relaxed).to_ne_bytes());
        }
        line.truncate(n);
        Some(String::from_utf8_lossy(&line).into_owned())
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        // SAFETY: the mapping was created in `new` with this length and is not used after.
        unsafe {
            let _ = munmap(self.page.cast(), Self::len(self.slots));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_line_round_trip_and_truncation() {
        let hb = Heartbeat::new(1, false).unwrap();
        assert_eq!(hb.last_beat(), 0);
        assert_eq!(hb.current_request(), None);
        hb.begin_request(0, b"GET", b"/a?b=c");
        assert_eq!(hb.current_request().as_deref(), Some("GET /a?b=c"));
        assert!(hb.last_beat() > 0);
        let long = vec![b'x'; 1000];
        hb.begin_request(0, b"POST", &long);
        assert_eq!(hb.current_request().unwrap().len(), REQUEST_WORDS * 8);
        hb.end_request(0);
        assert_eq!(hb.current_request(), None);
        assert_eq!(hb.header().requests.load(Ordering::Relaxed), 2);
        assert_eq!(hb.counters().read().app.count(), 0, "not counting");
    }

    #[test]
    fn a_counting_page_times_the_application() {
        let hb = Heartbeat::new(2, true).unwrap();
        hb.begin_request(1, b"GET", b"/x");
        assert_eq!(hb.busy(), 1);
        assert_eq!(
            hb.oldest_request(monotonic_ms()).map(|(l, _)| l).as_deref(),
            Some("GET /x")
        );
        hb.end_request(1);
        assert_eq!((hb.busy(), hb.threads()), (0, 1));
        assert_eq!(hb.counters().read().app.count(), 1);
    }

    #[test]
    fn a_child_process_beats_into_the_parents_page() {
        let hb = Heartbeat::new(1, false).unwrap();
        let pid = crate::sys::process::fork_child(|| {
            hb.begin_request(0, b"GET", b"/from-child");
            0
        })
        .unwrap();
        nix::sys::wait::waitpid(pid, None).unwrap();
        assert_eq!(hb.current_request().as_deref(), Some("GET /from-child"));
    }

    #[test]
    fn an_application_thread_without_progress_is_stuck() {
        let hb = Heartbeat::new(3, false).unwrap();
        let began = hb.begin_request(2, b"GET", b"/slow");
        hb.begin_request(1, b"GET", b"/fast");
        assert_eq!(hb.stuck_request(began + 100, 1_000), None);
        assert_eq!(hb.stuck_request(began + 2_000, 1_000).as_deref(), Some("GET /fast"));
        hb.end_request(1);
        assert_eq!(hb.stuck_request(began + 2_000, 1_000).as_deref(), Some("GET /slow"));
        hb.progress(2);
        assert_eq!(hb.stuck_request(began + 100, 1_000), None);
        // The loop thread's slot is judged by the loop's beat, not here.
        hb.end_request(2);
        hb.begin_request(0, b"GET", b"/inline");
        assert_eq!(hb.stuck_request(began + 10_000, 1_000), None);
    }
}
