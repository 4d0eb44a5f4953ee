//! The PROXY protocol (HAProxy's, versions 1 and 2): the header a load balancer sends before
//! the HTTP request to say who the client really is. Pure parsing over bytes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The v2 signature; v1 starts with `PROXY `.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// The longest v1 line, CRLF included (the specification's limit).
const V1_MAX: usize = 107;

/// What a PROXY header said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyHeader {
    /// The client's address, when the proxy relayed a TCP connection (None for `UNKNOWN` /
    /// `LOCAL` and for address families other than IPv4 and IPv6).
    pub source: Option<SocketAddr>,
    /// The address the client connected to.
    pub destination: Option<SocketAddr>,
    /// 1 or 2.
    pub version: u8,
}

/// A malformed PROXY header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid PROXY protocol header: {0}")]
pub struct ProxyError(pub &'static str);

/// Whether `buf` starts (or could start, if incomplete) with a PROXY header.
pub fn looks_like_proxy(buf: &[u8]) -> bool {
    let n = buf.len().min(6);
    let m = buf.len().min(12);
    buf[..n] == b"PROXY "[..n] || buf[..m] == V2_SIGNATURE[..m]
}

/// Parses a PROXY header at the start of `buf`: `Ok(Some((header, len)))` when complete,
/// `Ok(None)` when more bytes are needed.
pub fn parse(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    if buf.len() >= 12 && buf[..12] == V2_SIGNATURE[..] {
        return parse_v2(buf);
    }
    if buf.starts_with(b"PROXY ") {
        return parse_v1(buf);
    }
    if looks_like_proxy(buf) {
        return Ok(None);
    }
    Err(ProxyError("not a PROXY header"))
}

fn parse_v1(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    let Some(end) = buf.iter().take(V1_MAX).position(|&b| b == b'\n') else {
        return if buf.len() >= V1_MAX {
            Err(ProxyError("v1 line too long"))
        } else {
            Ok(None)
        };
    };
    let line = buf[..end]
        .strip_suffix(b"\r")
        .ok_or(ProxyError("v1 line must end with CRLF"))?;
    let line = std::str::from_utf8(line).map_err(|_| ProxyError("v1 line is not ASCII"))?;
    let parts: Vec<&str> = line.split(' ').collect();
    let header = match parts.as_slice() {
        ["PROXY", "UNKNOWN", ..] => ProxyHeader {
            source: None,
            destination: None,
            version: 1,
        },
        ["PROXY", proto @ ("TCP4" | "TCP6"), src, dst, sport, dport] => {
            let ip = |s: &str| -> Result<IpAddr, ProxyError> {
                let ip: IpAddr = s.parse().map_err(|_| ProxyError("bad v1 address"))?;
                match (*proto, ip) {
                    ("TCP4", IpAddr::V4(_)) | ("TCP6", IpAddr::V6(_)) => Ok(ip),
                    _ => Err(ProxyError("v1 address does not match its family")),
                }
            };
            let port = |s: &str| -> Result<u16, ProxyError> {
                // No sign, no leading zeros: the specification's form only.
                if s.is_empty() || (s.len() > 1 && s.starts_with('0')) || !s.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ProxyError("bad v1 port"));
                }
                s.parse().map_err(|_| ProxyError("bad v1 port"))
            };
            ProxyHeader {
                source: Some(SocketAddr::new(ip(src)?, port(sport)?)),
                destination: Some(SocketAddr::new(ip(dst)?, port(dport)?)),
                version: 1,
            }
        }
        _ => return Err(ProxyError("malformed v1 line")),
    };
    Ok(Some((header, end + 1)))
}

