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
}
