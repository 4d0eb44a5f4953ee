//! Entries of an [`AllowIps`] list (`forwarded_allow_ips`, `proxy_allow_ips`): `*`, an IP
//! address or a CIDR network, parsed and printed back.

use super::AllowIps;
use std::net::IpAddr;

/// One parsed entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    /// `*`: any peer.
    Any,
    /// An address with its prefix length (the full length for a plain address).
    Net(IpAddr, u8),
}

/// Parses one entry; the error says why in a few words.
pub(crate) fn entry(text: &str) -> Result<Entry, String> {
    if text == "*" {
        return Ok(Entry::Any);
    }
    let (addr, len) = match text.split_once('/') {
        Some((addr, len)) => (addr, Some(len)),
        None => (text, None),
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| "not an IP address, CIDR network or *".to_owned())?;
    let full = full_length(ip);
    let len = match len {
        None => full,
        Some(len) => match len.parse::<u8>() {
            Ok(n) if n <= full && len.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err(format!("the prefix length must be an integer from 0 to {full}")),
        },
    };
    // Python's ip_network (which gunicorn uses) refuses host bits too: `10.0.0.1/8` is more
    // likely a typo for one host than a way to write `10.0.0.0/8`.
    if masked(ip, len) != ip {
        return Err(format!("host bits are set (the network is {}/{len})", masked(ip, len)));
    }
    Ok(Entry::Net(ip, len))
}

/// Collects parsed entries: `*` anywhere means any peer, and then the networks do not matter.
pub(crate) fn collect(entries: impl IntoIterator<Item = Entry>) -> AllowIps {
    let mut set = AllowIps::default();
    for e in entries {
        match e {
            Entry::Any => set.any = true,
            Entry::Net(ip, len) => set.nets.push((ip, len)),
        }
    }
    if set.any {
        set.nets.clear();
    }
    set
}

/// The entries as [`entry`] reads them back: `*`, `ADDR` for one host, `ADDR/LEN` otherwise.
pub(crate) fn show(set: &AllowIps) -> Vec<String> {
    if set.any {
        return vec!["*".to_owned()];
    }
    set.nets
        .iter()
        .map(|&(ip, len)| {
            if len == full_length(ip) {
                ip.to_string()
            } else {
                format!("{ip}/{len}")
            }
        })
        .collect()
}

fn full_length(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// `ip` with every bit after the first `len` cleared.
fn masked(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            IpAddr::from((u32::from(v4) & mask).to_be_bytes())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            IpAddr::from((u128::from(v6) & mask).to_be_bytes())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str, len: u8) -> Entry {
        Entry::Net(s.parse().expect("test address"), len)
    }

    #[test]
    fn good() {
        let cases = [
            ("*", Entry::Any),
            ("127.0.0.1", net("127.0.0.1", 32)),
            ("::1", net("::1", 128)),
            ("10.0.0.0/8", net("10.0.0.0", 8)),
            ("0.0.0.0/0", net("0.0.0.0", 0)),
            ("192.168.1.7/32", net("192.168.1.7", 32)),
            ("fd00::/8", net("fd00::", 8)),
            ("::/0", net("::", 0)),
        ];
        for (text, want) in cases {
            assert_eq!(entry(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn bad() {
        let what = "not an IP address, CIDR network or *";
        let cases = [
            ("", what.to_owned()),
            ("**", what.to_owned()),
            ("localhost", what.to_owned()),
            ("10.0.0", what.to_owned()),
            ("[::1]", what.to_owned()),
            (" 10.0.0.1", what.to_owned()),
            (
                "10.0.0.0/33",
                "the prefix length must be an integer from 0 to 32".to_owned(),
            ),
            (
                "10.0.0.0/",
                "the prefix length must be an integer from 0 to 32".to_owned(),
            ),
            (
                "10.0.0.0/+8",
                "the prefix length must be an integer from 0 to 32".to_owned(),
            ),
            (
                "fd00::/129",
                "the prefix length must be an integer from 0 to 128".to_owned(),
            ),
            ("10.0.0.1/8", "host bits are set (the network is 10.0.0.0/8)".to_owned()),
            ("fd00::1/64", "host bits are set (the network is fd00::/64)".to_owned()),
        ];
        for (text, want) in cases {
            assert_eq!(entry(text), Err(want), "{text:?}");
        }
    }

    #[test]
    fn star_anywhere_means_any() {
        let set = collect([net("10.0.0.0", 8), Entry::Any]);
        assert_eq!(
            set,
            AllowIps {
                any: true,
                nets: vec![]
            }
        );
        assert_eq!(show(&set), ["*"]);
    }

    #[test]
    fn shown_entries_parse_back() {
        let set = collect([net("127.0.0.1", 32), net("fd00::", 8), net("10.0.0.0", 8)]);
        let shown = show(&set);
        assert_eq!(shown, ["127.0.0.1", "fd00::/8", "10.0.0.0/8"]);
        let back: Result<Vec<Entry>, String> = shown.iter().map(|s| entry(s)).collect();
        assert_eq!(collect(back.expect("valid")), set);
        assert_eq!(show(&AllowIps::loopback()), ["127.0.0.1", "::1"]);
    }
}