fn parse_v2(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    if buf.len() < 16 {
        return Ok(None);
    }
    let ver_cmd = buf[12];
    let family = buf[13];
    let len = u16::from_be_bytes([buf[14], buf[15]]) as usize;
    if ver_cmd >> 4 != 2 {
        return Err(ProxyError("v2 version must be 2"));
    }
    let total = 16 + len;
    if buf.len() < total {
        return Ok(None);
    }
    let body = &buf[16..total];
    let local = match ver_cmd & 0x0f {
        0 => true,
        1 => false,
        _ => return Err(ProxyError("v2 command must be LOCAL or PROXY")),
    };
    let mut header = ProxyHeader {
        source: None,
        destination: None,
        version: 2,
    };
    if !local {
        match family {
            // TCP or UDP over IPv4.
            0x11 | 0x12 => {
                if body.len() < 12 {
                    return Err(ProxyError("v2 IPv4 addresses truncated"));
                }
                let a = |i: usize| Ipv4Addr::new(body[i], body[i + 1], body[i + 2], body[i + 3]);
                let p = |i: usize| u16::from_be_bytes([body[i], body[i + 1]]);
                header.source = Some(SocketAddr::new(IpAddr::V4(a(0)), p(8)));
                header.destination = Some(SocketAddr::new(IpAddr::V4(a(4)), p(10)));
            }
            0x21 | 0x22 => {
                if body.len() < 36 {
                    return Err(ProxyError("v2 IPv6 addresses truncated"));
                }
                let a = |i: usize| {
                    let mut o = [0u8; 16];
                    o.copy_from_slice(&body[i..i + 16]);
                    Ipv6Addr::from(o)
                };
                let p = |i: usize| u16::from_be_bytes([body[i], body[i + 1]]);
                header.source = Some(SocketAddr::new(IpAddr::V6(a(0)), p(32)));
                header.destination = Some(SocketAddr::new(IpAddr::V6(a(16)), p(34)));
            }
            // UNSPEC, Unix sockets: no IP addresses to report.
            _ => {}
        }
    }
    Ok(Some((header, total)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
        let mut v = V2_SIGNATURE.to_vec();
        v.push(0x20 | cmd);
        v.push(fam);
        v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn v1_table() {
        let ok: &[(&[u8], Option<&str>, usize)] = &[
            (
                b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET /",
                Some("192.168.0.1:56324"),
                47,
            ),
            (b"PROXY TCP6 ::1 ::2 1 2\r\n", Some("[::1]:1"), 24),
            (b"PROXY UNKNOWN\r\n", None, 15),
            (b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", None, 35),
        ];
        for (raw, src, len) in ok {
            let (h, n) = parse(raw).unwrap().unwrap();
            assert_eq!(h.source.map(|s| s.to_string()).as_deref(), *src);
            assert_eq!(n, *len, "{}", String::from_utf8_lossy(raw));
        }
        let bad: &[&[u8]] = &[
            b"PROXY TCP4 192.168.0.1 192.168.0.11 56324\r\n",
            b"PROXY TCP4 ::1 ::2 1 2\r\n",
            b"PROXY TCP6 1.2.3.4 1.2.3.5 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 1.2.3.5 65536 2\r\n",
            b"PROXY TCP4 1.2.3.4 1.2.3.5 -1 2\r\n",
            b"PROXY TCP4 1.2.3.4 1.2.3.5 01 2\r\n",
            b"PROXY TCP4 1.2.3.4  1.2.3.5 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 1.2.3.5 1 2\n",
            b"PROXY UDP4 1.2.3.4 1.2.3.5 1 2\r\n",
            b"GET / HTTP/1.1\r\n",
        ];
        for raw in bad {
            assert!(parse(raw).is_err(), "{}", String::from_utf8_lossy(raw));
        }
        let long = [b"PROXY ".as_slice(), &[b'x'; 200]].concat();
        assert!(parse(&long).is_err());
        // Incomplete headers ask for more.
        for raw in [&b"PRO"[..], b"PROXY TCP4 1.2.3.4", b"\r\n\r\n\0\r"] {
            assert_eq!(parse(raw), Ok(None), "{}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn v2_table() {
        let mut v4 = vec![10, 0, 0, 1, 10, 0, 0, 2];
        v4.extend_from_slice(&1234u16.to_be_bytes());
        v4.extend_from_slice(&80u16.to_be_bytes());
        let raw = v2(1, 0x11, &v4);
        let (h, n) = parse(&raw).unwrap().unwrap();
        assert_eq!(
            (h.source.unwrap().to_string().as_str(), n, h.version),
            ("10.0.0.1:1234", 28, 2)
        );
        assert_eq!(h.destination.unwrap().to_string(), "10.0.0.2:80");
        let mut v6 = [0u8; 36].to_vec();
        v6[15] = 1;
        v6[32..34].copy_from_slice(&9u16.to_be_bytes());
        let (h, _) = parse(&v2(1, 0x21, &v6)).unwrap().unwrap();
        assert_eq!(h.source.unwrap().to_string(), "[::1]:9");
        // LOCAL: a health check from the proxy itself; no addresses.
        let (h, n) = parse(&v2(0, 0x00, &[])).unwrap().unwrap();
        assert_eq!((h.source, n), (None, 16));
        // TLVs after the addresses are skipped with the length.
        let mut tlv = v4.clone();
        tlv.extend_from_slice(&[0x04, 0x00, 0x01, 0xaa]);
        assert_eq!(parse(&v2(1, 0x11, &tlv)).unwrap().unwrap().1, 32);
        // Truncated, bad version, bad command, short addresses.
        assert_eq!(parse(&raw[..20]), Ok(None));
        let mut bad = raw.clone();
        bad[12] = 0x11;
        assert!(parse(&bad).is_err());
        bad[12] = 0x2f;
        assert!(parse(&bad).is_err());
        assert!(parse(&v2(1, 0x11, &v4[..6])).is_err());
    }
}
