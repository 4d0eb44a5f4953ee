//! The request counters a worker keeps in the page it shares with the master: requests by
//! method and status class, the latency histograms, and the gauges the master cannot see from
//! outside (requests in flight, connections open). Each is a plain atomic with relaxed
//! ordering, written by one worker and read by the master: no system call, lock or allocation
//! per request. The master reads them into a [`Snapshot`] for `forkhorn ctl` and `/metrics`,
//! and folds a dead worker's last snapshot into a retired total so that counters never go back.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The methods counted by name; any other is `OTHER`.
pub const METHODS: [&str; 8] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "OTHER"];
/// Status classes `1xx` to `5xx`.
pub const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
/// Upper bounds of the histogram buckets, in microseconds; a last bucket (`+Inf`) follows.
pub const BUCKETS_US: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000,
];
const SLOTS: usize = BUCKETS_US.len() + 1;

/// A latency histogram: a count per bucket (not cumulative) and the sum of the durations.
#[repr(C)]
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; SLOTS],
    sum_us: AtomicU64,
}

impl Histogram {
    /// Records a duration from any thread.
    fn record(&self, us: u64) {
        let i = BUCKETS_US.partition_point(|&bound| bound < us);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// Records a duration from the one thread that writes this histogram.
    fn record_alone(&self, us: u64) {
        let i = BUCKETS_US.partition_point(|&bound| bound < us);
        bump(&self.buckets[i], 1);
        bump(&self.sum_us, us);
    }

    fn read(&self) -> Latency {
        Latency {
            buckets: std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
            sum_us: self.sum_us.load(Ordering::Relaxed),
        }
    }
}

/// One worker's counters, in shared memory (all zero bytes is a valid, empty tally).
#[repr(C)]
#[derive(Debug)]
pub struct Tally {
    requests: [AtomicU64; METHODS.len() * CLASSES.len()],
    /// From the complete request head to the complete response.
    total: Histogram,
    /// Inside the application (its body included).
    app: Histogram,
    /// Requests whose head was read and whose response is not complete yet.
    in_flight: AtomicU64,
    /// Connections open, stored by the worker's loop once per turn.
    connections: AtomicU64,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            requests: std::array::from_fn(|_| AtomicU64::new(0)),
            total: Histogram::default(),
            app: Histogram::default(),
            in_flight: AtomicU64::new(0),
            connections: AtomicU64::new(0),
        }
    }
}

/// Adds `n` to a counter that only one thread writes (the worker's loop thread): a relaxed
/// load and store rather than a read-modify-write, which on x86 is a locked instruction and
/// costs several times more. The master reads either the old or the new value, never a torn one.
fn bump(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

/// The index of `method` in [`METHODS`].
pub fn method_index(method: &[u8]) -> usize {
    METHODS[..METHODS.len() - 1]
        .iter()
        .position(|m| m.as_bytes() == method)
        .unwrap_or(METHODS.len() - 1)
}

/// The index of `status`'s class in [`CLASSES`] (out-of-range codes count as the nearest).
pub fn class_index(status: u16) -> usize {
    usize::from(status / 100).clamp(1, CLASSES.len()) - 1
}

impl Tally {
    /// Worker's loop thread (the only one that calls this and [`Tally::ended`]): a request
    /// head was read.
    pub fn began(&self) {
        bump(&self.in_flight, 1);
    }

    /// Worker's loop thread: the request that [`Tally::began`] is over; `status` 0 (no
    /// response: the connection ended first) is not counted as a request.
    pub fn ended(&self, method: &[u8], status: u16, elapsed: Duration) {
        bump(&self.in_flight, u64::MAX); // -1
        if status == 0 {
            return;
        }
        let i = method_index(method) * CLASSES.len() + class_index(status);
        bump(&self.requests[i], 1);
        self.total.record_alone(elapsed.as_micros() as u64);
    }

    /// Worker, any thread that calls the application: it returned after `us` microseconds.
    pub fn app_returned(&self, us: u64) {
        self.app.record(us);
    }

    /// Worker: how many connections it holds now.
    pub fn connections(&self, open: usize) {
        self.connections.store(open as u64, Ordering::Relaxed);
    }

    /// Master: the counters now.
    pub fn read(&self) -> Snapshot {
        Snapshot {
            requests: std::array::from_fn(|i| self.requests[i].load(Ordering::Relaxed)),
            total: self.total.read(),
            app: self.app.read(),
            // A wrapped value (an end read before its beginning) is a momentary 0.
            in_flight: match self.in_flight.load(Ordering::Relaxed) {
                n if n > u64::MAX / 2 => 0,
                n => n,
            },
            connections: self.connections.load(Ordering::Relaxed),
        }
    }
}

/// A worker's handle on its tally, for state that carries no lifetime (the worker's `Io`).
#[derive(Debug, Clone, Copy)]
pub struct TallyRef(NonNull<Tally>);

impl TallyRef {
    /// A handle on `tally`.
    ///
    /// # Safety
    /// `tally` must outlive every use of the handle and its copies.
    pub unsafe fn new(tally: &Tally) -> TallyRef {
        TallyRef(NonNull::from(tally))
    }

    /// The tally.
    pub fn get(&self) -> &Tally {
        // SAFETY: `new`'s caller promised that the tally outlives the handle; it is only ever
        // accessed through atomics, so a shared reference is sound whoever else holds one.
        unsafe { self.0.as_ref() }
    }
}

/// A histogram's values at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Latency {
    /// Per bucket of [`BUCKETS_US`], then `+Inf`; not cumulative.
    pub buckets: [u64; SLOTS],
    /// Sum of the durations, microseconds.
    pub sum_us: u64,
}

