// The gunicorn request corpus (gunicorn-requests.json beside this file, MIT, see
// gunicorn-LICENSE) turned into runs with expected outcomes, and the record of where forkhorn
// does not simply follow it. Included (`include!`) by `tests/conformance.rs`, which sends each
// run over a socket to the binary, and by the parser's unit tests (`src/http/request/tests.rs`),
// so both judge the corpus by the same record. Uses serde_json and base64 (crate dependencies).

/// Cases that need a gunicorn setting forkhorn does not offer. Never run.
#[allow(dead_code)]
pub const UNSUPPORTED: &[(&str, &str)] = &[
    ("valid/028", "strip_header_spaces: forkhorn always rejects whitespace before the colon"),
    ("valid/031compat", "permit_unconventional_http_method, casefold_http_method: not offered"),
    ("valid/031compat2", "permit_unconventional_http_method: not offered"),
    ("valid/040_compat", "header_map=dangerous: forkhorn always drops names containing '_'"),
    ("valid/compat_obs_fold", "permit_obsolete_folding: not offered, obs-fold is always a 400"),
    ("valid/compat_obs_fold_huge", "permit_obsolete_folding: not offered, obs-fold is always a 400"),
    ("invalid/013", "permit_obsolete_folding: not offered"),
    ("invalid/040", "header_map=refuse: forkhorn always drops names containing '_'"),
    ("invalid/chunked_07", "header_map=refuse: forkhorn always drops names containing '_'"),
];

/// Cases that need `limit_request_line`, `limit_request_fields` or `limit_request_field_size`.
/// The parser's unit tests always run them; `tests/conformance.rs` runs them when the binary
/// has the `--limit-request-*` flags and otherwise skips them with [`NEEDS_LIMIT_FLAGS_REASON`].
#[allow(dead_code)]
pub const NEEDS_LIMIT_FLAGS: &[&str] = &[
    "valid/024",
    "valid/026",
    "invalid/010",
    "invalid/011",
    "invalid/012",
    "invalid/limit_header_default_01",
];

/// Why the cases of [`NEEDS_LIMIT_FLAGS`] are skipped when the flags are missing.
#[allow(dead_code)]
pub const NEEDS_LIMIT_FLAGS_REASON: &str =
    "needs --limit-request-line/--limit-request-fields/--limit-request-field_size, which this binary lacks";

/// Stricter than gunicorn: these valid cases send an HTTP/1.1 request without Host, which
/// RFC 9112 §3.2 says a server MUST answer with 400. Checked twice: as sent (the requests before
/// the first Host-less one are answered, that one gets a 400 and the connection closes), and
/// with `Host: forkhorn.test` added to each Host-less request, where the corpus expectations
/// apply (or the entry of [`DEVIATIONS`]).
#[allow(dead_code)]
pub const NO_HOST: &[&str] = &[
    "valid/004",
    "valid/005",
    "valid/006",
    "valid/007",
    "valid/009",
    "valid/010",
    "valid/011",
    "valid/012",
    "valid/013",
    "valid/014",
    "valid/018",
    "valid/021",
    "valid/022",
    "valid/023",
    "valid/025",
    "valid/025_line",
    "valid/029",
    "valid/030",
    "valid/031",
    "valid/100",
    "valid/pp_02",
];

/// The Host added to Host-less HTTP/1.1 requests for the second check of [`NO_HOST`] cases (and
/// of invalid cases, whose status must not depend on the Host check).
#[allow(dead_code)]
pub const ADDED_HOST: &str = "forkhorn.test";

