//! Listening addresses as written in `bind` / `-b`: parsing into [`BindAddr`] and printing back.
//!
//! The forms are gunicorn's: `HOST:PORT`, `[V6]:PORT`, `HOST` (port 8000), `:PORT` (all IPv4
//! interfaces), an optional `tcp://` prefix, `unix:PATH` (or `unix://PATH`) and `fd://N`. Host
//! names are looked up through an injected [`Resolve`] so that parsing itself does no I/O.

use super::BindAddr;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

/// The port gunicorn listens on when an address names none.
const DEFAULT_PORT: u16 = 8000;

/// `sun_path` holds 108 bytes on Linux, one of them the terminating NUL.
const MAX_UNIX_PATH: usize = 107;

/// Looks up a host name, returning the one address to bind or why there is none.
pub(crate) type Resolve<'a> = &'a dyn Fn(&str, u16) -> Result<SocketAddr, String>;

/// Parses one address. The error says why, in a few words, for `"ADDR" is not a valid address
/// (WHY)`.
pub(crate) fn parse(text: &str, resolve: Resolve<'_>) -> Result<BindAddr, String> {
    if let Some(path) = text.strip_prefix("unix:") {
        // gunicorn accepts `unix://PATH` too, and reads `unix://run/x.sock` as a relative path.
        let path = path.strip_prefix("//").unwrap_or(path);
        return unix(path);
    }
    if let Some(fd) = text.strip_prefix("fd://") {
        // Digits only: `parse` alone would also take `+3`.
        return match fd.parse::<i32>() {
            Ok(n) if fd.bytes().all(|b| b.is_ascii_digit()) => Ok(BindAddr::Fd(n)),
            _ => Err("the file descriptor must be a non-negative integer".into()),
        };
    }
    let netloc = text.strip_prefix("tcp://").unwrap_or(text);
    if netloc.is_empty() {
        return Err("empty address".into());
    }
    if let Some(rest) = netloc.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("missing ']' after the IPv6 address")?;
        let ip: Ipv6Addr = host.parse().map_err(|_| "invalid IPv6 address")?;
        let port = match after {
            "" => DEFAULT_PORT,
            _ => port(after.strip_prefix(':').ok_or("unexpected text after ']'")?)?,
        };
        return Ok(BindAddr::Tcp(SocketAddr::new(IpAddr::V6(ip), port)));
    }
    let (host, port) = match netloc.rsplit_once(':') {
        Some((host, _)) if host.contains(':') => {
            return Err("an IPv6 address needs brackets, as in [::1]:8000".into());
        }
        Some((host, p)) => (host, port(p)?),
        None => (netloc, DEFAULT_PORT),
    };
    if host.is_empty() {
        // Python binds "" to INADDR_ANY, so gunicorn's `:PORT` means every IPv4 interface.
        return Ok(BindAddr::Tcp(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)));
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(BindAddr::Tcp(SocketAddr::new(IpAddr::V4(ip), port)));
    }
    if !is_host_name(host) {
        return Err("invalid host name".into());
    }
    resolve(host, port)
        .map(BindAddr::Tcp)
        .map_err(|e| format!("cannot resolve host: {e}"))
}

fn unix(path: &str) -> Result<BindAddr, String> {
    if path.is_empty() {
        return Err("empty socket path".into());
    }
    if path.contains('\0') {
        return Err("NUL byte in socket path".into());
    }
    if path.len() > MAX_UNIX_PATH {
        return Err(format!("socket path longer than {MAX_UNIX_PATH} bytes"));
    }
    Ok(BindAddr::Unix(PathBuf::from(path)))
}

fn port(text: &str) -> Result<u16, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid port {text:?}"));
    }
    text.parse().map_err(|_| "port out of range".into())
}

