//! TLS for the TCP listeners: the certificate, key and CA files read and checked into one rustls
//! `ServerConfig` ([`Acceptor::load`], in the master, before anything is bound and at each HUP),
//! and what a finished handshake tells the application ([`Facts`]).
//!
//! - `ciphers` is the `ciphers` setting (OpenSSL's names);
//! - `der` reads a certificate's validity and subject;
//! - `ticket` makes session tickets every worker of a generation can open.
//!
//! The worker's side, a rustls connection driven by the event loop, is `worker::tls`.

mod ciphers;
mod der;
mod ticket;

use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ServerConnection, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Whether clients present certificates: gunicorn's `cert_reqs` (Python's `ssl.CERT_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientCerts {
    /// 0, `CERT_NONE`: none is asked for.
    None,
    /// 1, `CERT_OPTIONAL`: asked for; a client without one is served, one with a certificate
    /// that does not verify against `ca_certs` is refused.
    Optional,
    /// 2, `CERT_REQUIRED`: a client without a valid certificate is refused at the handshake.
    Required,
}

/// The TLS settings, as the configuration gives them.
#[derive(Clone, Copy, Debug)]
pub struct Settings<'a> {
    /// `certfile`: the certificate chain, leaf first (PEM).
    pub certfile: &'a Path,
    /// `keyfile`: the private key (PEM); gunicorn reads it from `certfile` when unset.
    pub keyfile: &'a Path,
    /// `ca_certs`: the CAs that sign client certificates (PEM).
    pub ca_certs: Option<&'a Path>,
    /// `cert_reqs`.
    pub client_certs: ClientCerts,
    /// `ciphers`.
    pub ciphers: Option<&'a str>,
}

/// Why the TLS files cannot be used. Each message names the setting and the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("{key} {}: cannot read: {source}", path.display())]
    ReadFile {
        /// The setting.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not PEM, or holds none of what it should.
    #[error("{key} {}: {what}", path.display())]
    ParsePem {
        /// The setting.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// The key is encrypted: nothing can ask for its passphrase.
    #[error(
        "keyfile {}: the private key is encrypted, and forkhorn does not ask for passphrases; \
         decrypt it (openssl pkey -in KEY -out PLAIN) and protect the file instead",
        path.display()
    )]
    DecryptKey {
        /// The file.
        path: PathBuf,
    },
    /// The key is not one rustls can sign with.
    #[error("keyfile {}: unusable private key: {source}", path.display())]
    LoadKey {
        /// The file.
        path: PathBuf,
        /// rustls' reason.
        source: rustls::Error,
    },
    /// The key is not the certificate's.
    #[error("keyfile {}: the private key does not belong to the certificate in {}", key.display(), cert.display())]
    MatchKey {
        /// The key file.
        key: PathBuf,
        /// The certificate file.
        cert: PathBuf,
    },
    /// The certificate's validity period does not include now.
    #[error("certfile {}: the certificate {when}", path.display())]
    CheckValidity {
        /// The file.
        path: PathBuf,
        /// "expired on ..." or "is not valid before ...".
        when: String,
    },
    /// `keyfile` without `certfile`.
    #[error("keyfile is set but certfile is not: TLS needs the certificate too")]
    FindCertfile,
    /// `cert_reqs` 1 or 2 without `ca_certs`.
    #[error("cert_reqs {0}: client certificates need ca_certs, the CA certificates that sign them")]
    FindCa(u8),
    /// The CA file gives no usable trust anchor.
    #[error("ca_certs {}: {what}", path.display())]
    LoadCa {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// `ciphers` names something rustls does not have.
    #[error("ciphers: {0}")]
    ParseCiphers(#[from] ciphers::CipherError),
    /// The system's random source failed.
    #[error("cannot draw the session-ticket secret from the system's random source")]
    DrawSecret,
    /// rustls refused the combination.
    #[error("cannot set up TLS: {0}")]
    BuildConfig(rustls::Error),
}

/// A checked TLS configuration: what every TLS connection of a generation starts from. Made
/// in the master and inherited by the workers across fork (with it, the session-ticket keys).
#[derive(Clone)]
pub struct Acceptor {
    /// rustls' server configuration.
    pub config: Arc<ServerConfig>,
    /// `cert_reqs`, for `SSL_CLIENT_VERIFY`.
    pub client_certs: ClientCerts,
    /// The files it was read from (for `tls_watch`).
    pub files: Vec<PathBuf>,
}

impl fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acceptor")
            .field("client_certs", &self.client_certs)
            .field("files", &self.files)
            .finish()
    }
}

/// Two loads are the same configuration only if they are the same load: files may change.
impl PartialEq for Acceptor {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.config, &other.config)
    }
}

/// ALPN: HTTP/1.1 only (HTTP/2 would be offered first here, once a worker speaks it).
const ALPN: &[&[u8]] = &[b"http/1.1"];

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::ReadFile {
        key,
        path: path.to_owned(),
        source,
    })
}

fn certificates(key: &'static str, path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bad = |what: String| TlsError::ParsePem {
        key,
        path: path.to_owned(),
        what,
    };
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not a PEM file: {e}")))?;
    if certs.is_empty() {
        return Err(bad("no certificate (no BEGIN CERTIFICATE block)".to_owned()));
    }
    Ok(certs)
}

/// Whether PEM text holds an encrypted key: PKCS#8's `ENCRYPTED PRIVATE KEY`, or OpenSSL's
/// legacy `Proc-Type: 4,ENCRYPTED` header.
fn is_encrypted(pem: &[u8]) -> bool {
    let has = |needle: &[u8]| pem.windows(needle.len()).any(|w| w == needle);
    has(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") || has(b"Proc-Type: 4,ENCRYPTED")
}

/// Seconds since the Unix epoch.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Acceptor {
    /// Reads and checks the files: the certificate chain (PEM, valid now), the private key
    /// (PEM, unencrypted, the certificate's), the CA certificates when clients present
    /// certificates; the cipher list; and draws this generation's session-ticket secret.
    pub fn load(s: &Settings<'_>) -> Result<Acceptor, TlsError> {
        let cert_pem = read("certfile", s.certfile)?;
        let chain = certificates("certfile", s.certfile, &cert_pem)?;
        if let Some(fields) = der::cert_fields(&chain[0]) {
            let now = unix_now();
            if now > fields.not_after {
                return Err(TlsError::CheckValidity {
                    path: s.certfile.to_owned(),
                    when: format!("expired on {}", der::show_time(fields.not_after)),
                });
            }
            if now < fields.not_before {
                return Err(TlsError::CheckValidity {
                    path: s.certfile.to_owned(),
                    when: format!("is not valid before {}", der::show_time(fields.not_before)),
                });
            }
        }
        let key_pem = match s.keyfile == s.certfile {
            true => cert_pem,
            false => read("keyfile", s.keyfile)?,
        };
        if is_encrypted(&key_pem) {
            return Err(TlsError::DecryptKey {
                path: s.keyfile.to_owned(),
            });
        }
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::ParsePem {
            key: "keyfile",
            path: s.keyfile.to_owned(),
            what: match e {
                rustls::pki_types::pem::Error::NoItemsFound => "no private key (no BEGIN PRIVATE KEY block)".to_owned(),
                e => format!("not a PEM file: {e}"),
            },
        })?;
        let suites = ciphers::parse(s.ciphers)?;
        let provider = Arc::new(rustls::crypto::CryptoProvider {
            cipher_suites: suites,
            ..rustls::crypto::ring::default_provider()
        });
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(TlsError::BuildConfig)?;
        let mut files = vec![s.certfile.to_owned()];
        if s.keyfile != s.certfile {
            files.push(s.keyfile.to_owned());
        }
        let builder = match (s.client_certs, s.ca_certs) {
            (ClientCerts::None, _) => builder.with_no_client_auth(),
            (reqs, None) => return Err(TlsError::FindCa(reqs as u8)),
            (reqs, Some(ca)) => {
                let bad = |what: String| TlsError::LoadCa {
                    path: ca.to_owned(),
                    what,
                };
                let mut roots = RootCertStore::empty();
                for cert in certificates("ca_certs", ca, &read("ca_certs", ca)?)? {
                    roots
                        .add(cert)
                        .map_err(|e| bad(format!("not a usable CA certificate: {e}")))?;
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
                let verifier = match reqs {
                    ClientCerts::Optional => verifier.allow_unauthenticated(),
                    _ => verifier,
                };
                files.push(ca.to_owned());
                builder.with_client_cert_verifier(verifier.build().map_err(|e| bad(e.to_string()))?)
            }
        };
        let mut config = builder.with_single_cert(chain, key).map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => TlsError::MatchKey {
                key: s.keyfile.to_owned(),
                cert: s.certfile.to_owned(),
            },
            e => TlsError::LoadKey {
                path: s.keyfile.to_owned(),
                source: e,
            },
        })?;
        config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        config.ticketer = Arc::new(ticket::SharedTickets::new().ok_or(TlsError::DrawSecret)?);
        // One TLS 1.3 ticket per full handshake (rustls sends 2 by default): a browser or an
        // HTTP client resumes one connection at a time, and each ticket costs an encryption
        // and a record on the handshake's critical path.
        config.send_tls13_tickets = 1;
        Ok(Acceptor {
            config: Arc::new(config),
            client_certs: s.client_certs,
            files,
        })
    }
}

/// What a finished handshake tells the application (the `SSL_*` environ variables, as nginx
/// and Apache's mod_ssl name them); worked out once per connection.
#[derive(Debug, Clone)]
pub struct Facts {
    /// `SSL_PROTOCOL`: `TLSv1.3` or `TLSv1.2`.
    pub protocol: &'static str,
    /// `SSL_CIPHER`: OpenSSL's name of the suite.
    pub cipher: &'static str,
    /// `SSL_CLIENT_VERIFY`: `SUCCESS` (a certificate verified against `ca_certs`) or `NONE`.
    pub verify: &'static str,
    /// `SSL_CLIENT_S_DN` (RFC 4514, escaped to one printable line) and `SSL_CLIENT_CERT` (PEM)
    /// of a verified client certificate.
    pub client: Option<(String, String)>,
}

impl Facts {
    /// The facts of `conn`, whose handshake is complete.
    pub fn of(conn: &ServerConnection) -> Facts {
        let protocol = match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
            _ => "UNKNOWN",
        };
        let cipher = conn
            .negotiated_cipher_suite()
            .map_or("UNKNOWN", |s| ciphers::openssl_name(s.suite()));
        // rustls hands over peer certificates only once they verified.
        let client = conn.peer_certificates().and_then(|c| c.first()).map(|cert| {
            let subject = der::cert_fields(cert)
                .and_then(|f| der::name_text(f.subject))
                .unwrap_or_default();
            (subject, pem(cert))
        });
        Facts {
            protocol,
            cipher,
            verify: if client.is_some() { "SUCCESS" } else { "NONE" },
            client,
        }
    }
}

/// A certificate in PEM, 64 characters a line, as OpenSSL writes it.
fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 60);
    out.push_str("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_keys_are_recognised_in_both_forms() {
        assert!(is_encrypted(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMII..."));
        assert!(is_encrypted(
            b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n"
        ));
        assert!(!is_encrypted(b"-----BEGIN PRIVATE KEY-----\nMIIEv..."));
    }

    #[test]
    fn pem_lines_are_64_characters() {
        let text = pem(&[0xab; 100]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines.last(), Some(&"-----END CERTIFICATE-----"));
        assert_eq!(lines.len(), 5);
    }
}
