//! Real frameworks through the Python bridge: a Flask app and a Django project, installed into
//! a virtualenv from the package registry (tests/common/python.rs), served end to end. Also
//! what a virtualenv means: the app sees exactly that venv's packages.
#![cfg(feature = "python")]

mod common;
use common::python::{apps_dir, venv};
use common::*;
use std::path::Path;
use std::process::Command;

/// forkhorn in `tests/python` with `VIRTUAL_ENV` (the test venv) and `args`.
fn start_in_venv(args: &[&str], workers: usize) -> Server {
    let mut cmd = Command::new(bin());
    cmd.current_dir(apps_dir())
        .env("VIRTUAL_ENV", venv())
        .args(args)
        .args(["-b", "127.0.0.1:0"]);
    Server::start_cmd(&mut cmd, workers)
}

fn post_json(s: &Server, path: &str, body: &str) -> Response {
    let raw = format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    parse_all(&s.exchange(raw.as_bytes())).remove(0)
}

fn json(r: &Response) -> serde_json::Value {
    assert_eq!(r.status, 200, "{}", r.text());
    serde_json::from_slice(&r.body).expect("JSON body")
}

/// The routes both test apps have, with the same answers.
fn check_framework(s: &Server, name: &str, source: &Path, disposition: &str) {
    let r = s.get("/");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), format!("Hello from {name}"));
    let r = s.get("/users/42");
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(json(&r), serde_json::json!({"id": 42, "name": "user42"}));
    let r = post_json(s, "/json", r#"{"numbers": [1, 2, 39], "tag": "é"}"#);
    assert_eq!(
        json(&r),
        serde_json::json!({"received": {"numbers": [1, 2, 39], "tag": "é"}, "total": 42})
    );
    assert_eq!(s.get("/no/such/page").status, 404);
    let r = s.get("/boom");
    assert_eq!(r.status, 500, "{name}: {}", r.text());
    s.wait_log("ZeroDivisionError: division by zero", 1);
    let r = s.get("/stream");
    assert_eq!(
        r.header("Transfer-Encoding"),
        Some("chunked"),
        "{name}: {:?}",
        r.headers
    );
    assert_eq!(r.text(), "line 0\nline 1\nline 2\nline 3\nline 4\n");
    let r = s.get("/download");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Disposition"), Some(disposition), "{name}");
    let data = std::fs::read(source).unwrap();
    assert_eq!(r.header("Content-Length"), Some(data.len().to_string().as_str()));
    assert!(r.body == data, "{name}: the downloaded file");
}

#[test]
fn flask_end_to_end() {
    let s = start_in_venv(&["-w", "2", "flask_app:app"], 2);
    let source = apps_dir().join("flask_app.py");
    check_framework(&s, "Flask", &source, "attachment; filename=flask_app.py");
}

#[test]
fn flask_and_django_on_application_threads() {
    let s = start_in_venv(&["-w", "2", "--threads", "4", "flask_app:app"], 2);
    let source = apps_dir().join("flask_app.py");
    check_framework(&s, "Flask", &source, "attachment; filename=flask_app.py");
    let s = start_in_venv(&["-w", "2", "--threads", "4", "djangoapp.wsgi:application"], 2);
    let source = apps_dir().join("djangoapp").join("urls.py");
    check_framework(&s, "Django", &source, "attachment; filename=\"urls.py\"");
}

#[test]
fn flask_under_the_validator_on_application_threads() {
    let mut s = start_in_venv(&["-w", "2", "--threads", "4", "flask_validated:app"], 2);
    // The routes that read no request body: werkzeug reads JSON with read() and no size, which
    // wsgiref.validate forbids.
    assert_eq!(s.get("/").text(), "Hello from Flask");
    assert_eq!(json(&s.get("/users/7")), serde_json::json!({"id": 7, "name": "user7"}));
    assert_eq!(s.get("/no/such/page").status, 404);
    assert_eq!(s.get("/stream").text(), "line 0\nline 1\nline 2\nline 3\nline 4\n");
    let data = std::fs::read(apps_dir().join("flask_app.py")).unwrap();
    assert!(s.get("/download").body == data);
    // Destructors have run once the workers exit: the validator's complaints are all in.
    s.signal(Signal::SIGTERM);
    assert_eq!(s.wait_exit().code(), Some(0));
    s.wait_log("Shutting down: Master", 1);
    let log = s.log().join("\n");
    assert!(!log.contains("VALIDATOR-PROBLEM"), "{log}");
}

