//! gunicorn command lines as real deployments write them (Procfiles, Dockerfiles, systemd units,
//! shell scripts), with `gunicorn` replaced by forkhorn and a stand-in app: each must start and
//! serve, and print the one warning line a flag without effect deserves. Also the environment
//! gunicorn reads (`PORT`, `GUNICORN_CMD_ARGS`, `WEB_CONCURRENCY`) and its precedence, and the
//! one-line refusal of an ASGI worker class.

mod common;
use common::*;
use std::io::{BufReader, Write};
use std::process::{Command, Output, Stdio};

/// The variables forkhorn reads that a test sets itself, never inherited from the test's own
/// environment.
const ENV: [&str; 5] = [
    "PORT",
    "WEB_CONCURRENCY",
    "FORWARDED_ALLOW_IPS",
    "GUNICORN_CMD_ARGS",
    "FORKHORN_CMD_ARGS",
];

/// forkhorn with `args` and exactly the variables of [`ENV`] that `env` sets, run in
/// `tests/python` so that the Python stand-in apps import.
fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python"))
        .env_remove("VIRTUAL_ENV");
    for var in ENV {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// A gunicorn command line, the environment it runs with, and a line its log must show.
struct Case {
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    log: Option<&'static str>,
}

const fn case(args: &'static [&'static str]) -> Case {
    Case {
        args,
        env: &[],
        log: None,
    }
}

impl Case {
    const fn env(self, env: &'static [(&'static str, &'static str)]) -> Case {
        Case { env, ..self }
    }

    const fn log(self, log: &'static str) -> Case {
        Case { log: Some(log), ..self }
    }

    /// Starts the command line, waits for its listening line, one booted worker and the
    /// expected log line, and checks that `GET /` is a 200.
    fn serves(&self) -> Server {
        let s = Server::start_cmd(&mut command(self.args, self.env), 1);
        if let Some(line) = self.log {
            s.wait_log(line, 1);
        }
        let r = s.get("/");
        assert_eq!(r.status, 200, "{:?} {:?}: {}", self.args, self.env, r.text());
        // A warning is said once, by the master, not again by each worker.
        if let Some(line) = self
            .log
            .filter(|l| !l.starts_with("Listening") && !l.starts_with("Booting"))
        {
            let n = s.log().iter().filter(|l| l.contains(line)).count();
            assert_eq!(n, 1, "{line:?} logged {n} times: {:#?}", s.log());
        }
        s
    }
}

