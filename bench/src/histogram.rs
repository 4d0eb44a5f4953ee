//! A log-linear latency histogram: constant relative precision (under 0.4%) from nanoseconds to
//! hours in a fixed 7,424-slot table, so recording is an index computation and merging is a sum.
//!
//! Values below 256 ns get a slot each; above, every power of two is split into 128 equal slots.
//! hdrhistogram does the same with more options; this is the 60 lines the sweep needs, without
//! its compression and serialization dependencies.

use std::time::Duration;

/// Slots per power of two (7 bits of mantissa): the relative width of a slot is at most 1/128.
const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS;
/// Values below `2 * SUB` are their own slot.
const LINEAR: u64 = 2 * SUB;
/// Slot count: the linear part, then `SUB` slots for each exponent from 8 to 63.
const SLOTS: usize = (LINEAR + (64 - (SUB_BITS as u64 + 1)) * SUB) as usize;

/// Latencies in nanoseconds.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64]>,
    total: u64,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; SLOTS].into_boxed_slice(),
            total: 0,
            min: u64::MAX,
            max: 0,
        }
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.total)
            .field("min", &self.min())
            .field("max", &self.max)
            .finish()
    }
}

/// The slot of `v`.
fn slot(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros(); // >= SUB_BITS + 1
    let shift = exp - SUB_BITS;
    let mantissa = v >> shift; // in [SUB, 2 * SUB)
    (u64::from(shift) * SUB + mantissa) as usize
}

/// The smallest value in slot `i`, and the slot's width.
fn slot_range(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < LINEAR {
        return (i, 1);
    }
    let shift = i / SUB - 1;
    let mantissa = i - shift * SUB;
    (mantissa << shift, 1 << shift)
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one latency.
    pub fn record(&mut self, latency: Duration) {
        let v = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.counts[slot(v)] += 1;
        self.total += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// Adds every value recorded in `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.total += other.total;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Values recorded (the tests check that every request was timed).
    #[cfg(test)]
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The smallest value (exact); zero when empty.
    pub fn min(&self) -> Duration {
        Duration::from_nanos(if self.total == 0 { 0 } else { self.min })
    }

    /// The largest value (exact); zero when empty.
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.max)
    }

    /// The value at quantile `q` (0.5 for the median, 0.99 for p99): the middle of the slot that
    /// holds the ⌈q·n⌉-th smallest value, kept within the exact min and max. Zero when empty.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (low, width) = slot_range(i);
                let mid = low + width / 2;
                return Duration::from_nanos(mid.clamp(self.min, self.max));
            }
        }
        Duration::from_nanos(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_contiguous_and_cover_every_value() {
        assert_eq!(slot(0), 0);
        assert_eq!(slot(LINEAR - 1), LINEAR as usize - 1);
        assert_eq!(slot(LINEAR), LINEAR as usize);
        assert_eq!(slot(u64::MAX), SLOTS - 1);
        for v in [1u64, 255, 256, 257, 1000, 123_456, 10u64.pow(9), 1 << 40, u64::MAX / 3] {
            let (low, width) = slot_range(slot(v));
            assert!(low <= v && v - low < width, "{v} not in slot [{low}, +{width})");
            assert!(width == 1 || (width as f64) / (low as f64) <= 1.0 / SUB as f64, "{v}");
        }
        // Each slot starts where the previous one ends.
        for i in 1..SLOTS {
            let (prev_low, prev_width) = slot_range(i - 1);
            assert_eq!(slot_range(i).0, prev_low + prev_width, "slot {i}");
        }
    }

    #[test]
    fn quantiles_are_within_the_slot_precision() {
        let mut h = Histogram::new();
        // 1..=10_000 µs, uniformly.
        for us in 1..=10_000u64 {
            h.record(Duration::from_micros(us));
        }
        assert_eq!(h.count(), 10_000);
        assert_eq!(h.min(), Duration::from_micros(1));
        assert_eq!(h.max(), Duration::from_micros(10_000));
        for (q, want_us) in [(0.5, 5_000.0), (0.9, 9_000.0), (0.99, 9_900.0), (1.0, 10_000.0)] {
            let got = h.quantile(q).as_nanos() as f64 / 1000.0;
            assert!((got - want_us).abs() / want_us < 0.004, "q{q}: {got} vs {want_us}");
        }
    }

    #[test]
    fn merge_equals_recording_everything_in_one() {
        let (mut a, mut b, mut all) = (Histogram::new(), Histogram::new(), Histogram::new());
        for v in 0..1000u64 {
            let d = Duration::from_nanos(v * v * 37);
            if v % 3 == 0 { &mut a } else { &mut b }.record(d);
            all.record(d);
        }
        a.merge(&b);
        assert_eq!(a.count(), all.count());
        assert_eq!(a.counts, all.counts);
        assert_eq!((a.min(), a.max()), (all.min(), all.max()));
    }

    #[test]
    fn empty_histogram_reports_zeros() {
        let h = Histogram::new();
        assert_eq!(
            (h.quantile(0.99), h.max(), h.min()),
            (Duration::ZERO, Duration::ZERO, Duration::ZERO)
        );
    }
}
