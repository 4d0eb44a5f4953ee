//! The few fields of an X.509 certificate forkhorn reads itself: the validity period (checked
//! when the configuration is loaded) and the subject (`SSL_CLIENT_S_DN`). A pure DER walk over
//! RFC 5280's `TBSCertificate`; everything else in a certificate is rustls' and webpki's.

use std::fmt::Write;

/// DER tags used here.
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
/// `[0] EXPLICIT Version` of a v2/v3 certificate.
const VERSION: u8 = 0xa0;

/// One DER element: its tag, its content, and the bytes after it. None: truncated or a length
/// form DER forbids.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        0..=0x7f => (first as usize, rest),
        0x81..=0x84 => {
            let n = (first & 0x7f) as usize;
            let (bytes, rest) = (rest.get(..n)?, &rest[n..]);
            (bytes.iter().fold(0usize, |acc, &b| (acc << 8) | b as usize), rest)
        }
        _ => return None,
    };
    let content = rest.get(..len)?;
    Some((tag, content, &rest[len..]))
}

/// The content of an element that must have `tag`, and the bytes after it.
fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, content, rest) = element(input)?;
    (t == tag).then_some((content, rest))
}

/// The parts of a certificate read here.
#[derive(Debug, PartialEq, Eq)]
pub struct CertFields<'a> {
    /// notBefore, seconds since the Unix epoch.
    pub not_before: i64,
    /// notAfter, seconds since the Unix epoch.
    pub not_after: i64,
    /// The subject `Name` (a DER SEQUENCE's content).
    pub subject: &'a [u8],
}

/// Reads the validity and subject of a DER certificate. None: not a certificate.
pub fn cert_fields(der: &[u8]) -> Option<CertFields<'_>> {
    let (cert, _) = expect(der, SEQUENCE)?;
    let (tbs, _) = expect(cert, SEQUENCE)?;
    let mut rest = tbs;
    if rest.first() == Some(&VERSION) {
        rest = element(rest)?.2;
    }
    // serialNumber, signature, issuer.
    for _ in 0..3 {
        rest = element(rest)?.2;
    }
    let (validity, rest) = expect(rest, SEQUENCE)?;
    let (subject, _) = expect(rest, SEQUENCE)?;
    let (t1, c1, after) = element(validity)?;
    let (t2, c2, _) = element(after)?;
    Some(CertFields {
        not_before: time(t1, c1)?,
        not_after: time(t2, c2)?,
        subject,
    })
}

/// An X.509 `Time` (UTCTime `YYMMDDHHMMSSZ`, or GeneralizedTime `YYYYMMDDHHMMSSZ`) as seconds
/// since the Unix epoch.
fn time(tag: u8, text: &[u8]) -> Option<i64> {
    let digits = text.strip_suffix(b"Z")?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let num = |s: &[u8]| s.iter().fold(0i64, |acc, &d| acc * 10 + (d - b'0') as i64);
    let (year, rest) = match (tag, digits.len()) {
        // RFC 5280 §4.1.2.5.1: two-digit years 50-99 are 19YY, 00-49 are 20YY.
        (UTC_TIME, 12) => {
            let yy = num(&digits[..2]);
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &digits[2..])
        }
        (GENERALIZED_TIME, 14) => (num(&digits[..4]), &digits[4..]),
        _ => return None,
    };
    let (month, day) = (num(&rest[0..2]), num(&rest[2..4]));
    let (h, m, s) = (num(&rest[4..6]), num(&rest[6..8]), num(&rest[8..10]));
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86400 + h * 3600 + m * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// A date as `YYYY-MM-DD HH:MM:SS UTC`, for error messages.
pub fn show_time(t: i64) -> String {
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    // Inverse of days_from_civil.
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Short names of the attribute types nginx and Apache print (OpenSSL's), by DER-encoded OID.
const NAMES: &[(&[u8], &str)] = &[
    (&[0x55, 0x04, 0x03], "CN"),
    (&[0x55, 0x04, 0x05], "serialNumber"),
    (&[0x55, 0x04, 0x06], "C"),
    (&[0x55, 0x04, 0x07], "L"),
    (&[0x55, 0x04, 0x08], "ST"),
    (&[0x55, 0x04, 0x09], "street"),
    (&[0x55, 0x04, 0x0a], "O"),
    (&[0x55, 0x04, 0x0b], "OU"),
    (&[0x55, 0x04, 0x0c], "title"),
    (&[0x55, 0x04, 0x2a], "GN"),
    (&[0x55, 0x04, 0x04], "SN"),
    (&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01], "emailAddress"),
    (&[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19], "DC"),
    (&[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01], "UID"),
];

/// A `Name` (the content of its SEQUENCE) in RFC 4514 form, as nginx's `$ssl_client_s_dn`:
/// the last RDN first, `,` between RDNs, `+` inside a multi-valued one. Attribute types
/// without a short name are written as dotted OIDs with the value's DER in hex (`#...`).
/// Special and non-printable characters are escaped, so the text is one printable line.
/// None: not a valid Name.
pub fn name_text(name: &[u8]) -> Option<String> {
    let mut rdns = Vec::new();
    let mut rest = name;
    while !rest.is_empty() {
        let (set, after) = expect(rest, SET)?;
        rdns.push(set);
        rest = after;
    }
    let mut out = String::new();
    for (i, set) in rdns.iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let mut atvs = *set;
        let mut first = true;
        while !atvs.is_empty() {
            let (atv, after) = expect(atvs, SEQUENCE)?;
            atvs = after;
            if !first {
                out.push('+');
            }
            first = false;
            let (oid, value_der) = expect(atv, OID)?;
            let (tag, value, _) = element(value_der)?;
            match NAMES.iter().find(|(o, _)| *o == oid) {
                Some((_, short)) if is_string(tag) => {
                    out.push_str(short);
                    out.push('=');
                    escape_value(&mut out, value);
                }
                _ => {
                    out.push_str(&dotted(oid)?);
                    out.push_str("=#");
                    for b in value_der {
                        let _ = write!(out, "{b:02x}");
                    }
                }
            }
        }
    }
    Some(out)
}

