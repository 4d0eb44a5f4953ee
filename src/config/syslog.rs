//! The syslog settings' syntax: `syslog_addr` (gunicorn's `unix://`, `udp://`, `tcp://` forms)
//! and the facility names of `syslog_facility`. Only the syntax: the logging code connects.

/// gunicorn's facility names (syslog(3)'s `LOG_*` without the prefix, lower case).
pub(crate) const FACILITIES: [&str; 20] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp", "local0",
    "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];

/// The facility named `name` (any case), as its canonical lower-case name.
pub(crate) fn facility(name: &str) -> Option<&'static str> {
    FACILITIES.into_iter().find(|f| f.eq_ignore_ascii_case(name))
}

/// Checks `unix://PATH`, `unix://PATH#dgram`, `unix://PATH#stream`, `udp://HOST:PORT` or
/// `tcp://HOST:PORT` (HOST may be `[V6]`); the error says why in a few words.
pub(crate) fn check_addr(text: &str) -> Result<(), String> {
    if let Some(rest) = text.strip_prefix("unix://") {
        let (path, kind) = match rest.rsplit_once('#') {
            Some((path, kind)) => (path, Some(kind)),
            None => (rest, None),
        };
        if path.is_empty() || path.contains('\0') {
            return Err("expected a socket path after unix://".into());
        }
        return match kind {
            None | Some("dgram") | Some("stream") => Ok(()),
            Some(_) => Err("the socket type after '#' must be dgram or stream".into()),
        };
    }
    let netloc = text
        .strip_prefix("udp://")
        .or_else(|| text.strip_prefix("tcp://"))
        .ok_or("expected unix://PATH[#dgram|#stream], udp://HOST:PORT or tcp://HOST:PORT")?;
    let (host, port) = netloc.rsplit_once(':').ok_or("expected HOST:PORT after the scheme")?;
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
    };
    if !host_ok {
        return Err(format!("invalid host {host:?}"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        _ => Err(format!("the port must be an integer from 1 to 65535, got {port:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        for good in [
            "unix:///dev/log",
            "unix:///var/run/syslog#dgram",
            "unix:///run/log.sock#stream",
            "unix://rel/log",
            "udp://localhost:514",
            "udp://10.0.0.1:5514",
            "tcp://log.example.com:601",
            "tcp://[::1]:514",
        ] {
            assert_eq!(check_addr(good), Ok(()), "{good}");
        }
        let scheme = "expected unix://PATH[#dgram|#stream], udp://HOST:PORT or tcp://HOST:PORT";
        let cases = [
            ("", scheme),
            ("/dev/log", scheme),
            ("unix:/dev/log", scheme),
            ("http://x:1", scheme),
            ("unix://", "expected a socket path after unix://"),
            ("unix://#dgram", "expected a socket path after unix://"),
            (
                "unix:///dev/log#raw",
                "the socket type after '#' must be dgram or stream",
            ),
            ("udp://localhost", "expected HOST:PORT after the scheme"),
            ("udp://:514", "invalid host \"\""),
            ("tcp://a b:514", "invalid host \"a b\""),
            ("tcp://::1:514", "invalid host \"::1\""),
            ("tcp://[::g]:514", "invalid host \"[::g]\""),
            ("udp://h:0", "the port must be an integer from 1 to 65535, got \"0\""),
            (
                "udp://h:65536",
                "the port must be an integer from 1 to 65535, got \"65536\"",
            ),
            ("udp://h:+5", "the port must be an integer from 1 to 65535, got \"+5\""),
            ("udp://h:", "the port must be an integer from 1 to 65535, got \"\""),
        ];
        for (text, want) in cases {
            assert_eq!(check_addr(text), Err(want.to_string()), "{text:?}");
        }
    }

    #[test]
    fn facilities() {
        assert_eq!(facility("user"), Some("user"));
        assert_eq!(facility("LOCAL7"), Some("local7"));
        assert_eq!(facility("Daemon"), Some("daemon"));
        for bad in ["", "local8", "users", "security", "LOG_USER"] {
            assert_eq!(facility(bad), None, "{bad}");
        }
    }
}