#[test]
fn gunicorn_command_lines_serve() {
    let cases = [
        // Procfile: threads for an app that waits on a database.
        case(&[
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--threads",
            "4",
            "builtin:hello",
        ])
        .log("Using worker: gthread"),
        // Dockerfile: an explicit gthread worker.
        case(&[
            "-b",
            "127.0.0.1:0",
            "-k",
            "gthread",
            "--threads",
            "8",
            "--timeout",
            "0",
            "builtin:hello",
        ]),
        // An async worker class, served threaded with one warning line naming the count.
        case(&[
            "-b",
            "127.0.0.1:0",
            "-k",
            "gevent",
            "--worker-connections",
            "1000",
            "builtin:hello",
        ])
        .log(
            "worker_class \"gevent\": forkhorn has no gevent worker and runs the app on the threaded worker, 32 \
             threads per worker (threads, --threads, sets the count)",
        ),
        case(&[
            "-b",
            "127.0.0.1:0",
            "--worker-class=egg:gunicorn#eventlet",
            "--threads",
            "3",
            "builtin:hello",
        ])
        .log("runs the app on the threaded worker, 3 threads per worker"),
        // `exec gunicorn -w 2 "$@"` run with `-w 1`, and both spellings of the error log.
        case(&[
            "-w",
            "2",
            "-b",
            "127.0.0.1:0",
            "--error-logfile",
            "-",
            "--log-file",
            "-",
            "-w",
            "1",
            "builtin:hello",
        ])
        .log("Using worker: sync"),
        // A script whose unset variables leave empty values and zeros, which gunicorn takes:
        // no TLS, listen(2)'s smallest queue, one thread, the default connection limit.
        case(&[
            "-b",
            "127.0.0.1:0",
            "--certfile=",
            "--keyfile=",
            "--backlog",
            "0",
            "--threads",
            "0",
            "--worker-connections",
            "0",
            "builtin:hello",
        ])
        .log("Using worker: sync"),
        // Dockerfile advice for Docker's small /dev/shm-less overlay: accepted, no effect.
        case(&["-b", "127.0.0.1:0", "--worker-tmp-dir", "/dev/shm", "builtin:hello"]).log(
            "worker_tmp_dir is accepted for gunicorn compatibility and has no effect: forkhorn's heartbeat uses \
             no file",
        ),
        // Heroku: no bind anywhere, the platform's PORT.
        case(&["builtin:hello"])
            .env(&[("PORT", "0")])
            .log("Listening at: http://0.0.0.0:"),
        // `--bind :$PORT` (all IPv4 interfaces).
        case(&["--bind", ":0", "--log-level=debug", "builtin:hello"]).log("Listening at: http://0.0.0.0:"),
        // Flags from the environment, below the command line.
        case(&["-w", "1", "builtin:hello"])
            .env(&[(
                "GUNICORN_CMD_ARGS",
                "--bind=127.0.0.1:0 --workers=3 --name 'my shop' --keep-alive 5",
            )])
            .log("Booting worker"),
        case(&["builtin:hello"])
            .env(&[
                ("GUNICORN_CMD_ARGS", "-b 127.0.0.1:0 --reload"),
                ("FORKHORN_CMD_ARGS", "--log-level debug"),
            ])
            .log("reload: watching 0 directories for changes"),
        // Behind a load balancer.
        case(&[
            "-b",
            "127.0.0.1:0",
            "--forwarded-allow-ips=10.0.0.1,10.0.0.2,127.0.0.1",
            "--proxy-allow-from",
            "10.0.0.1",
            "builtin:hello",
        ]),
        // Metrics to statsd (nothing listens there: the datagrams are dropped).
        case(&[
            "-b",
            "127.0.0.1:0",
            "--statsd-host",
            "localhost:8125",
            "--statsd-prefix",
            "shop",
            "builtin:hello",
        ]),
        // systemd unit: recycling and timeouts.
        case(&[
            "--bind",
            "127.0.0.1:0",
            "--max-requests",
            "1000",
            "--max-requests-jitter",
            "50",
            "--graceful-timeout",
            "30",
            "--timeout",
            "120",
            "--keep-alive",
            "75",
            "builtin:hello",
        ]),
        // Hardening flags from a security guide.
        case(&[
            "-b",
            "127.0.0.1:0",
            "--limit-request-line",
            "8190",
            "--limit-request-fields",
            "200",
            "--limit-request-field_size",
            "16380",
            "--no-sendfile",
            "builtin:hello",
        ])
        .log("sendfile is ignored: forkhorn always sends wsgi.file_wrapper files with sendfile(2)"),
        // gunicorn's TLS flags that forkhorn has no use for: accepted, and ssl_version said so
        // (TLS itself is tests/tls.rs).
        case(&[
            "-b",
            "127.0.0.1:0",
            "--ssl-version",
            "TLSv1_2",
            "--do-handshake-on-connect",
            "--suppress-ragged-eofs",
            "builtin:hello",
        ])
        .log("ssl_version is ignored: forkhorn negotiates TLS 1.2 or 1.3"),
        // Development script.
        case(&[
            "-b",
            "127.0.0.1:0",
            "--reload",
            "--reload-extra-file",
            "templates/base.html",
            "--log-level",
            "DEBUG",
            "-R",
            "--preload",
            "builtin:hello",
        ])
        .log("enable_stdio_inheritance is not supported by forkhorn yet and is ignored"),
        // WEB_CONCURRENCY as the default of workers, the command line over it.
        case(&[
            "-b",
            "127.0.0.1:0",
            "-w",
            "1",
            "--capture-output",
            "--enable-stdio-inheritance",
            "builtin:hello",
        ])
        .env(&[("WEB_CONCURRENCY", "3")]),
    ];
    for c in &cases {
        c.serves();
    }
}

