//! `gunicorn.conf.py` files written the way real projects write them (`tests/data/gunicorn_conf/`),
//! read by the real binary: `--print-config` shows the settings they give, names forkhorn does
//! not use are one warning line each, and each file serves. Also: `./gunicorn.conf.py` read
//! when no `-c` is given, re-read on HUP, and the one-line errors for a file that raises, is not
//! Python, or gives a setting a wrong value.
#![cfg(feature = "python")]

mod common;
use common::ops::test_dir;
use common::python::apps_dir;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A file of `tests/data/gunicorn_conf`.
fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/gunicorn_conf")
        .join(name)
}

/// forkhorn with `-c FILE`, run in `tests/python` (where the files' `wsgi_app`s import), with
/// only `env` of what the files read from the environment.
fn command(file: &Path, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.current_dir(apps_dir())
        .env_remove("VIRTUAL_ENV")
        .env_remove("WEB_CONCURRENCY")
        .env_remove("PORT")
        .arg("-c")
        .arg(file)
        .args(args)
        .envs(env.iter().copied());
    cmd
}

/// Runs a command that exits by itself (a check or an error), with its output.
fn output(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("run forkhorn")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `--print-config` of `file`: asserts success and returns stdout and stderr.
fn print_config(file: &Path, env: &[(&str, &str)]) -> (String, String) {
    let out = output(&mut command(file, env, &["--print-config"]));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{}: {stderr}", file.display());
    (stdout, stderr)
}

/// Asserts that each of `lines` is a line of `toml`.
fn assert_settings(toml: &str, lines: &[&str]) {
    for line in lines {
        assert!(toml.lines().any(|l| l == *line), "no line {line:?} in:\n{toml}");
    }
}

/// The warning lines of a check's stderr, without the `forkhorn: warning: FILE:` prefix.
fn warnings(stderr: &str, file: &Path) -> Vec<String> {
    let prefix = format!("forkhorn: warning: {}:", file.display());
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(str::to_owned)
        .collect()
}

/// The pids of the `Booting worker with pid: PID` lines of a log.
fn booted_pids(log: &[String]) -> Vec<String> {
    log.iter()
        .filter_map(|l| l.split("Booting worker with pid: ").nth(1))
        .map(str::to_owned)
        .collect()
}

/// The `hooks = ...` line `--print-config` shows for a file that defines hooks: itself.
fn hooks_line(file: &Path) -> String {
    format!("hooks = \"{}\"", file.display())
}

/// Starts the server for `file` and checks that `/` answers `body`; stops it.
fn serves(file: &Path, env: &[(&str, &str)], workers: usize, body: &str) -> Server {
    let mut server = Server::start_cmd(&mut command(file, env, &[]), workers);
    let response = server.get("/");
    assert_eq!(
        (response.status, response.text().contains(body)),
        (200, true),
        "{response:?}"
    );
    server.signal(Signal::SIGTERM);
    assert!(server.wait_exit().success());
    server
}

#[test]
fn django_docker() {
    let file = data("django_docker.py");
    let env = [("GUNICORN_BIND", "127.0.0.1:0"), ("GUNICORN_WORKERS", "2")];
    let (toml, stderr) = print_config(&file, &env);
    assert_settings(
        &toml,
        &[
            "bind = [\"127.0.0.1:0\"]",
            "workers = 2",
            "worker_class = \"gthread\"",
            "threads = 2",
            "timeout = 120",
            "keepalive = 5",
            "accesslog = \"-\"",
            "errorlog = \"-\"",
            "loglevel = \"info\"",
            "capture_output = true",
            "worker_tmp_dir = \"/dev/shm\"",
            "app = \"wsgi_apps:hello\"",
            &hooks_line(&file),
        ],
    );
    assert_eq!(warnings(&stderr, &file), Vec::<String>::new(), "{stderr}");
    // Without GUNICORN_WORKERS the file's own formula applies.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (toml, _) = print_config(&file, &env[..1]);
    assert_settings(&toml, &[&format!("workers = {}", cores * 2 + 1)]);
    let server = serves(&file, &env, 2, "Hello, World!");
    // post_fork ran in each worker, with the worker's pid.
    let log = server.log();
    let booted = booted_pids(&log);
    assert_eq!(booted.len(), 2, "{log:?}");
    for pid in booted {
        let line = format!("[{pid}] [INFO] Worker spawned (pid: {pid})");
        assert!(log.iter().any(|l| l.ends_with(&line)), "no {line:?} in {log:?}");
    }
}

#[test]
fn heroku() {
    let file = data("heroku.py");
    let env = [("HOST", "127.0.0.1"), ("PORT", "0")];
    let (toml, stderr) = print_config(&file, &env);
    assert_settings(
        &toml,
        &[
            "bind = [\"127.0.0.1:0\"]",
            "workers = 2",
            "preload_app = true",
            "max_requests = 1000",
            "max_requests_jitter = 50",
            "forwarded_allow_ips = [\"*\"]",
            "timeout = 30",
            "graceful_timeout = 30",
            "app = \"wsgi_apps:echo\"",
            &hooks_line(&file),
        ],
    );
    assert_eq!(
        warnings(&stderr, &file),
        [
            "4: 'host' is not a forkhorn setting: ignored",
            "5: 'port' is not a forkhorn setting: ignored",
        ],
        "{stderr}"
    );
    let server = serves(&file, &env, 2, "\"PATH_INFO\":\"/\"");
    // when_ready, in the master (beside the preloaded app), before any worker is forked.
    let log = server.log();
    let at = |needle: &str| log.iter().position(|l| l.contains(needle));
    let ready = at(&format!("[{}] [INFO] Server is ready. Spawning workers", server.pid()));
    assert!(ready.is_some(), "{log:?}");
    assert!(ready < at("Booting worker"), "{log:?}");
}

#[test]
fn hooks_and_logging() {
    // The file's child_exit is prometheus_client's documented one: it runs in the virtualenv.
    let venv = common::python::venv();
    let venv_arg = venv.to_str().expect("UTF-8 venv path");
    let file = data("hooks_and_logging.py");
    let run = test_dir("hooks");
    let run_dir = run.to_str().expect("UTF-8 temp dir");
    let metrics = run.join("prometheus");
    std::fs::create_dir_all(&metrics).expect("metrics dir");
    let metrics_dir = metrics.to_str().expect("UTF-8 temp dir");
    let env = [
        ("RUN_DIR", run_dir),
        ("METRICS_BIND", "127.0.0.1:0"),
        ("PROMETHEUS_MULTIPROC_DIR", metrics_dir),
    ];
    let (toml, stderr) = print_config(&file, &env);
    assert_settings(
        &toml,
        &[
            &format!("bind = [\"unix:{run_dir}/api.sock\", \"127.0.0.1:0\"]"),
            "workers = 2",
            "proc_name = \"api\"",
            &format!("pidfile = \"{run_dir}/gunicorn.pid\""),
            &hooks_line(&file),
        ],
    );
    assert_eq!(
        warnings(&stderr, &file),
        [
            "6: 'RUN_DIR' is not a forkhorn setting: ignored",
            "13: 'logconfig_dict': the level of the root logger (INFO) is taken as loglevel; its handlers, \
             formatters and other loggers are ignored (forkhorn logs to errorlog, or syslog)",
        ],
        "{stderr}"
    );
    let mut server = Server::start_cmd(&mut command(&file, &env, &["--virtualenv", venv_arg]), 2);
    // on_starting, in the master; post_fork, in each worker.
    server.wait_log(&format!("[{}] [INFO] starting api", server.pid()), 1);
    server.wait_log("Ready: 2 workers serving", 1);
    let pids = booted_pids(&server.log());
    for pid in &pids {
        server.wait_log(&format!("[{pid}] [INFO] Worker spawned (pid: {pid})"), 1);
    }
    assert_eq!(server.get("/").status, 200);
    // child_exit: mark_process_dead(worker.pid) removes that worker's live-gauge file.
    let victim: i32 = pids[0].parse().expect("pid");
    let gauge = metrics.join(format!("gauge_livesum_{victim}.db"));
    let other = metrics.join(format!("gauge_livesum_{}.db", pids[1]));
    std::fs::write(&gauge, b"").expect("gauge file");
    std::fs::write(&other, b"").expect("gauge file");
    assert!(kill(victim, Signal::SIGKILL));
    wait_until("child_exit removed the killed worker's gauge file", || !gauge.exists());
    assert!(other.exists(), "the live worker's file stays");
    server.wait_log("Booting worker", 3);
    server.signal(Signal::SIGTERM);
    assert!(server.wait_exit().success());
    assert!(
        !server.log().iter().any(|l| l.contains("Exception in")),
        "{:?}",
        server.log()
    );
    let _ = std::fs::remove_dir_all(&run);
}

#[test]
fn gevent_workers() {
    // gevent has no forkhorn worker: the app runs on the threaded worker, 32 threads with
    // `threads` left at 1, and one warning line says so and names the setting to change.
    let file = data("gevent_workers.py");
    let (toml, stderr) = print_config(&file, &[]);
    assert_settings(
        &toml,
        &["worker_class = \"gevent\"", "threads = 32", "loglevel = \"warning\""],
    );
    let said: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("worker_class \"gevent\""))
        .collect();
    assert_eq!(said.len(), 1, "{stderr}");
    assert!(
        said[0].contains("32 threads per worker") && said[0].contains("--threads"),
        "{stderr}"
    );
    // Served (at log level info, so that the harness sees the listening line).
    let mut server = Server::start_cmd(&mut command(&file, &[], &["--log-level", "info", "-w", "1"]), 1);
    assert_eq!(server.get("/").status, 200);
    // worker_int: in the worker told to quit, which the master then replaces.
    let worker = server.workers()[0];
    assert!(kill(worker, Signal::SIGINT));
    server.wait_log(&format!("[{worker}] [INFO] worker received INT or QUIT signal"), 1);
    server.wait_log("Booting worker", 2);
    assert_eq!(server.get("/").status, 200);
    server.signal(Signal::SIGTERM);
    assert!(server.wait_exit().success());
}