/// Cases forkhorn answers differently from gunicorn, on purpose: (case, forkhorn's status for
/// the first request that differs, why). For a case in [`NO_HOST`] this is about the copy with
/// Host added.
#[allow(dead_code)]
pub const DEVIATIONS: &[(&str, u16, &str)] = &[
    (
        "valid/025",
        501,
        "stricter than gunicorn: a transfer coding forkhorn does not decode (gzip/deflate/compress, or \
         identity, which RFC 9112 no longer lists) is answered 501 (RFC 9112 §6.1) rather than passed to \
         the app still coded",
    ),
    (
        "valid/025_line",
        501,
        "stricter than gunicorn: a transfer coding forkhorn does not decode (gzip/deflate/compress, or \
         identity, which RFC 9112 no longer lists) is answered 501 (RFC 9112 §6.1) rather than passed to \
         the app still coded",
    ),
    (
        "valid/029",
        501,
        "stricter than gunicorn: a transfer coding forkhorn does not decode (gzip/deflate/compress, or \
         identity, which RFC 9112 no longer lists) is answered 501 (RFC 9112 §6.1) rather than passed to \
         the app still coded",
    ),
    (
        "valid/030",
        501,
        "stricter than gunicorn: a transfer coding forkhorn does not decode (gzip/deflate/compress, or \
         identity, which RFC 9112 no longer lists) is answered 501 (RFC 9112 §6.1) rather than passed to \
         the app still coded",
    ),
    (
        "valid/rfc9112_smuggle_gzip_chunked_01",
        501,
        "stricter than gunicorn: a transfer coding forkhorn does not decode (gzip/deflate/compress, or \
         identity, which RFC 9112 no longer lists) is answered 501 (RFC 9112 §6.1) rather than passed to \
         the app still coded",
    ),
    (
        "valid/rfc9112_smuggle_te_identity_chunked_01",
        501,
        "stricter than gunicorn: a transfer coding forkhorn does not decode (gzip/deflate/compress, or \
         identity, which RFC 9112 no longer lists) is answered 501 (RFC 9112 §6.1) rather than passed to \
         the app still coded",
    ),
    (
        "valid/009",
        400,
        "stricter than gunicorn: Transfer-Encoding: identity beside Content-Length; RFC 9112 §6.1 \
         allows rejecting any CL+TE request, §6.3 requires a 400 when chunked is not the last \
         coding, and identity has not been a transfer coding since RFC 7230",
    ),
    (
        "valid/012",
        400,
        "stricter than gunicorn: Content-Type in the trailer section; RFC 9110 §6.5.1 rules out \
         content-format fields in trailers",
    ),
    (
        "valid/099",
        400,
        "the corpus file is truncated: Content-Length says 17914 but only 8599 body bytes exist; \
         over a socket the body ends at EOF, mid-body, which is a 400",
    ),
    (
        "valid/rfc9112_target_absolute_userinfo_01",
        400,
        "stricter than gunicorn: userinfo in an http(s) target; RFC 9110 §4.2.4 says to treat it \
         as an error (it disguises the real host)",
    ),
    (
        "valid/rfc9112_target_authority_connect_01",
        405,
        "forkhorn is not a proxy: a 2xx to CONNECT would promise a tunnel (RFC 9110 §9.3.6); \
         gunicorn's PATH_INFO '443' is an artifact of urlsplit",
    ),
    (
        "valid/rfc9112_target_authority_ipv6_01",
        405,
        "forkhorn is not a proxy: a 2xx to CONNECT would promise a tunnel (RFC 9110 §9.3.6)",
    ),
    (
        "valid/027",
        400,
        "stricter than gunicorn: raw bytes above 0x7F in the request-target; RFC 9112 §3.2 and \
         RFC 3986 §2 make the target ASCII, anything else percent-encoded",
    ),
    (
        "invalid/version_02",
        505,
        "HTTP/2.0 is a well-formed version forkhorn does not support: 505 (RFC 9110 §15.6.6) \
         rather than gunicorn's 400",
    ),
];

/// One request the server must accept, as the corpus describes it.
#[allow(dead_code)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Req {
    pub method: String,
    pub raw_uri: String,
    /// Not percent-decoded.
    pub path: String,
    pub query: String,
    pub fragment: String,
    pub version: String,
    /// Names uppercased, in the order sent, repeats kept; gunicorn has already dropped names
    /// containing `_`.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub trailers: Vec<(String, String)>,
}

/// What must happen to one request of a run.
#[allow(dead_code, clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted and parsed as described.
    Accept(Req),
    /// Rejected with this status, and the connection closed.
    Reject(u16),
}

/// Bytes to send on one connection, and what must come of them.
#[allow(dead_code)]
#[derive(Debug, Clone)]
pub struct Run {
    pub case: String,
    /// "as sent" or "Host added".
    pub variant: &'static str,
    pub raw: Vec<u8>,
    /// The case's `limit_request_*` settings, by gunicorn name.
    pub limits: Vec<(String, u64)>,
    /// Command-line flags for the case's other settings (the PROXY protocol, trusted proxies):
    /// behaviour of the worker, not of the head parser, so only the socket test runs these.
    pub server_flags: Vec<String>,
    /// In order; after the last, the connection is closed.
    pub expect: Vec<Outcome>,
    /// Why the expectation is not the corpus's own, if it is not.
    pub note: Option<&'static str>,
}

