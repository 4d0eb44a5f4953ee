//! gunicorn's request corpus (tests/data/gunicorn-requests.json, MIT) over real TCP sockets
//! against the real binary running `builtin:echo`: every accepted request must come back as a
//! 200 whose environ and body match the corpus, every rejected one as its status followed by the
//! connection closing. Where forkhorn deliberately differs, or cannot run a case, the record is
//! in tests/data/corpus.rs, shared with the parser's unit tests.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::process::Command;

mod corpus {
    include!("data/corpus.rs");
}

const CORPUS_JSON: &str = include_str!("data/gunicorn-requests.json");

/// The command-line flag for a gunicorn limit setting.
fn flag(setting: &str) -> &'static str {
    match setting {
        "limit_request_line" => "--limit-request-line",
        "limit_request_fields" => "--limit-request-fields",
        "limit_request_field_size" => "--limit-request-field_size",
        other => panic!("no flag for {other}"),
    }
}

/// Whether this build's CLI has the limit flags (another branch adds them); until it does, the
/// cases needing them are skipped with the reason from the corpus record.
fn binary_has_limit_flags() -> bool {
    let out = Command::new(bin()).arg("--help").output().expect("run forkhorn --help");
    let help = String::from_utf8_lossy(&out.stdout);
    ["limit_request_line", "limit_request_fields", "limit_request_field_size"]
        .iter()
        .all(|s| help.contains(flag(s)))
}

fn unlatin1(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).expect("latin-1"))
        .collect()
}

fn latin1(b: &[u8]) -> String {
    b.iter().map(|&b| b as char).collect()
}