#[test]
fn systemd_socket() {
    let file = data("systemd_socket.py");
    let run = test_dir("systemd");
    let run_dir = run.to_str().expect("UTF-8 temp dir");
    let env = [
        ("RUN_DIR", run_dir),
        ("SHOP_ROOT", "/srv/shop"),
        ("HEALTHCHECK_BIND", "127.0.0.1:0"),
    ];
    let (toml, stderr) = print_config(&file, &env);
    assert_settings(
        &toml,
        &[
            &format!("bind = [\"unix:{run_dir}/gunicorn.sock\", \"127.0.0.1:0\"]"),
            "workers = 3",
            "umask = 0o007",
            "# user is not set",
            "daemon = false",
            &format!("pidfile = \"{run_dir}/gunicorn.pid\""),
            "proc_name = \"shop\"",
            "pythonpath = [\"/srv/shop\", \"/srv/shop/lib\"]",
            "raw_env = [\"DJANGO_SETTINGS_MODULE=shop.settings.production\", \"LANG=C.UTF-8\"]",
            "access_log_format = \"%(h)s %(l)s %(u)s %(t)s \\\"%(r)s\\\" %(s)s %(b)s \\\"%(f)s\\\" \\\"%(a)s\\\" %(D)s\"",
        ],
    );
    assert_eq!(
        warnings(&stderr, &file),
        [
            "4: 'SHOP_ROOT' is not a forkhorn setting: ignored",
            "5: 'RUN_DIR' is not a forkhorn setting: ignored",
        ],
        "{stderr}"
    );
    assert_settings(&toml, &[&hooks_line(&file)]);
    // on_reload on HUP, with the settings as re-read; on_exit last, in the master.
    let mut server = Server::start_cmd(&mut command(&file, &env, &[]), 3);
    server.signal(Signal::SIGHUP);
    server.wait_log(&format!("[{}] [INFO] Reloading shop with 3 workers", server.pid()), 1);
    server.wait_log("Reload complete", 1);
    assert_eq!(server.get("/").text(), "Hello, World!");
    server.signal(Signal::SIGTERM);
    assert!(server.wait_exit().success());
    let log = server.log();
    let last = log.iter().rev().find(|l| l.contains("[INFO]"));
    let pid = server.pid();
    assert_eq!(
        last.map(|l| l.ends_with(&format!("[{pid}] [INFO] shop stopped (pid: {pid})"))),
        Some(true),
        "{log:?}"
    );
    let _ = std::fs::remove_dir_all(&run);
}