/// The ASN.1 string types an attribute value is written as text for.
fn is_string(tag: u8) -> bool {
    // UTF8String, PrintableString, T61String, IA5String, BMPString is not ASCII-compatible.
    matches!(tag, 0x0c | 0x13 | 0x14 | 0x16)
}

/// RFC 4514 §2.4 escaping; bytes outside printable ASCII are written `\XX` so that the value
/// can go into a header or a log line as it is.
fn escape_value(out: &mut String, value: &[u8]) {
    let last = value.len().saturating_sub(1);
    for (i, &b) in value.iter().enumerate() {
        let special = matches!(b, b',' | b'+' | b'"' | b'\\' | b'<' | b'>' | b';' | b'=')
            || (i == 0 && (b == b'#' || b == b' '))
            || (i == last && b == b' ');
        if special {
            out.push('\\');
            out.push(b as char);
        } else if (0x20..0x7f).contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "\\{b:02X}");
        }
    }
}

/// An OID's content as dotted decimal.
fn dotted(oid: &[u8]) -> Option<String> {
    let (&first, rest) = oid.split_first()?;
    let mut out = format!("{}.{}", first / 40, first % 40);
    let mut acc: u64 = 0;
    for &b in rest {
        acc = acc.checked_mul(128)? | (b & 0x7f) as u64;
        if b & 0x80 == 0 {
            let _ = write!(out, ".{acc}");
            acc = 0;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DER element of `tag` around `content` (short or long length form).
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match content.len() {
            n @ 0..=0x7f => out.push(n as u8),
            n @ 0x80..=0xff => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(content);
        out
    }

    fn atv(oid: &[u8], tag: u8, value: &[u8]) -> Vec<u8> {
        tlv(SET, &tlv(SEQUENCE, &[tlv(OID, oid), tlv(tag, value)].concat()))
    }

    #[test]
    fn times_table() {
        for (tag, text, want) in [
            (UTC_TIME, &b"700101000000Z"[..], Some(0)),
            (UTC_TIME, b"491231235959Z", Some(2524607999)),
            (UTC_TIME, b"500101000000Z", Some(-631152000)),
            (GENERALIZED_TIME, b"20380119031408Z", Some(2147483648)),
            (GENERALIZED_TIME, b"20240229120000Z", Some(1709208000)),
            (UTC_TIME, b"700101000000", None),
            (UTC_TIME, b"701301000000Z", None),
            (GENERALIZED_TIME, b"700101000000Z", None),
            (UTC_TIME, b"70010100000aZ", None),
        ] {
            assert_eq!(time(tag, text), want, "{}", String::from_utf8_lossy(text));
        }
        assert_eq!(show_time(1709208000), "2024-02-29 12:00:00 UTC");
        assert_eq!(show_time(0), "1970-01-01 00:00:00 UTC");
    }

    #[test]
    fn names_are_written_last_rdn_first_and_escaped() {
        let name = [
            atv(&[0x55, 0x04, 0x06], 0x13, b"FR"),
            atv(&[0x55, 0x04, 0x0a], 0x0c, b"Acme, Inc"),
            atv(&[0x55, 0x04, 0x03], 0x0c, b"#client\r\n"),
            atv(&[0x2a, 0x03, 0x04], 0x0c, b"x"),
        ]
        .concat();
        assert_eq!(
            name_text(&name).unwrap(),
            "1.2.3.4=#0c0178,CN=\\#client\\0D\\0A,O=Acme\\, Inc,C=FR"
        );
        assert_eq!(name_text(b"").unwrap(), "");
        assert_eq!(name_text(&[SET, 5, 0]), None, "truncated");
    }

    #[test]
    fn certificate_fields_are_found_after_the_version_and_issuer() {
        let validity = tlv(
            SEQUENCE,
            &[
                tlv(UTC_TIME, b"240101000000Z"),
                tlv(GENERALIZED_TIME, b"20340101000000Z"),
            ]
            .concat(),
        );
        let subject_content = atv(&[0x55, 0x04, 0x03], 0x0c, b"me");
        let tbs = [
            tlv(VERSION, &tlv(0x02, &[2])),
            tlv(0x02, &[1; 20]),
            tlv(SEQUENCE, &tlv(OID, &[0x2a])),
            tlv(SEQUENCE, &atv(&[0x55, 0x04, 0x03], 0x0c, b"issuer")),
            validity,
            tlv(SEQUENCE, &subject_content),
            tlv(SEQUENCE, &[0; 200]),
        ]
        .concat();
        let cert = tlv(SEQUENCE, &[tlv(SEQUENCE, &tbs), tlv(SEQUENCE, &[])].concat());
        let f = cert_fields(&cert).unwrap();
        assert_eq!(f.not_before, 1704067200);
        assert_eq!(f.not_after, 2019686400);
        assert_eq!(name_text(f.subject).unwrap(), "CN=me");
        assert_eq!(cert_fields(&cert[..cert.len() - 1]), None);
        assert_eq!(cert_fields(b"not DER"), None);
    }
}