#[test]
fn access_log_format_with_header_and_duration_atoms() {
    let c = case(&[
        "-b",
        "127.0.0.1:0",
        "--access-logfile",
        "-",
        "--access-logformat",
        "%(h)s %({x-request-id}i)s %(D)s \"%(r)s\" %(s)s",
    ]);
    let s = Server::start_cmd(&mut command(c.args, c.env), 1);
    let mut conn = s.connect();
    write!(
        conn,
        "GET /a HTTP/1.1\r\nHost: t\r\nX-Request-Id: req-42\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let r = read_response(&mut BufReader::new(conn), false).expect("response");
    assert_eq!(r.status, 200);
    let line = s.wait_stdout("req-42", 1);
    let fields: Vec<&str> = line.split(' ').collect();
    assert_eq!(fields[..2], ["127.0.0.1", "req-42"], "{line}");
    assert!(fields[2].parse::<u64>().is_ok(), "%(D)s is microseconds: {line}");
    assert!(line.ends_with("\"GET /a HTTP/1.1\" 200"), "{line}");
}

#[cfg(feature = "python")]
#[test]
fn python_apps_and_factories() {
    let cases = [
        case(&["-b", "127.0.0.1:0", "--threads", "2", "wsgi_apps:create_app()"]),
        case(&[
            "-b",
            "127.0.0.1:0",
            "-k",
            "tornado",
            "wsgi_apps:create_app('Hi', punctuation='?')",
        ])
        .log("worker_class \"tornado\""),
        case(&["wsgi_apps:hello"]).env(&[("PORT", "0"), ("WEB_CONCURRENCY", "2")]),
    ];
    for c in &cases {
        c.serves();
    }
}

/// Runs a command that must exit before binding anything.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    command(args, env).stdin(Stdio::null()).output().expect("run forkhorn")
}

fn assert_one_line_error(out: &Output, line: &str) {
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), format!("forkhorn: {line}\n"));
}

#[test]
fn an_asgi_worker_class_is_one_clear_line() {
    for class in ["uvicorn.workers.UvicornWorker", "uvicorn_worker.UvicornWorker", "asgi"] {
        assert_one_line_error(
            &run(&["-b", "127.0.0.1:0", "-k", class, "main:app"], &[]),
            &format!(
                "--worker-class: \"{class}\" is an ASGI worker class, and forkhorn serves WSGI apps only (run an \
                 ASGI app with uvicorn or another ASGI server)"
            ),
        );
    }
    assert_one_line_error(
        &run(
            &["main:app"],
            &[("GUNICORN_CMD_ARGS", "-k uvicorn.workers.UvicornWorker")],
        ),
        "GUNICORN_CMD_ARGS: --worker-class: \"uvicorn.workers.UvicornWorker\" is an ASGI worker class, and \
         forkhorn serves WSGI apps only (run an ASGI app with uvicorn or another ASGI server)",
    );
}