/// Letters, digits, '-' and '_' in dot-separated labels: enough to refuse typos such as spaces
/// before a lookup, without second-guessing the resolver.
fn is_host_name(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl fmt::Display for BindAddr {
    /// The form the address parser reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindAddr::Tcp(sa) => write!(f, "{sa}"),
            BindAddr::Unix(path) => write!(f, "unix:{}", path.display()),
            BindAddr::Fd(fd) => write!(f, "fd://{fd}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A resolver that knows two names, so tests never touch DNS.
    fn fake(host: &str, port: u16) -> Result<SocketAddr, String> {
        match host {
            "localhost" => Ok(SocketAddr::from(([127, 0, 0, 1], port))),
            "web.example" => Ok(SocketAddr::from(([10, 0, 0, 7], port))),
            _ => Err("Name or service not known".into()),
        }
    }

    fn tcp(s: &str) -> BindAddr {
        BindAddr::Tcp(s.parse().expect("test address"))
    }

    #[test]
    fn good() {
        let cases = [
            ("127.0.0.1:8000", tcp("127.0.0.1:8000")),
            ("0.0.0.0:0", tcp("0.0.0.0:0")),
            ("127.0.0.1", tcp("127.0.0.1:8000")),
            (":9000", tcp("0.0.0.0:9000")),
            ("tcp://127.0.0.1:80", tcp("127.0.0.1:80")),
            ("[::1]:8080", tcp("[::1]:8080")),
            ("[::]:0", tcp("[::]:0")),
            ("[fe80::1]", tcp("[fe80::1]:8000")),
            ("localhost:5000", tcp("127.0.0.1:5000")),
            ("localhost", tcp("127.0.0.1:8000")),
            ("web.example:65535", tcp("10.0.0.7:65535")),
            ("unix:/run/forkhorn.sock", BindAddr::Unix("/run/forkhorn.sock".into())),
            ("unix://run/x.sock", BindAddr::Unix("run/x.sock".into())),
            ("unix:///run/x.sock", BindAddr::Unix("/run/x.sock".into())),
            ("unix:rel.sock", BindAddr::Unix("rel.sock".into())),
            ("fd://3", BindAddr::Fd(3)),
            ("fd://0", BindAddr::Fd(0)),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text, &fake), Ok(want), "{text}");
        }
    }

    #[test]
    fn bad() {
        let long = format!("unix:/{}", "x".repeat(107));
        let cases = [
            ("", "empty address"),
            ("127.0.0.1:99999", "port out of range"),
            ("127.0.0.1:65536", "port out of range"),
            ("127.0.0.1:", "invalid port \"\""),
            ("127.0.0.1:http", "invalid port \"http\""),
            ("127.0.0.1:-1", "invalid port \"-1\""),
            ("::1", "an IPv6 address needs brackets, as in [::1]:8000"),
            ("::1:80", "an IPv6 address needs brackets, as in [::1]:8000"),
            ("[::1", "missing ']' after the IPv6 address"),
            ("[::g]:80", "invalid IPv6 address"),
            ("[127.0.0.1]:80", "invalid IPv6 address"),
            ("[::1]80", "unexpected text after ']'"),
            ("[::1]:x", "invalid port \"x\""),
            ("my host:80", "invalid host name"),
            ("a..b:80", "invalid host name"),
            ("nosuch.invalid:80", "cannot resolve host: Name or service not known"),
            ("unix:", "empty socket path"),
            ("unix://", "empty socket path"),
            ("unix:/a\0b", "NUL byte in socket path"),
            (long.as_str(), "socket path longer than 107 bytes"),
            ("fd://", "the file descriptor must be a non-negative integer"),
            ("fd://-1", "the file descriptor must be a non-negative integer"),
            ("fd://+3", "the file descriptor must be a non-negative integer"),
            ("fd://x", "the file descriptor must be a non-negative integer"),
            ("fd://99999999999", "the file descriptor must be a non-negative integer"),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text, &fake), Err(want.to_string()), "{text:?}");
        }
    }

    #[test]
    fn display_parses_back() {
        for text in [
            "127.0.0.1:8000",
            "[::1]:0",
            "unix:/run/x.sock",
            "unix:rel.sock",
            "fd://5",
        ] {
            let addr = parse(text, &fake).expect("valid");
            assert_eq!(addr.to_string(), text);
            assert_eq!(parse(&addr.to_string(), &fake), Ok(addr));
        }
    }
}
