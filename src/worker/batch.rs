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
//! When held responses leave: at the end of the turn; before the worker sleeps in poll (also in
//! a turn nested in a waiting `write`, and before such a `write` waits on its own socket); and,
//! between connections, once the oldest has waited [`HOLD_MS`] on the heartbeat's clock, which
//! moves when an application call begins or ends. Nothing is held while application calls are
//! slow (a moving average of their time at [`SLOW_MS`] or more), since a batch would add such
//! a call's time to the others'. An average rather than the last call: a fast call that was
//! only preempted by the scheduler says little about the next, while one long call keeps
//! holding off for the next few dozen.
//!
//! What is left, and why `batch_responses = false` exists: in an application that has been
//! fast, a finished response waits for a slow call that follows it in the same turn (a request
//! read in that turn but queued behind the call waits for it too). If that call hangs until the
//! master kills the worker (`timeout`), the held responses are lost with the worker's other
//! connections, where without batching they would have gone out.

/// The oldest held response goes out once the clock has moved this many milliseconds on
/// (the heartbeat's ticks: between 1 and 2 ms of real time, a few dozen Flask requests).
pub const HOLD_MS: u64 = 2;

/// Application calls averaging this many milliseconds or more are slow.
pub const SLOW_MS: u64 = 1;

/// Fixed-point scale of the average (it is kept in 1/64 ms).
const SCALE: u64 = 64;

/// The connections holding output, and what the last application call said about holding.
#[derive(Debug, Default)]
pub struct Batch {
    held: Vec<usize>,
    /// The clock when the oldest held response was held.
    since: u64,
    /// Moving average of application call times (1/64 ms; each new call weighs 1/8).
    avg: u64,
}

impl Batch {
    /// Holds connection `key`'s finished output until [`Batch::take`]; false when it should go
    /// out now. `now`: monotonic milliseconds.
    pub fn hold(&mut self, key: usize, now: u64) -> bool {
        if self.avg >= SLOW_MS * SCALE {
            return false;
        }
        if self.held.is_empty() {
            self.since = now;
        }
        self.held.push(key);
        true
    }

    /// Records an application call that took `took` milliseconds.
    pub fn called(&mut self, took: u64) {
        let took = took.min(3_600_000) * SCALE;
        self.avg = self.avg - self.avg / 8 + took / 8;
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
        /// Application calls: this many, that took this many ms each.
        Calls(usize, u64),
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
                    Calls(1, 0),
                    Hold(1, 10, true),
                    Calls(1, 0),
                    Hold(2, 10, true),
                    Take(&[1, 2]),
                ],
            ),
            ("nothing held is never due", &[Due(1_000, false)]),
            (
                "due once the oldest waited",
                &[
                    Calls(1, 1),
                    Hold(1, 10, true),
                    Due(11, false),
                    Hold(2, 11, true),
                    Due(12, true),
                ],
            ),
            (
                "a preempted fast call changes nothing",
                &[Calls(100, 0), Calls(1, 5), Hold(1, 10, true), Take(&[1])],
            ),
            (
                "slow calls stop holding",
                &[Calls(60, SLOW_MS), Hold(1, 10, false), Due(100, false), Take(&[])],
            ),
            (
                "one long call stops it for the next ones",
                &[Calls(1, 300), Calls(20, 0), Hold(1, 10, false), Take(&[])],
            ),
            (
                "holding resumes after enough fast calls",
                &[Calls(1, 300), Calls(40, 0), Hold(1, 10, true), Take(&[1])],
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
                    Calls(n, took) => (0..n).for_each(|_| b.called(took)),
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