impl Latency {
    /// The number of durations recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    fn add(&mut self, other: &Latency) {
        for (a, b) in self.buckets.iter_mut().zip(other.buckets) {
            *a += b;
        }
        self.sum_us += other.sum_us;
    }
}

/// One worker's (or several workers' summed) counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// By `method_index * CLASSES.len() + class_index`.
    pub requests: [u64; METHODS.len() * CLASSES.len()],
    /// Request durations.
    pub total: Latency,
    /// Application durations.
    pub app: Latency,
    /// Gauge: requests in flight.
    pub in_flight: u64,
    /// Gauge: connections open.
    pub connections: u64,
}

impl Default for Snapshot {
    fn default() -> Snapshot {
        Snapshot {
            requests: [0; METHODS.len() * CLASSES.len()],
            total: Latency::default(),
            app: Latency::default(),
            in_flight: 0,
            connections: 0,
        }
    }
}

impl Snapshot {
    /// Every request counted.
    pub fn requests_total(&self) -> u64 {
        self.requests.iter().sum()
    }

    /// The requests of status class `class` (an index of [`CLASSES`]).
    pub fn by_class(&self, class: usize) -> u64 {
        (0..METHODS.len())
            .map(|m| self.requests[m * CLASSES.len() + class])
            .sum()
    }

    /// Adds `other`'s counters and gauges to these.
    pub fn add(&mut self, other: &Snapshot) {
        for (a, b) in self.requests.iter_mut().zip(other.requests) {
            *a += b;
        }
        self.total.add(&other.total);
        self.app.add(&other.app);
        self.in_flight += other.in_flight;
        self.connections += other.connections;
    }

    /// The counters only (a retired worker has nothing in flight).
    pub fn counters(mut self) -> Snapshot {
        self.in_flight = 0;
        self.connections = 0;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes() {
        for (method, want) in [
            (&b"GET"[..], 0),
            (b"OPTIONS", 6),
            (b"BREW", 7),
            (b"get", 7),
            (b"OTHER", 7),
        ] {
            assert_eq!(method_index(method), want, "{method:?}");
        }
        for (status, want) in [
            (100, 0),
            (200, 1),
            (299, 1),
            (304, 2),
            (404, 3),
            (503, 4),
            (0, 0),
            (999, 4),
        ] {
            assert_eq!(class_index(status), want, "{status}");
        }
    }

    #[test]
    fn counts_and_buckets() {
        let t = Tally::default();
        t.began();
        t.began();
        t.ended(b"GET", 200, Duration::from_micros(400));
        assert_eq!(t.read().in_flight, 1);
        t.ended(b"POST", 503, Duration::from_micros(500));
        t.began();
        t.ended(b"GET", 0, Duration::from_secs(1));
        t.app_returned(20_000_000);
        let s = t.read();
        assert_eq!(s.requests_total(), 2);
        assert_eq!((s.by_class(1), s.by_class(4)), (1, 1));
        assert_eq!(s.requests[2 * CLASSES.len() + 4], 1);
        // Both durations fall in the 500 µs bucket (a bound is inclusive).
        assert_eq!(s.total.buckets[2], 2);
        assert_eq!(s.total.sum_us, 900);
        assert_eq!(s.app.buckets[SLOTS - 1], 1);
        assert_eq!(s.in_flight, 0);
        let mut sum = s;
        sum.add(&s.counters());
        assert_eq!(sum.requests_total(), 4);
        assert_eq!(sum.total.count(), 4);
    }
}