/// `%XX` decoded, anything else kept, as Python's `unquote` does; written here rather than
/// borrowed from the crate, so that PATH_INFO is checked against an independent decoder.
fn unquote(raw: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' && i + 2 < raw.len() {
            if let (Some(h), Some(l)) = (hex(raw[i + 1]), hex(raw[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

/// The environ entries the corpus headers must produce: `HTTP_NAME` (joined with "," when
/// repeated), CONTENT_TYPE and CONTENT_LENGTH without the prefix.
fn expected_header_environ(req: &corpus::Req) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &req.headers {
        // gunicorn has already dropped names containing `_`; forkhorn must have too, which the
        // comparison of the whole HTTP_* set checks (a dropped name cannot appear).
        assert!(!name.contains('_'), "corpus keeps {name}");
        let key = match name.as_str() {
            "CONTENT-TYPE" | "CONTENT-LENGTH" => name.replace('-', "_"),
            _ => format!("HTTP_{}", name.replace('-', "_")),
        };
        env.entry(key)
            .and_modify(|v| {
                v.push(',');
                v.push_str(value);
            })
            .or_insert_with(|| value.clone());
    }
    env
}

/// Compares one 200 from builtin:echo with the corpus request.
fn check_accepted(req: &corpus::Req, resp: &Response) -> Result<(), String> {
    if resp.status != 200 {
        return Err(format!("want 200, got {} ({:?})", resp.status, resp.text()));
    }
    let doc: serde_json::Value = serde_json::from_slice(&resp.body).map_err(|e| format!("echo body: {e}"))?;
    let environ = doc["environ"].as_object().ok_or("echo body has no environ")?;
    let get = |k: &str| environ.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let mut problems = Vec::new();
    let path_info = latin1(&unquote(&unlatin1(&req.path)));
    for (key, want) in [
        ("REQUEST_METHOD", &req.method),
        ("RAW_URI", &req.raw_uri),
        ("PATH_INFO", &path_info),
        ("QUERY_STRING", &req.query),
        ("SERVER_PROTOCOL", &req.version),
    ] {
        if get(key).as_ref() != Some(want) {
            problems.push(format!("{key}: want {want:?}, got {:?}", get(key)));
        }
    }
    let want_headers = expected_header_environ(req);
    let got_headers: BTreeMap<String, String> = environ
        .iter()
        .filter(|(k, _)| k.starts_with("HTTP_") || *k == "CONTENT_TYPE" || *k == "CONTENT_LENGTH")
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("<not a string>").to_owned()))
        .collect();
    if got_headers != want_headers {
        problems.push(format!("headers: want {want_headers:?}, got {got_headers:?}"));
    }
    use base64::Engine as _;
    let body = doc["body_b64"]
        .as_str()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .ok_or("echo body has no body_b64")?;
    if body != req.body {
        problems.push(format!("body: want {:?}, got {:?}", latin1(&req.body), latin1(&body)));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Checks a whole connection's output against a run's expectations.
fn check_run(run: &corpus::Run, output: &[u8]) -> Result<(), String> {
    let responses = parse_all(output);
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    if responses.len() != run.expect.len() {
        return Err(format!(
            "want {} responses then close, got {} (statuses {statuses:?})",
            run.expect.len(),
            responses.len()
        ));
    }
    for (i, (want, resp)) in run.expect.iter().zip(&responses).enumerate() {
        match want {
            corpus::Outcome::Accept(req) => check_accepted(req, resp).map_err(|e| format!("request {i}: {e}"))?,
            corpus::Outcome::Reject(status) => {
                if resp.status != *status {
                    return Err(format!(
                        "request {i}: want {status}, got {} ({:?})",
                        resp.status,
                        resp.text()
                    ));
                }
                if resp.header("Connection") != Some("close") {
                    return Err(format!("request {i}: a {status} must announce Connection: close"));
                }
            }
        }
    }
    Ok(())
}

#[test]
fn gunicorn_corpus_over_tcp() {
    corpus_against(&["builtin:echo"]);
}

/// The same corpus against a Python WSGI echo app (tests/python/wsgi_apps.py), which must
/// answer exactly as builtin:echo does.
#[cfg(feature = "python")]
#[test]
fn gunicorn_corpus_over_tcp_with_a_python_app() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python");
    corpus_against(&["--chdir", dir, "wsgi_apps:echo"]);
}

fn corpus_against(app: &[&str]) {
    let plan = corpus::plan(CORPUS_JSON);
    let has_limit_flags = binary_has_limit_flags();

    // One server per distinct set of flags.
    let mut groups: BTreeMap<Vec<String>, Vec<&corpus::Run>> = BTreeMap::new();
    for run in &plan.runs {
        let mut flags = Vec::new();
        for (setting, value) in &run.limits {
            flags.push(flag(setting).to_owned());
            flags.push(value.to_string());
        }
        flags.extend(run.server_flags.iter().cloned());
        groups.entry(flags).or_default().push(run);
    }

    let mut passed = Vec::new();
    let mut failed = Vec::new();
    let mut skipped: Vec<(String, String)> = plan
        .unsupported
        .iter()
        .map(|(case, why)| (case.clone(), why.to_string()))
        .collect();
    for (flags, runs) in &groups {
        let needs_limits = runs.iter().any(|r| !r.limits.is_empty());
        if needs_limits && !has_limit_flags {
            for run in runs {
                skipped.push((
                    format!("{} ({})", run.case, run.variant),
                    corpus::NEEDS_LIMIT_FLAGS_REASON.into(),
                ));
            }
            continue;
        }
        let mut args: Vec<&str> = app.to_vec();
        args.extend(flags.iter().map(String::as_str));
        let server = Server::start(&args, 1);
        for run in runs {
            let output = server.exchange(&run.raw);
            let label = format!("{} ({})", run.case, run.variant);
            match check_run(run, &output) {
                Ok(()) => passed.push((label, run.note)),
                Err(e) => failed.push(format!("{label}: {e}")),
            }
        }
    }

    let deviations: Vec<String> = passed
        .iter()
        .filter_map(|(label, note)| note.map(|n| format!("  {label}: {n}")))
        .collect();
    // Per case: failing beats skipped beats deviating beats as gunicorn.
    let case_of = |label: &str| label.split(' ').next().unwrap_or(label).to_owned();
    let mut cases: BTreeMap<String, &str> = BTreeMap::new();
    let mut mark = |label: &str, verdict: &'static str| {
        let rank = |v: &str| {
            ["as gunicorn", "deliberately different", "skipped", "failing"]
                .iter()
                .position(|r| *r == v)
        };
        let entry = cases.entry(case_of(label)).or_insert(verdict);
        if rank(verdict) > rank(entry) {
            *entry = verdict;
        }
    };
    for (label, note) in &passed {
        mark(
            label,
            if note.is_some() {
                "deliberately different"
            } else {
                "as gunicorn"
            },
        );
    }
    for (label, _) in &skipped {
        mark(label, "skipped");
    }
    for label in &failed {
        mark(label.split(':').next().unwrap_or(label), "failing");
    }
    let count = |v: &str| cases.values().filter(|c| **c == v).count();
    eprintln!(
        "gunicorn corpus ({}): {} cases: {} as gunicorn, {} deliberately different, {} skipped, {} failing \
         (runs: {} passed, {} failed, {} skipped)",
        app.join(" "),
        plan.cases,
        count("as gunicorn"),
        count("deliberately different"),
        count("skipped"),
        count("failing"),
        passed.len(),
        failed.len(),
        skipped.len() - plan.unsupported.len(),
    );
    assert_eq!(cases.len(), plan.cases, "every case is accounted for");
    for (case, why) in &skipped {
        eprintln!("  skipped {case}: {why}");
    }
    eprintln!("deliberate differences from gunicorn:\n{}", deviations.join("\n"));
    assert!(
        failed.is_empty(),
        "{} failing runs:\n{}",
        failed.len(),
        failed.join("\n")
    );
}