#[test]
fn flask_dev() {
    let file = data("flask_dev.py");
    let env = [("FLASK_PORT", "0")];
    let (toml, stderr) = print_config(&file, &env);
    assert_settings(
        &toml,
        &[
            "bind = [\"127.0.0.1:0\"]",
            "workers = 1",
            "threads = 4",
            "loglevel = \"debug\"",
            "timeout = 0",
            "access_log_format = \"%(h)s \\\"%(r)s\\\" %(s)s %(b)s %(D)sus\"",
            "reload = true",
            "reload_extra_files = [\"templates/index.html\", \"static/app.css\"]",
        ],
    );
    assert_eq!(
        warnings(&stderr, &file),
        ["4: 'PORT' is not a forkhorn setting: ignored"],
        "{stderr}"
    );
    // reload and reload_extra_files are forkhorn settings too: taken without a warning.
    assert!(!stderr.contains("forkhorn: warning: reload"), "{stderr}");
    let mut server = Server::start_cmd(&mut command(&file, &env, &[]), 1);
    assert_eq!(server.get("/").status, 200);
    // accesslog = "-": the request's line, in the file's format, on stdout, as gunicorn writes it.
    let logged = |lines: Vec<String>| {
        lines
            .iter()
            .any(|l| l.starts_with("127.0.0.1 \"GET / HTTP/1.1\" 200 13 "))
    };
    wait_until("the access log line on stdout", || logged(server.stdout()));
    // pre_request and post_request, around the request, in the worker.
    let worker = server.workers()[0];
    let before = server.wait_log(&format!("[{worker}] [DEBUG] GET /"), 1);
    let after = server.wait_log(&format!("[{worker}] [DEBUG] GET / -> 200 OK"), 1);
    let log = server.log();
    assert!(
        log.iter().position(|l| *l == before) < log.iter().position(|l| *l == after),
        "{log:?}"
    );
    server.signal(Signal::SIGTERM);
    // The master's last line: every line the workers wrote to stderr before is read by now.
    server.wait_log("Shutting down: Master", 1);
    assert!(!logged(server.log()), "the access line goes to stdout only");
    assert!(server.wait_exit().success());
}