/// The corpus as runs, and the cases never run.
#[allow(dead_code)]
#[derive(Debug)]
pub struct Plan {
    pub runs: Vec<Run>,
    pub unsupported: Vec<(String, &'static str)>,
    pub cases: usize,
}

#[allow(dead_code)]
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

#[allow(dead_code)]
fn unlatin1(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).expect("corpus strings are latin-1"))
        .collect()
}

#[allow(dead_code)]
fn b64(s: &serde_json::Value) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s.as_str().expect("base64 string"))
        .expect("valid base64")
}

#[allow(dead_code)]
fn pairs(v: &serde_json::Value) -> Vec<(String, String)> {
    v.as_array()
        .expect("list of pairs")
        .iter()
        .map(|p| {
            let p = p.as_array().expect("pair");
            (p[0].as_str().expect("name").to_owned(), p[1].as_str().expect("value").to_owned())
        })
        .collect()
}

#[allow(dead_code)]
fn req_of(v: &serde_json::Value) -> Req {
    let s = |k: &str| v[k].as_str().unwrap_or_else(|| panic!("{k}")).to_owned();
    Req {
        method: s("method"),
        raw_uri: s("raw_uri"),
        path: s("path"),
        query: s("query"),
        fragment: s("fragment"),
        version: s("version"),
        headers: pairs(&v["headers"]),
        body: b64(&v["body_b64"]),
        trailers: pairs(&v["trailers"]),
    }
}

/// Adds `Host: ADDED_HOST` after the request line of each HTTP/1.1 request in `reqs` that has
/// none; returns the new bytes, the requests as they now are, and the index of the first request
/// that had no Host.
#[allow(dead_code)]
fn add_host_to_requests(raw: &[u8], reqs: &[Req]) -> (Vec<u8>, Vec<Req>, Option<usize>) {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut first = None;
    let mut with_host = Vec::new();
    for (i, r) in reqs.iter().enumerate() {
        let line = [r.method.as_bytes(), b" ", &unlatin1(&r.raw_uri), b" ", r.version.as_bytes(), b"\r\n"].concat();
        let at = raw[pos..]
            .windows(line.len())
            .position(|w| w == line)
            .map(|p| pos + p)
            .unwrap_or_else(|| panic!("request line {:?} not found", latin1(&line)));
        let mut r = r.clone();
        let end = at + line.len();
        out.extend_from_slice(&raw[pos..end]);
        if r.version == "HTTP/1.1" && !r.headers.iter().any(|(n, _)| n == "HOST") {
            first.get_or_insert(i);
            out.extend_from_slice(format!("Host: {ADDED_HOST}\r\n").as_bytes());
            r.headers.insert(0, ("HOST".to_owned(), ADDED_HOST.to_owned()));
        }
        with_host.push(r);
        pos = end;
    }
    out.extend_from_slice(&raw[pos..]);
    (out, with_host, first)
}

/// For a request to be rejected: adds the Host after the first line if it is an HTTP/1.1
/// request line and the head has no Host, so that the rejection is checked for its own reason
/// too and not only for the missing Host.
#[allow(dead_code)]
fn add_host_to_rejected(raw: &[u8]) -> Option<Vec<u8>> {
    let line_end = raw.windows(2).position(|w| w == b"\r\n")?;
    if !raw[..line_end].ends_with(b" HTTP/1.1") {
        return None;
    }
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(raw.len());
    let has_host = raw[..head_end]
        .split(|&b| b == b'\n')
        .any(|l| l.len() >= 5 && l[..5].eq_ignore_ascii_case(b"host:"));
    if has_host {
        return None;
    }
    let mut out = raw[..line_end + 2].to_vec();
    out.extend_from_slice(format!("Host: {ADDED_HOST}\r\n").as_bytes());
    out.extend_from_slice(&raw[line_end + 2..]);
    Some(out)
}

