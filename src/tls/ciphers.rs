//! The `ciphers` setting: OpenSSL's (and so gunicorn's) names of the cipher suites rustls has,
//! parsed into the suites a server offers; and the name `SSL_CIPHER` reports for a suite.

use rustls::crypto::ring::cipher_suite as suite;
use rustls::{CipherSuite, SupportedCipherSuite};

/// Every suite forkhorn can offer: OpenSSL's name, the IANA name, the suite.
const SUITES: [(&str, &str, SupportedCipherSuite); 9] = [
    (
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_128_GCM_SHA256",
        suite::TLS13_AES_128_GCM_SHA256,
    ),
    (
        "TLS_AES_256_GCM_SHA384",
        "TLS_AES_256_GCM_SHA384",
        suite::TLS13_AES_256_GCM_SHA384,
    ),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_CHACHA20_POLY1305_SHA256",
        suite::TLS13_CHACHA20_POLY1305_SHA256,
    ),
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// Why a `ciphers` value cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CipherError {
    /// A name that is not one of [`SUITES`].
    #[error("{0:?} is not a cipher suite forkhorn's TLS has (it has {list})", list = known())]
    FindSuite(String),
    /// Nothing but separators.
    #[error("the list names no cipher suite")]
    NameAny,
}

fn known() -> String {
    SUITES.iter().map(|s| s.0).collect::<Vec<_>>().join(", ")
}

/// The suites a `ciphers` value names, in its order (the server's preference). Names are
/// OpenSSL's or IANA's, separated by `:`, `,` or spaces. As in OpenSSL, where the list names
/// only TLS 1.2 suites, every TLS 1.3 suite stays on (OpenSSL sets those apart, and gunicorn's
/// `ciphers` never reaches them); `None`: every suite, rustls' order.
pub fn parse(list: Option<&str>) -> Result<Vec<SupportedCipherSuite>, CipherError> {
    let Some(list) = list else {
        return Ok(SUITES.iter().map(|s| s.2).collect());
    };
    let mut out: Vec<SupportedCipherSuite> = Vec::new();
    for name in list.split([':', ',', ' ']).filter(|n| !n.is_empty()) {
        let found = SUITES
            .iter()
            .find(|s| s.0.eq_ignore_ascii_case(name) || s.1.eq_ignore_ascii_case(name))
            .ok_or_else(|| CipherError::FindSuite(name.to_owned()))?;
        if !out.iter().any(|s| s.suite() == found.2.suite()) {
            out.push(found.2);
        }
    }
    if out.is_empty() {
        return Err(CipherError::NameAny);
    }
    if !out.iter().any(|s| matches!(s, SupportedCipherSuite::Tls13(_))) {
        out.extend(
            SUITES
                .iter()
                .map(|s| s.2)
                .filter(|s| matches!(s, SupportedCipherSuite::Tls13(_))),
        );
    }
    Ok(out)
}

/// OpenSSL's name of a suite, as nginx's `$ssl_cipher` and Apache's `SSL_CIPHER` give it.
pub fn openssl_name(cs: CipherSuite) -> &'static str {
    SUITES
        .iter()
        .find(|s| s.2.suite() == cs)
        .map(|s| s.0)
        .unwrap_or("UNKNOWN")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &str) -> Result<Vec<&'static str>, CipherError> {
        Ok(parse(Some(list))?.iter().map(|s| openssl_name(s.suite())).collect())
    }

    #[test]
    fn lists_table() {
        assert_eq!(
            names("TLS_AES_256_GCM_SHA384:ECDHE-RSA-AES128-GCM-SHA256").unwrap(),
            ["TLS_AES_256_GCM_SHA384", "ECDHE-RSA-AES128-GCM-SHA256"]
        );
        // Only TLS 1.2 names: TLS 1.3 stays on, after them.
        assert_eq!(
            names("ecdhe-ecdsa-aes256-gcm-sha384, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256").unwrap(),
            [
                "ECDHE-ECDSA-AES256-GCM-SHA384",
                "ECDHE-RSA-CHACHA20-POLY1305",
                "TLS_AES_128_GCM_SHA256",
                "TLS_AES_256_GCM_SHA384",
                "TLS_CHACHA20_POLY1305_SHA256"
            ]
        );
        assert_eq!(names("TLS_AES_128_GCM_SHA256 TLS_AES_128_GCM_SHA256").unwrap().len(), 1);
        assert_eq!(
            names("ECDHE-RSA-AES128-GCM-SHA256:RC4-MD5"),
            Err(CipherError::FindSuite("RC4-MD5".into()))
        );
        assert_eq!(names(" : "), Err(CipherError::NameAny));
        assert_eq!(parse(None).unwrap().len(), SUITES.len());
        assert!(CipherError::FindSuite("HIGH".into())
            .to_string()
            .contains("ECDHE-RSA-AES128-GCM-SHA256"));
    }
}