#[test]
fn django_end_to_end() {
    let s = start_in_venv(&["-w", "2", "djangoapp.wsgi:application"], 2);
    let source = apps_dir().join("djangoapp").join("urls.py");
    check_framework(&s, "Django", &source, "attachment; filename=\"urls.py\"");
}

/// `sys.prefix` and every site-packages directory on `sys.path` of the served interpreter.
fn site_dirs(s: &Server) -> (String, Vec<String>, serde_json::Value) {
    let info = json(&s.get("/sys"));
    let prefix = info["prefix"].as_str().unwrap().to_owned();
    let sites = info["path"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_str())
        .filter(|p| p.contains("-packages"))
        .map(str::to_owned)
        .collect();
    (prefix, sites, info["flask"].clone())
}

#[test]
fn a_virtualenv_is_all_the_app_sees() {
    let venv = venv();
    let venv_str = venv.to_str().unwrap();
    let check = |s: &Server| {
        let (prefix, sites, flask) = site_dirs(s);
        assert_eq!(prefix, venv_str);
        assert_eq!(sites, [format!("{venv_str}/lib/python3.11/site-packages")]);
        assert!(flask.as_str().unwrap().starts_with(venv_str), "{flask}");
    };
    // Through $VIRTUAL_ENV ...
    check(&start_in_venv(&["wsgi_apps:app"], 1));
    // ... and through the setting, which wins over $VIRTUAL_ENV.
    let mut cmd = Command::new(bin());
    cmd.current_dir(apps_dir()).env("VIRTUAL_ENV", "/nonexistent").args([
        "--virtualenv",
        venv_str,
        "-b",
        "127.0.0.1:0",
        "wsgi_apps:app",
    ]);
    check(&Server::start_cmd(&mut cmd, 1));
    // ... and, with neither, through PATH: the venv's bin/ first, as a Dockerfile's
    // `ENV PATH=/venv/bin:$PATH` has it (gunicorn, found there, runs in that venv).
    let mut cmd = Command::new(bin());
    cmd.current_dir(apps_dir())
        .env_remove("VIRTUAL_ENV")
        .env("PATH", format!("/usr/local/bin:{venv_str}/bin:/usr/bin:/bin"))
        .args(["-b", "127.0.0.1:0", "wsgi_apps:app"]);
    check(&Server::start_cmd(&mut cmd, 1));
    // Outside a venv: the interpreter of the build, none of the venv's packages.
    let mut cmd = Command::new(bin());
    cmd.current_dir(apps_dir())
        .env_remove("VIRTUAL_ENV")
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .args(["-b", "127.0.0.1:0", "wsgi_apps:app"]);
    let s = Server::start_cmd(&mut cmd, 1);
    let (prefix, sites, _) = site_dirs(&s);
    let base = Path::new(common::python::build_python())
        .parent()
        .and_then(Path::parent)
        .unwrap();
    assert_eq!(Path::new(&prefix), base);
    assert!(sites.iter().all(|p| !p.starts_with(venv_str)), "{sites:?}");
}

#[test]
fn a_missing_virtualenv_is_one_line() {
    let dir = std::env::temp_dir().join(format!("forkhorn-not-a-venv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(bin())
        .current_dir(apps_dir())
        .env("VIRTUAL_ENV", &dir)
        .args(["-b", "127.0.0.1:0", "wsgi_apps:app"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!(
            "cannot use virtualenv {}: no {}/bin/python",
            dir.display(),
            dir.display()
        )),
        "{err}"
    );
    let _ = std::fs::remove_dir(&dir);
}
