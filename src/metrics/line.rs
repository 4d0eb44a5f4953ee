//! statsd's text lines, `NAME:VALUE|TYPE[|@RATE][|#TAGS]`, and their packing into datagrams of
//! whole lines separated by newlines (which statsd, DogStatsD and Telegraf all read).

use std::io::Write;

/// A datagram grows to at most this many bytes (one line alone may be longer): under the
/// Ethernet MTU, so no datagram is fragmented on its way to a statsd on another host.
pub(super) const MAX_DATAGRAM: usize = 1400;

/// The lines of one flush, packed into datagrams as they are added.
#[derive(Debug)]
pub(super) struct Packer {
    /// `statsd_prefix` with one dot after it, or empty.
    prefix: String,
    /// `|#` and `dogstatsd_tags`, or empty.
    tags: String,
    /// The datagrams, one after the other.
    buf: Vec<u8>,
    /// Where each datagram but the last ends in `buf`.
    ends: Vec<usize>,
    /// The line being added.
    line: Vec<u8>,
}

/// gunicorn's rule: a prefix is followed by exactly one dot, whatever dots it ends with.
fn prefix_with_dot(prefix: &str) -> String {
    match prefix.trim_end_matches('.') {
        "" => String::new(),
        p => format!("{p}."),
    }
}

impl Packer {
    pub(super) fn new(prefix: &str, tags: &str) -> Packer {
        Packer {
            prefix: prefix_with_dot(prefix),
            tags: if tags.is_empty() {
                String::new()
            } else {
                format!("|#{tags}")
            },
            buf: Vec::with_capacity(MAX_DATAGRAM),
            ends: Vec::new(),
            line: Vec::with_capacity(128),
        }
    }

    /// `NAME:N|c`: the count since the last flush (one line for many increments).
    pub(super) fn counter(&mut self, name: &str, n: u64) {
        self.line.clear();
        let _ = write!(self.line, "{}{name}:{n}|c", self.prefix);
        self.push();
    }

    /// `gunicorn.request.status.CODE:N|c`.
    pub(super) fn status_counter(&mut self, status: u16, n: u64) {
        self.line.clear();
        let _ = write!(self.line, "{}gunicorn.request.status.{status}:{n}|c", self.prefix);
        self.push();
    }

    /// `NAME:V|g`.
    pub(super) fn gauge(&mut self, name: &str, value: u64) {
        self.line.clear();
        let _ = write!(self.line, "{}{name}:{value}|g", self.prefix);
        self.push();
    }

    /// `NAME:V|h`, a histogram sample (gunicorn's `gunicorn.backlog`).
    pub(super) fn histogram(&mut self, name: &str, value: u64) {
        self.line.clear();
        let _ = write!(self.line, "{}{name}:{value}|h", self.prefix);
        self.push();
    }

    /// `NAME:MS|ms`, with `|@RATE` when only that fraction of the timings is sent.
    pub(super) fn timer(&mut self, name: &str, ms: f64, rate: f64) {
        self.line.clear();
        let _ = write!(self.line, "{}{name}:{ms:.3}|ms", self.prefix);
        if rate < 1.0 {
            let _ = write!(self.line, "|@{rate:.6}");
        }
        self.push();
    }

    fn push(&mut self) {
        self.line.extend_from_slice(self.tags.as_bytes());
        let start = self.ends.last().copied().unwrap_or(0);
        let current = self.buf.len() - start;
        if current > 0 && current + 1 + self.line.len() > MAX_DATAGRAM {
            self.ends.push(self.buf.len());
        } else if current > 0 {
            self.buf.push(b'\n');
        }
        self.buf.extend_from_slice(&self.line);
    }

    /// The datagrams to send, in order.
    pub(super) fn datagrams(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends
            .iter()
            .copied()
            .chain(std::iter::once(self.buf.len()))
            .map(move |end| {
                let d = &self.buf[start..end];
                start = end;
                d
            })
            .filter(|d| !d.is_empty())
    }

    /// Forgets the lines sent; keeps the memory.
    pub(super) fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(p: &Packer) -> Vec<String> {
        p.datagrams().map(|d| String::from_utf8(d.to_vec()).unwrap()).collect()
    }

    #[test]
    fn lines_have_gunicorns_names_types_prefix_and_tags() {
        let mut p = Packer::new("", "");
        p.counter("gunicorn.requests", 3);
        p.status_counter(404, 2);
        p.gauge("gunicorn.workers", 4);
        p.timer("gunicorn.request.duration", 12.3456, 1.0);
        p.timer("gunicorn.request.duration", 0.5, 0.25);
        p.histogram("gunicorn.backlog", 7);
        assert_eq!(
            sent(&p),
            [
                "gunicorn.requests:3|c\ngunicorn.request.status.404:2|c\ngunicorn.workers:4|g\n\
              gunicorn.request.duration:12.346|ms\ngunicorn.request.duration:0.500|ms|@0.250000\n\
              gunicorn.backlog:7|h"
            ]
        );

        for prefix in ["app", "app.", "app..."] {
            let mut p = Packer::new(prefix, "env:prod,role:web");
            p.counter("gunicorn.requests", 1);
            assert_eq!(sent(&p), ["app.gunicorn.requests:1|c|#env:prod,role:web"], "{prefix}");
        }
        let mut p = Packer::new("...", "");
        p.gauge("gunicorn.workers", 1);
        assert_eq!(sent(&p), ["gunicorn.workers:1|g"], "a prefix of dots only is none");
    }

    #[test]
    fn datagrams_hold_whole_lines_up_to_the_limit() {
        let mut p = Packer::new("app", "");
        assert_eq!(p.datagrams().count(), 0, "nothing to send");
        for _ in 0..1000 {
            p.timer("gunicorn.request.duration", 1.0, 1.0);
        }
        let line = "app.gunicorn.request.duration:1.000|ms";
        let per = (MAX_DATAGRAM + 1) / (line.len() + 1);
        let datagrams = sent(&p);
        assert_eq!(datagrams.len(), 1000usize.div_ceil(per));
        let mut lines = 0;
        for d in &datagrams {
            assert!(d.len() <= MAX_DATAGRAM, "{}", d.len());
            assert!(d.split('\n').all(|l| l == line), "whole lines only: {d:?}");
            lines += d.split('\n').count();
        }
        assert_eq!(lines, 1000);
        assert_eq!(datagrams[0].split('\n').count(), per, "full datagrams");

        // A line longer than a datagram goes alone; the next starts a new one.
        let mut p = Packer::new(&"x".repeat(MAX_DATAGRAM), "");
        p.counter("gunicorn.requests", 1);
        p.counter("gunicorn.requests", 2);
        let datagrams = sent(&p);
        assert_eq!(datagrams.len(), 2);
        assert!(datagrams[1].ends_with("gunicorn.requests:2|c"));

        p.clear();
        assert_eq!(p.datagrams().count(), 0);
        p.gauge("g", 1);
        assert_eq!(p.datagrams().count(), 1, "reusable after a clear");
    }
}
