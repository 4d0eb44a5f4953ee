//! Response batching: which connections hold a finished response until the end of the loop's
//! turn, so that the responses of one turn leave together, and when holding is not worth it.
//!
//! Why: a client that multiplexes many connections in one thread (nginx or another proxy
//! with upstream keep-alive, a load generator) is woken once per burst instead of once per
//! response. With a Python app the worker takes tens of microseconds per request, and
//! sending each response as it is made woke such a client for nearly every one (wrk: 12 µs
//! of its CPU per request against 9 µs for bjoern, which writes on the next loop iteration).
//! The worker's system calls are the same either way: one send per response.
//!
//! Holding is bounded: responses go out at the end of the turn, or once the oldest has waited
//! [`HOLD_MS`], whichever is first; and not at all for [`SLOW_PAUSE_MS`] after an application
//! call took [`SLOW_MS`] or more, since a batch would add such a call's time to the others'.
//! What is left: in an application that has been fast for a second, a fast response may wait
//! for one slow call that follows it in the same turn, as a request queued behind that call
//! waits for it anyway.

/// The oldest held response goes out once the clock has moved this many milliseconds on
/// (the heartbeat's ticks: between 1 and 2 ms of real time, a few dozen Flask requests).
pub const HOLD_MS: u64 = 2;

/// An application call of this many ticks or more (at least 1 ms) is slow.
pub const SLOW_MS: u64 = 2;

/// After a slow call, responses go out as they are made for this long (ms).
pub const SLOW_PAUSE_MS: u64 = 1000;

/// The connections holding output, and what the last application call said about holding.
#[derive(Debug, Default)]
pub struct Batch {
    held: Vec<usize>,
    /// The clock when the oldest held response was held.
    since: u64,
    /// No holding before this time: a call was slow.
    calm_at: u64,
}

impl Batch {
    /// Holds connection `key`'s finished output until [`Batch::take`]; false when it should go
    /// out now. `now`: monotonic milliseconds.
    pub fn hold(&mut self, key: usize, now: u64) -> bool {
        if now < self.calm_at {
            return false;
        }
        if self.held.is_empty() {
            self.since = now;
        }
        self.held.push(key);
        true
    }

    /// Records an application call that ended at `now` after `took` milliseconds.
    pub fn called(&mut self, took: u64, now: u64) {
        if took >= SLOW_MS {
            self.calm_at = now + SLOW_PAUSE_MS;
        }
    }

    /// Whether held responses have waited their time at `now`.
    pub fn due(&self, now: u64) -> bool {
        !self.held.is_empty() && now.saturating_sub(self.since) >= HOLD_MS
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// The held connections (a key may repeat), to be flushed; hand the vector back with
    /// [`Batch::restore`] to keep its allocation.
    pub fn take(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.held)
    }

    /// Returns the vector [`Batch::take`] gave out.
    pub fn restore(&mut self, mut keys: Vec<usize>) {
        if self.held.is_empty() {
            keys.clear();
            self.held = keys;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A step of the worker's loop, as the batch sees it.
    enum Step {
        /// An application call that took this many ms, ending at this time.
        Call(u64, u64),
        /// A finished response on this connection at this time; whether it is held.
        Hold(usize, u64, bool),
        /// Whether the batch is due at this time.
        Due(u64, bool),
        /// Flushing: the keys that come out.
        Take(&'static [usize]),
    }
    use Step::*;

    #[test]
    fn holding_follows_the_policy() {
        let cases: &[(&str, &[Step])] = &[
            (
                "fast calls are held",
                &[
                    Call(0, 10),
                    Hold(1, 10, true),
                    Call(0, 10),
                    Hold(2, 10, true),
                    Take(&[1, 2]),
                ],
            ),
            ("nothing held is never due", &[Due(1_000, false)]),
            (
                "due once the oldest waited",
                &[
                    Call(1, 10),
                    Hold(1, 10, true),
                    Due(11, false),
                    Hold(2, 11, true),
                    Due(12, true),
                ],
            ),
            (
                "a slow call stops holding",
                &[Call(SLOW_MS, 10), Hold(1, 10, false), Due(100, false), Take(&[])],
            ),
            (
                "fast calls right after a slow one are not held",
                &[Call(50, 10), Call(0, 11), Hold(1, 11, false), Take(&[])],
            ),
            (
                "holding resumes a while after",
                &[
                    Call(50, 10),
                    Call(0, 1009),
                    Hold(1, 1009, false),
                    Hold(2, 1010, true),
                    Take(&[2]),
                ],
            ),
            (
                "the clock restarts with each batch",
                &[
                    Hold(1, 10, true),
                    Take(&[1]),
                    Hold(2, 30, true),
                    Due(31, false),
                    Due(32, true),
                ],
            ),
            ("a clock that goes back is not due", &[Hold(1, 10, true), Due(5, false)]),
        ];
        for (name, steps) in cases {
            let mut b = Batch::default();
            for (i, step) in steps.iter().enumerate() {
                match *step {
                    Call(took, now) => b.called(took, now),
                    Hold(key, now, held) => assert_eq!(b.hold(key, now), held, "{name}: step {i}"),
                    Due(now, due) => assert_eq!(b.due(now), due, "{name}: step {i}"),
                    Take(keys) => {
                        let got = b.take();
                        assert_eq!(got, keys, "{name}: step {i}");
                        assert!(b.is_empty(), "{name}: step {i}");
                        b.restore(got);
                    }
                }
            }
        }
    }

    #[test]
    fn restore_keeps_what_was_held_meanwhile() {
        let mut b = Batch::default();
        b.hold(1, 0);
        let keys = b.take();
        b.hold(2, 0);
        b.restore(keys);
        assert_eq!(b.take(), vec![2]);
    }
}
