//! Calendar arithmetic for the two timestamp formats forkhorn writes: the HTTP `Date` header
//! (IMF-fixdate) and the log line prefix. No time-zone database: both are UTC.

use std::time::{SystemTime, UNIX_EPOCH};

/// A UTC calendar time, to the second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    /// Full year.
    pub year: i64,
    /// 1..=12
    pub month: u32,
    /// 1..=31
    pub day: u32,
    /// 0..=23
    pub hour: u32,
    /// 0..=59
    pub minute: u32,
    /// 0..=59
    pub second: u32,
    /// 0 = Sunday
    pub weekday: u32,
}

impl Civil {
    /// The calendar time of `secs` seconds after the Unix epoch.
    pub fn from_unix(secs: i64) -> Civil {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400) as u32;
        // Howard Hinnant's days-to-civil algorithm.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Civil {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
            weekday: (days + 4).rem_euclid(7) as u32,
        }
    }

    /// The current time.
    pub fn now() -> Civil {
        Civil::from_unix(unix_now())
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 IMF-fixdate).
    pub fn http_date(&self) -> String {
        const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        format!(
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            DAYS[self.weekday as usize],
            self.day,
            MONTHS[self.month as usize - 1],
            self.year,
            self.hour,
            self.minute,
            self.second
        )
    }

    /// `2026-11-20 10:00:00 +0000`, the log line format gunicorn uses.
    pub fn log_stamp(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} +0000",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        let cases: &[(i64, &str, &str)] = &[
            (0, "Thu, 01 Jan 1970 00:00:00 GMT", "1970-01-01 00:00:00 +0000"),
            (
                784_111_777,
                "Sun, 06 Nov 1994 08:49:37 GMT",
                "1994-11-06 08:49:37 +0000",
            ),
            (
                951_782_400,
                "Tue, 29 Feb 2000 00:00:00 GMT",
                "2000-02-29 00:00:00 +0000",
            ),
            (
                1_795_168_800,
                "Fri, 20 Nov 2026 10:00:00 GMT",
                "2026-11-20 10:00:00 +0000",
            ),
        ];
        for &(secs, http, log) in cases {
            let c = Civil::from_unix(secs);
            assert_eq!(c.http_date(), http, "{secs}");
            assert_eq!(c.log_stamp(), log, "{secs}");
        }
    }
}
