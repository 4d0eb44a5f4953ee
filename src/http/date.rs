//! The `Date` response header, formatted once per second rather than once per response.

use crate::clock::{unix_now, Civil};

/// A cached `Date` value; [`DateCache::refresh`] re-formats it only when the second changed.
#[derive(Debug)]
pub struct DateCache {
    second: i64,
    value: String,
}

impl Default for DateCache {
    fn default() -> Self {
        let second = unix_now();
        DateCache {
            second,
            value: Civil::from_unix(second).http_date(),
        }
    }
}

impl DateCache {
    /// Brings the cached value up to date with the clock.
    pub fn refresh(&mut self) {
        let now = unix_now();
        if now != self.second {
            self.second = now;
            self.value.clear();
            self.value.push_str(&Civil::from_unix(now).http_date());
        }
    }

    /// The IMF-fixdate of the last refresh.
    pub fn get(&self) -> &str {
        &self.value
    }

    /// A copy of the current value that outlives a later refresh, without allocating.
    pub fn snapshot(&self) -> DateText {
        let mut text = DateText { bytes: [0; 29], len: 0 };
        let n = self.value.len().min(text.bytes.len());
        text.bytes[..n].copy_from_slice(&self.value.as_bytes()[..n]);
        text.len = n;
        text
    }
}

/// A `Date` value held by value (IMF-fixdate is 29 bytes).
#[derive(Clone, Copy, Debug)]
pub struct DateText {
    bytes: [u8; 29],
    len: usize,
}

impl DateText {
    /// The date as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}