#[test]
fn environment_errors_name_the_variable() {
    assert_one_line_error(
        &run(
            &["--check-config"],
            &[("GUNICORN_CMD_ARGS", "--workers 2 --frobnicate")],
        ),
        "GUNICORN_CMD_ARGS: unexpected argument '--frobnicate' found",
    );
    assert_one_line_error(
        &run(&["--check-config"], &[("FORKHORN_CMD_ARGS", "--name 'unclosed")]),
        "FORKHORN_CMD_ARGS: no closing quotation",
    );
    assert_one_line_error(
        &run(&["--check-config"], &[("PORT", "http")]),
        "PORT: expected a port number, got \"http\"",
    );
    // As in gunicorn, PORT counts only where it is used: a bind given elsewhere wins over it,
    // whatever it holds (a platform's `tcp://10.0.0.1:80`, say).
    let out = run(
        &["--check-config", "-b", "127.0.0.1:0"],
        &[("PORT", "tcp://10.0.0.1:80")],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

/// The `key = value` lines of `--print-config` for `args` under `env`.
fn printed(args: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let mut all = vec!["--print-config"];
    all.extend_from_slice(args);
    let out = run(&all, env);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains(" = "))
        .map(str::to_owned)
        .collect()
}

fn assert_has(lines: &[String], want: &str) {
    assert!(lines.iter().any(|l| l == want), "{want} not in {lines:#?}");
}

#[test]
fn precedence_is_gunicorns() {
    let file = temp_file(
        "gunicorn-precedence.toml",
        "workers = 3\nbind = \"127.0.0.1:9001\"\ntimeout = 40\n",
    );
    let file = file.to_str().expect("utf-8 temp path");
    // PORT and WEB_CONCURRENCY are defaults only.
    let env = [("PORT", "5000"), ("WEB_CONCURRENCY", "5")];
    let lines = printed(&[], &env);
    assert_has(&lines, "bind = [\"0.0.0.0:5000\"]");
    assert_has(&lines, "workers = 5");
    let lines = printed(&["-c", file], &env);
    assert_has(&lines, "bind = [\"127.0.0.1:9001\"]");
    assert_has(&lines, "workers = 3");
    // FORWARDED_ALLOW_IPS is the default of forwarded_allow_ips, as in gunicorn.
    let env = [("FORWARDED_ALLOW_IPS", "10.0.0.1,10.1.0.0/16")];
    assert_has(
        &printed(&[], &env),
        "forwarded_allow_ips = [\"10.0.0.1\", \"10.1.0.0/16\"]",
    );
    let lines = printed(&["--forwarded-allow-ips", "*"], &env);
    assert_has(&lines, "forwarded_allow_ips = [\"*\"]");
    // GUNICORN_CMD_ARGS over the file, FORKHORN_CMD_ARGS over it, the command line over both.
    let env = [
        (
            "GUNICORN_CMD_ARGS",
            "--workers 6 --timeout 50 --bind 127.0.0.1:9002 -k gevent",
        ),
        ("FORKHORN_CMD_ARGS", "--timeout 60"),
    ];
    let lines = printed(&["-c", file, "-w", "7"], &env);
    for want in [
        "workers = 7",
        "timeout = 60",
        "bind = [\"127.0.0.1:9002\"]",
        "worker_class = \"gevent\"",
        "threads = 32",
    ] {
        assert_has(&lines, want);
    }
    // The config file may come from GUNICORN_CMD_ARGS too.
    let from_env = format!("-c {file}");
    let lines = printed(&[], &[("GUNICORN_CMD_ARGS", from_env.as_str())]);
    assert_has(&lines, "timeout = 40");
    // Settings print, and read back, whether forkhorn acts on them (statsd_host, reload) or not.
    let lines = printed(&["--statsd-host", "localhost:8125", "--no-sendfile", "--reload"], &[]);
    for want in ["statsd_host = \"localhost:8125\"", "sendfile = false", "reload = true"] {
        assert_has(&lines, want);
    }
}

/// `--check-config` loads the app as a worker would (gunicorn's does), with the configured
/// `chdir` and `raw_env`: 0 when it loads; 1 and the error when it does not.
#[cfg(feature = "python")]
#[test]
fn check_config_imports_the_app() {
    let module = temp_file(
        "check_app.py",
        "import os\n\
         SETTING = os.environ['CHECK_APP_SETTING']\n\
         def app(environ, start_response):\n    pass\n\
         def create_app():\n    return app\n\
         def broken():\n    raise RuntimeError('the factory failed')\n\
         nothing = None\n",
    );
    temp_file("check_missing_dep.py", "import no_such_dependency_xyz\napp = None\n");
    let dir = module
        .parent()
        .expect("a temporary directory")
        .to_str()
        .expect("utf-8 temp path");
    let check = |app: &str| {
        run(
            &["--check-config", "--chdir", dir, "-e", "CHECK_APP_SETTING=x", app],
            &[],
        )
    };
    for app in ["check_app:app", "check_app:create_app()"] {
        let out = check(app);
        assert_eq!(out.status.code(), Some(0), "{app}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{app}");
    }
    let fails = |app: &str, line: &str| {
        let out = check(app);
        assert_eq!(out.status.code(), Some(1), "{app}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().last(), Some(line), "{app}: {stderr}");
        stderr.into_owned()
    };
    // A dependency the module imports is missing: the traceback shows the line that imports it.
    let stderr = fails(
        "check_missing_dep:app",
        "forkhorn: cannot load the application: cannot import module 'check_missing_dep': \
         ModuleNotFoundError: No module named 'no_such_dependency_xyz'",
    );
    assert!(stderr.contains("check_missing_dep.py\", line 1"), "{stderr}");
    // The module itself is missing: its name says it all.
    let stderr = fails(
        "check_nosuch:app",
        "forkhorn: cannot load the application: cannot import module 'check_nosuch': No module named \
         'check_nosuch'",
    );
    assert!(!stderr.contains("Traceback"), "{stderr}");
    fails(
        "check_app:nope",
        "forkhorn: cannot load the application: cannot find attribute 'nope' in module 'check_app'",
    );
    fails(
        "check_app:nothing",
        "forkhorn: cannot load the application: cannot find the application: nothing in module 'check_app' is None",
    );
    let stderr = fails(
        "check_app:broken()",
        "forkhorn: cannot load the application: cannot call the app factory broken(): RuntimeError: the factory \
         failed",
    );
    assert!(stderr.contains("Traceback (most recent call last):"), "{stderr}");
    // The module reads raw_env's variable at import, as it would in a worker.
    let out = run(&["--check-config", "--chdir", dir, "check_app:app"], &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("KeyError: 'CHECK_APP_SETTING'"),
        "{out:?}"
    );
    // With --print-config too, the configuration is printed, then the app is loaded.
    let out = run(
        &["--print-config", "--check-config", "--chdir", dir, "check_app:nope"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("app = \"check_app:nope\""),
        "{out:?}"
    );
    // A built-in app is checked too.
    let out = run(&["--check-config", "builtin:nope"], &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}