/// Turns the corpus into runs. Panics if the tables above do not match the corpus (an unknown
/// case name, a NO_HOST entry that has a Host or the reverse), so the record stays exact.
#[allow(dead_code)]
pub fn plan(json: &str) -> Plan {
    let doc: serde_json::Value = serde_json::from_str(json).expect("corpus JSON");
    let cases = doc["cases"].as_array().expect("cases");
    let names: Vec<&str> = cases.iter().map(|c| c["name"].as_str().expect("name")).collect();
    let tables = UNSUPPORTED.iter().map(|(n, _)| *n)
        .chain(NEEDS_LIMIT_FLAGS.iter().copied())
        .chain(NO_HOST.iter().copied())
        .chain(DEVIATIONS.iter().map(|(n, ..)| *n));
    for name in tables {
        assert!(names.contains(&name), "policy names unknown case {name}");
    }
    let mut plan = Plan { runs: Vec::new(), unsupported: Vec::new(), cases: cases.len() };
    for c in cases {
        let name = c["name"].as_str().expect("name").to_owned();
        if let Some((_, why)) = UNSUPPORTED.iter().find(|(n, _)| *n == name) {
            plan.unsupported.push((name, why));
            continue;
        }
        let mut limits = Vec::new();
        let mut server_flags = Vec::new();
        for (k, v) in c["config"].as_object().expect("config") {
            match k.as_str() {
                // gunicorn's "auto" detects the header; so does forkhorn's --proxy-protocol.
                "proxy_protocol" => server_flags.push("--proxy-protocol".to_owned()),
                "forwarded_allow_ips" => {
                    assert_eq!(v.as_str(), Some("['*']"), "{name}: forwarded_allow_ips");
                    server_flags.extend(["--forwarded-allow-ips".to_owned(), "*".to_owned()]);
                }
                _ => {
                    assert!(k.starts_with("limit_request_"), "{name}: setting {k} should be in UNSUPPORTED");
                    limits.push((k.clone(), v.as_u64().expect("numeric limit")));
                }
            }
        }
        assert_eq!(!limits.is_empty(), NEEDS_LIMIT_FLAGS.contains(&name.as_str()), "{name}: NEEDS_LIMIT_FLAGS");
        let raw = b64(&c["raw_b64"]);
        let deviation = DEVIATIONS.iter().find(|(n, ..)| *n == name).map(|&(_, status, why)| (status, why));
        let run = |variant, raw: Vec<u8>, expect: Vec<Outcome>, note| Run {
            case: name.clone(),
            variant,
            raw,
            limits: limits.clone(),
            server_flags: server_flags.clone(),
            expect,
            note,
        };
        let expect = &c["expect"];
        if let Some(reqs) = expect["requests"].as_array() {
            let reqs: Vec<Req> = reqs.iter().map(req_of).collect();
            let (with_host, reqs_with_host, first_hostless) = add_host_to_requests(&raw, &reqs);
            let corpus_or_deviation = |reqs: Vec<Req>| match deviation {
                Some((status, why)) => {
                    assert_eq!(reqs.len(), 1, "{name}: deviations are for single requests");
                    (vec![Outcome::Reject(status)], Some(why))
                }
                None => (reqs.into_iter().map(Outcome::Accept).collect(), None),
            };
            match first_hostless {
                Some(k) => {
                    assert!(NO_HOST.contains(&name.as_str()), "{name}: lacks Host but is not in NO_HOST");
                    let mut sent: Vec<Outcome> = reqs[..k].iter().cloned().map(Outcome::Accept).collect();
                    sent.push(Outcome::Reject(400));
                    plan.runs.push(run("as sent", raw.clone(), sent, Some("stricter than gunicorn: HTTP/1.1 without Host (RFC 9112 §3.2)")));
                    let (expect, note) = corpus_or_deviation(reqs_with_host);
                    plan.runs.push(run("Host added", with_host, expect, note));
                }
                None => {
                    assert!(!NO_HOST.contains(&name.as_str()), "{name}: in NO_HOST but has a Host");
                    let (expect, note) = corpus_or_deviation(reqs);
                    plan.runs.push(run("as sent", raw, expect, note));
                }
            }
        } else {
            let status = expect["status"].as_u64().expect("status") as u16;
            let (status, note) = deviation.map_or((status, None), |(s, why)| (s, Some(why)));
            if let Some(with_host) = add_host_to_rejected(&raw) {
                plan.runs.push(run("Host added", with_host, vec![Outcome::Reject(status)], note));
            }
            plan.runs.push(run("as sent", raw, vec![Outcome::Reject(status)], note));
        }
    }
    plan
}