#[test]
fn environment_switch_and_migration_to_toml() {
    let file = data("environment_switch.py");
    let env = [("BIND", "127.0.0.1:0")];
    let (toml, stderr) = print_config(&file, &env);
    assert_settings(
        &toml,
        &[
            "workers = 4",
            "loglevel = \"warning\"",
            "backlog = 4096",
            "limit_request_line = 8190",
            "limit_request_fields = 200",
            "limit_request_field_size = 16380",
            "secure_scheme_headers = { \"X-FORWARDED-PROTO\" = \"https\" }",
            "forwarded_allow_ips = [\"10.0.0.0/8\", \"127.0.0.1\"]",
            &hooks_line(&file),
        ],
    );
    // What the file prints goes to stderr: stdout is only the TOML.
    assert!(
        stderr.contains("[gunicorn.conf.py] production: 4 workers, log level warning"),
        "{stderr}"
    );
    let (dev, _) = print_config(&file, &[("BIND", "127.0.0.1:0"), ("APP_ENV", "development")]);
    assert_settings(&dev, &["workers = 1", "loglevel = \"debug\""]);

    // The migration path: the printed TOML, read back, is the same configuration.
    let dir = test_dir("migrate");
    let migrated = dir.join("forkhorn.toml");
    std::fs::write(&migrated, &toml).expect("write forkhorn.toml");
    let (again, again_stderr) = print_config(&migrated, &[]);
    let settings = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with("# Sources"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(settings(&again), settings(&toml));
    // Read back, the file says again what forkhorn accepts without acting on (`sendfile`), and
    // nothing else: the Python file's own notes do not carry over.
    let ignored = |stderr: &str| {
        stderr
            .lines()
            .filter(|l| l.starts_with("forkhorn: warning: ") && !l.contains("environment_switch.py"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        again_stderr.lines().count(),
        ignored(&again_stderr).len(),
        "{again_stderr}"
    );
    assert_eq!(ignored(&again_stderr), ignored(&stderr));
    assert!(again_stderr.contains("forkhorn: warning: sendfile "), "{again_stderr}");

    // Served as in development: at log level warning the server would not log its address.
    let mut server = Server::start_cmd(
        &mut command(&file, &[("BIND", "127.0.0.1:0"), ("APP_ENV", "development")], &[]),
        1,
    );
    // post_worker_init, once the app is loaded; nworkers_changed on TTIN.
    let worker = server.workers()[0];
    let master = server.pid();
    server.wait_log(
        &format!("[{worker}] [INFO] development worker {worker} ready (parent {master})"),
        1,
    );
    server.signal(Signal::SIGTTIN);
    server.wait_log(&format!("[{master}] [INFO] workers: 1 -> 2"), 1);
    server.wait_log("development worker", 2);
    assert_eq!(server.get("/").text(), "Hello, World!");
    server.signal(Signal::SIGTERM);
    assert!(server.wait_exit().success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn default_file_is_read_and_re_read_on_hup() {
    // gunicorn.conf.py in the working directory is read without -c; forkhorn.toml is not.
    let dir = test_dir("default");
    std::fs::write(dir.join("gunicorn.conf.py"), "bind = '127.0.0.1:0'\nworkers = 1\n").expect("write");
    std::fs::write(dir.join("forkhorn.toml"), "workers = 3\n").expect("write");
    let mut cmd = Command::new(bin());
    cmd.current_dir(&dir).env_remove("WEB_CONCURRENCY");
    let out = output(Command::new(bin()).current_dir(&dir).arg("--print-config"));
    assert_settings(&text(&out.stdout), &["bind = [\"127.0.0.1:0\"]", "workers = 1"]);

    let mut server = Server::start_cmd(&mut cmd, 1);
    server.wait_log("Reading gunicorn.conf.py", 1);
    std::fs::write(dir.join("gunicorn.conf.py"), "bind = '127.0.0.1:0'\nworkers = 2\n").expect("rewrite");
    server.signal(Signal::SIGHUP);
    // The new generation: two more workers, from the file as it is now.
    server.wait_log("Booting worker", 3);
    assert_eq!(server.get("/").status, 200);
    server.signal(Signal::SIGTERM);
    assert!(server.wait_exit().success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `raw_env` reaches the app's `os.environ` in every arrangement of the master's interpreter:
/// none, one started for the server hooks, one with the preloaded app; and a HUP that changes
/// it reaches the new workers (gunicorn sets it in the arbiter, before anything is loaded, and
/// again on each reload).
#[test]
fn raw_env_reaches_os_environ_with_hooks_and_preload() {
    let dir = test_dir("raw-env");
    let value = dir.join("value");
    let cases = [
        ("plain.py", ""),
        ("hooks.py", "def post_fork(server, worker):\n    pass\n"),
        ("preload.py", "preload_app = True\n"),
        ("both.py", "preload_app = True\ndef on_starting(server):\n    pass\n"),
    ];
    for (name, extra) in cases {
        std::fs::write(&value, "first").expect("write value");
        let file = dir.join(name);
        let body = format!(
            "import os\nbind = '127.0.0.1:0'\nworkers = 1\nwsgi_app = 'wsgi_apps:environ_var'\n\
             raw_env = ['FH_RAW=' + open(os.environ['FH_VALUE_FILE']).read()]\n{extra}"
        );
        std::fs::write(&file, body).expect("write conf");
        let value_env = value.to_str().expect("UTF-8 path");
        let mut server = Server::start_cmd(&mut command(&file, &[("FH_VALUE_FILE", value_env)], &[]), 1);
        assert_eq!(server.get("/?FH_RAW").text(), "first", "{name}: {:?}", server.log());
        let old = server.workers();
        std::fs::write(&value, "second").expect("rewrite value");
        server.signal(Signal::SIGHUP);
        server.wait_log("Booting worker", 2);
        for pid in old {
            server.wait_log(&format!("Worker exiting (pid: {pid})"), 1);
        }
        assert_eq!(server.get("/?FH_RAW").text(), "second", "{name}: {:?}", server.log());
        server.signal(Signal::SIGTERM);
        assert!(server.wait_exit().success());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn errors_are_one_line_and_bind_nothing() {
    let dir = test_dir("errors");
    let sock = dir.join("e.sock");
    let bind = format!("bind = 'unix:{}'\n", sock.display());
    let cases = [
        (
            "raises.py",
            format!("import os\n{bind}\nDATABASE_URL = os.environ['FORKHORN_TEST_NO_SUCH_VAR']\n"),
            "4: cannot run the Python config file: KeyError: 'FORKHORN_TEST_NO_SUCH_VAR'",
        ),
        (
            "syntax.py",
            format!("{bind}workers = 2 +\n"),
            "2: cannot run the Python config file: SyntaxError: invalid syntax",
        ),
        (
            "wrong_type.py",
            format!("import os\n{bind}workers = os.environ.get('FORKHORN_TEST_NO_SUCH_VAR', 'four')\n"),
            "3: name 'workers': expected a positive integer, got \"four\"",
        ),
        (
            "wrong_kind.py",
            format!("{bind}timeout = {{'seconds': 30}}\n"),
            "2: name 'timeout': expected a non-negative number of seconds, got a table",
        ),
    ];
    for (name, source, want) in cases {
        let file = dir.join(name);
        std::fs::write(&file, source).expect("write");
        let out = output(&mut command(&file, &[], &[]));
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "");
        assert_eq!(text(&out.stderr), format!("forkhorn: {}:{want}\n", file.display()));
        assert!(!sock.exists(), "{name}: the socket was bound");
    }
    let missing = dir.join("missing.py");
    let out = output(&mut command(&missing, &[], &[]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with(&format!("forkhorn: {}: cannot read config file: ", missing.display())),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_file_runs_in_the_virtualenv_of_the_command_line() {
    // A config file that imports from the app's virtualenv (as prometheus setups do) needs it.
    let venv = common::python::venv();
    let dir = test_dir("venv");
    let file = dir.join("gunicorn.conf.py");
    std::fs::write(&file, "import flask\n\nproc_name = 'shop-' + flask.__name__\n").expect("write");
    let venv_arg = venv.to_str().expect("UTF-8 venv path");
    let out = output(&mut command(&file, &[], &["--virtualenv", venv_arg, "--print-config"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_settings(&text(&out.stdout), &["proc_name = \"shop-flask\""]);

    // A directory that is no virtualenv: the one line says so.
    let dir_arg = dir.to_str().expect("UTF-8 temp dir");
    let out = output(&mut command(&file, &[], &["--virtualenv", dir_arg, "--check-config"]));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        format!(
            "forkhorn: {}: cannot evaluate the Python config file: cannot use virtualenv {dir_arg}: no {dir_arg}/bin/python\n",
            file.display()
        )
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn python_module_config() {
    // gunicorn's `-c python:MODULE`: imported by name from the working directory.
    let dir = test_dir("module");
    std::fs::create_dir_all(dir.join("shopconf")).expect("package dir");
    std::fs::write(dir.join("shopconf/__init__.py"), "").expect("write");
    std::fs::write(
        dir.join("shopconf/gunicorn_settings.py"),
        "import os\n\nbind = '127.0.0.1:0'\nworkers = 3\nmax_requests = os.environ.get('MAX_REQUESTS', 'lots')\n",
    )
    .expect("write");
    let run = |module: &str, env: &[(&str, &str)]| {
        output(
            Command::new(bin())
                .current_dir(&dir)
                .env_remove("WEB_CONCURRENCY")
                .env_remove("MAX_REQUESTS")
                .envs(env.iter().copied())
                .args(["-c", module, "--print-config"]),
        )
    };
    let out = run("python:shopconf.gunicorn_settings", &[("MAX_REQUESTS", "500")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_settings(
        &text(&out.stdout),
        &["bind = [\"127.0.0.1:0\"]", "workers = 3", "max_requests = 500"],
    );
    // Errors name the location as given, with the module's line.
    let out = run("python:shopconf.gunicorn_settings", &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("forkhorn: python:shopconf.gunicorn_settings:5: name 'max_requests': expected ")
            && stderr.ends_with(", got \"lots\"\n")
            && stderr.lines().count() == 1,
        "{stderr}"
    );
    let out = run("python:shopconf.nosuch", &[]);
    assert_eq!(
        (out.status.code(), text(&out.stderr)),
        (
            Some(2),
            "forkhorn: python:shopconf.nosuch: cannot run the Python config file: ModuleNotFoundError: No module \
             named 'shopconf.nosuch'\n"
                .to_owned()
        )
    );
    let _ = std::fs::remove_dir_all(&dir);
}
