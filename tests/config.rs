//! The configuration as the real binary sees it: one-line errors with exit status 2 and nothing
//! bound, `--check-config`, `--print-config` and the precedence of the sources.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

/// Runs forkhorn to completion with `WEB_CONCURRENCY` as given (never inherited from the test's
/// environment); kills it and fails if it is still running after [`WAIT`].
fn run(args: &[&str], web_concurrency: Option<&str>) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env_remove("WEB_CONCURRENCY")
        .env_remove("PORT")
        .env_remove("GUNICORN_CMD_ARGS")
        .env_remove("FORKHORN_CMD_ARGS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(n) = web_concurrency {
        cmd.env("WEB_CONCURRENCY", n);
    }
    let mut child = cmd.spawn().expect("spawn forkhorn");
    let deadline = Instant::now() + WAIT;
    // The outputs checked here are a few lines, far below a pipe's capacity, so the child
    // cannot block on writing while this waits.
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "forkhorn {args:?} did not exit; it is serving instead. stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.wait_with_output().expect("output")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts a config error: status 2, nothing on stdout, and exactly `line` on stderr.
fn assert_config_error(out: &Output, line: &str) {
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(out));
    assert_eq!(stdout(out), "");
    assert_eq!(stderr(out), format!("{line}\n"));
}

/// A Unix socket path beside the test's config files (short enough for sun_path); the file
/// itself is not created.
fn socket_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("forkhorn-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(format!("{name}.sock"))
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

#[test]
fn unknown_key_is_one_line_and_binds_nothing() {
    let sock = socket_path("unknown");
    let good = format!("bind = [\"unix:{}\", \"127.0.0.1:0\"]\nworkers = 2\n", sock.display());
    let file = temp_file("unknown.toml", &format!("{good}workres = 3\n"));
    let out = run(&["-c", path_str(&file)], None);
    assert_config_error(
        &out,
        &format!(
            "forkhorn: {}:3: key 'workres': unknown setting (did you mean 'workers'?)",
            file.display()
        ),
    );
    assert!(!sock.exists(), "{} was created", sock.display());

    // The control: without the mistake, the same file does bind that socket.
    let fixed = temp_file("unknown-fixed.toml", &good);
    let mut server = Server::start_cmd(Command::new(bin()).args(["-c", path_str(&fixed)]), 2);
    assert!(sock.exists(), "{} was not created by a valid config", sock.display());
    server.signal(Signal::SIGTERM);
    assert!(server.wait_exit().success());
}

#[test]
fn wrong_type_is_one_line_and_binds_nothing() {
    let sock = socket_path("wrongtype");
    let file = temp_file(
        "wrongtype.toml",
        &format!("bind = \"unix:{}\"\nworkers = \"two\"\n", sock.display()),
    );
    let out = run(&["-c", path_str(&file)], None);
    assert_config_error(
        &out,
        &format!(
            "forkhorn: {}:2: key 'workers': expected a positive integer, got \"two\"",
            file.display()
        ),
    );
    assert!(!sock.exists(), "{} was created", sock.display());
}

#[test]
fn bad_address_is_one_line_and_binds_nothing() {
    // The good address comes first: it must not be bound before the bad one is seen.
    let sock = socket_path("badaddr");
    let file = temp_file(
        "badaddr.toml",
        &format!(
            "workers = 1\nbind = [\n  \"unix:{}\",\n  \"127.0.0.1:99999\",\n]\n",
            sock.display()
        ),
    );
    let out = run(&["-c", path_str(&file)], None);
    assert_config_error(
        &out,
        &format!(
            "forkhorn: {}:4: key 'bind': \"127.0.0.1:99999\" is not a valid address (port out of range)",
            file.display()
        ),
    );
    assert!(!sock.exists(), "{} was created", sock.display());
}

#[cfg(feature = "python")]
#[test]
fn a_config_file_of_another_name_is_toml_when_it_is_toml_and_else_python_as_gunicorn_reads_it() {
    // gunicorn runs any -c file as Python (`-c gunicorn.conf` is common).
    let py = temp_file(
        "gunicorn.conf",
        "import multiprocessing\nworkers = 2 + 1\npreload_app = True\ndef when_ready(server):\n    pass\n",
    );
    assert_printed(
        &["-c", path_str(&py), "myapp:app"],
        &[
            "workers = 3",
            "preload_app = true",
            &format!("hooks = \"{}\"", py.display()),
        ],
    );
    // Without wsgi_app or APP, where gunicorn stops ("No application module specified"): the
    // built-in page, said in a warning.
    let out = run(&["-c", path_str(&py), "--check-config"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "forkhorn: warning: {} sets no wsgi_app and no APP was given: serving the built-in page builtin:hello \
             (gunicorn stops here: \"No application module specified\")\n",
            py.display()
        )
    );
    // TOML under a name that is not *.toml.
    let toml = temp_file("forkhorn.conf", "workers = 4\n");
    assert_printed(&["-c", path_str(&toml)], &["workers = 4"]);
    // Neither: the TOML error, the likelier intent for a file that is not Python either.
    let bad = temp_file("broken.conf", "workers = 2\nbind = [\n");
    let out = run(&["-c", path_str(&bad), "--check-config"], None);
    assert_config_error(
        &out,
        &format!(
            "forkhorn: {}:2: invalid TOML: unclosed array, expected `]`",
            bad.display()
        ),
    );
    // Python that raises: the Python error.
    let raising = temp_file("raising.conf", "import no_such_module_here\n");
    let out = run(&["-c", path_str(&raising), "--check-config"], None);
    assert_config_error(
        &out,
        &format!(
            "forkhorn: {}:1: cannot run the Python config file: ModuleNotFoundError: No module named 'no_such_module_here'",
            raising.display()
        ),
    );
}

#[cfg(feature = "python")]
#[test]
fn a_gunicorn_conf_that_imports_gunicorn_runs_without_it_and_its_server_name_is_the_header() {
    // Real configs hide the server's name with `gunicorn.SERVER = ...` and filter the access
    // log with a glogging.Logger subclass; gunicorn is not installed where forkhorn replaced it.
    let py = temp_file(
        "imports_gunicorn.conf.py",
        "import gunicorn\nfrom gunicorn import glogging\ngunicorn.SERVER = 'Undisclosed'\n\
         class HealthFilter(glogging.Logger):\n    def access(self, resp, req, environ, request_time):\n        pass\n\
         logger_class = HealthFilter\nwsgi_app = 'myapp:app'\n",
    );
    let out = run(&["--print-config", "-c", path_str(&py)], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let printed = stdout(&out);
    let lines = settings(&printed);
    for want in [
        "server_header = \"Undisclosed\"",
        "logger_class = \"__config__.HealthFilter\"",
        "app = \"myapp:app\"",
    ] {
        assert!(lines.iter().any(|l| l == want), "{want} not in:\n{printed}");
    }
}

#[cfg(feature = "python")]
#[test]
fn a_setting_assigned_one_of_gunicorns_dicts_is_a_setting() {
    // The imported name itself is gunicorn's, not a setting (no warning); logconfig_dict bound
    // to that very dict, edited in place, is the file's setting, and its level is taken.
    let py = temp_file(
        "config_defaults.conf.py",
        "from gunicorn.glogging import CONFIG_DEFAULTS\nlogconfig_dict = CONFIG_DEFAULTS\n\
         logconfig_dict['loggers']['gunicorn.error']['level'] = 'WARNING'\nwsgi_app = 'myapp:app'\n",
    );
    let out = run(&["--print-config", "-c", path_str(&py)], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let printed = stdout(&out);
    assert!(
        settings(&printed).iter().any(|l| l == "loglevel = \"warning\""),
        "{printed}\n{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("CONFIG_DEFAULTS"), "{}", stderr(&out));
}

#[test]
fn paste_without_an_app_is_refused_rather_than_serving_the_built_in_page() {
    let out = run(&["--paste", "production.ini", "--check-config"], None);
    assert_config_error(
        &out,
        "forkhorn: no application given: forkhorn cannot load a PasteDeploy app (paste): give the app as module:callable (APP, or wsgi_app)",
    );
    // With an app, paste is the usual warning and the app is served.
    let out = run(&["--print-config", "--paste", "production.ini", "myapp:app"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("app = \"myapp:app\""), "{}", stdout(&out));
}

#[test]
fn toml_syntax_error_is_one_line() {
    let file = temp_file("syntax.toml", "workers = 2\ntimeout = 30\nworkers = 3\n");
    let out = run(&["-c", path_str(&file), "--check-config"], None);
    assert_config_error(
        &out,
        &format!("forkhorn: {}:3: invalid TOML: duplicate key 'workers'", file.display()),
    );
}

#[test]
fn missing_file_is_one_line() {
    let file = temp_file("exists.toml", "").with_file_name("does-not-exist.toml");
    let out = run(&["-c", path_str(&file)], None);
    assert_config_error(
        &out,
        &format!(
            "forkhorn: {}: cannot read config file: No such file or directory (os error 2)",
            file.display()
        ),
    );
}

#[test]
fn flag_error_names_the_flag() {
    let out = run(&["-w", "two"], None);
    assert_config_error(&out, "forkhorn: --workers: expected a positive integer, got \"two\"");
    // A negative number is the flag's value, refused by the setting (not a flag of its own).
    let out = run(&["-w", "-1", "--check-config"], None);
    assert_config_error(&out, "forkhorn: --workers: expected a positive integer, got -1");
    // `-c "$UNSET"`: no config file, as argparse gives gunicorn an empty one.
    let out = run(&["-c", "", "--check-config"], None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // The alias is reported under gunicorn's spelling of the flag.
    let out = run(&["--limit-request-field-size", "big"], None);
    assert_config_error(
        &out,
        "forkhorn: --limit-request-field_size: expected a non-negative integer (0 = unlimited), got \"big\"",
    );
    let out = run(&["--limit-request-line=-5"], None);
    assert_config_error(
        &out,
        "forkhorn: --limit-request-line: expected a non-negative integer (0 = unlimited), got -5",
    );
}

#[test]
fn environment_error_names_the_variable() {
    let out = run(&["--check-config"], Some("lots"));
    assert_config_error(
        &out,
        "forkhorn: WEB_CONCURRENCY: expected a positive integer, got \"lots\"",
    );
}

#[test]
fn example_config_checks_clean() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/forkhorn.toml");
    let out = run(&["--check-config", "-c", path_str(&example)], None);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out), "");
}

/// `--print-config` for `args`: status 0, nothing on stderr; the TOML.
fn print_config(args: &[&str], web_concurrency: Option<&str>) -> String {
    let mut all = vec!["--print-config"];
    all.extend_from_slice(args);
    let out = run(&all, web_concurrency);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(stderr(&out), "");
    stdout(&out)
}

/// The setting lines of a printed config, comments left out.
fn settings(toml: &str) -> Vec<String> {
    toml.lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn print_config_reflects_precedence_and_reads_back() {
    let file = temp_file("precedence.toml", "workers = 3\ntimeout = 45\n");
    let file = path_str(&file);
    let cases = [
        (None, &[][..], "workers = 3"),
        // WEB_CONCURRENCY is only the default of workers, as in gunicorn: the file wins.
        (Some("5"), &[][..], "workers = 3"),
        (Some("5"), &["-w", "7"][..], "workers = 7"),
    ];
    for (i, (env, extra, want)) in cases.into_iter().enumerate() {
        let mut args = vec!["-c", file];
        args.extend_from_slice(extra);
        let printed = print_config(&args, env);
        let lines = settings(&printed);
        assert!(lines.iter().any(|l| l == want), "{env:?} {extra:?}: {printed}");
        assert!(lines.iter().any(|l| l == "timeout = 45"), "{printed}");
        assert_every_key_once(&printed);

        // What was printed is a config file forkhorn accepts and that means the same thing.
        let again = temp_file(&format!("printed-{i}.toml"), &printed);
        let out = run(&["--check-config", "-c", path_str(&again)], None);
        assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
        assert_eq!((stdout(&out), stderr(&out)), (String::new(), String::new()));
        assert_eq!(settings(&print_config(&["-c", path_str(&again)], None)), lines);
    }
}

/// The keys `etc/forkhorn.toml` documents: `key = ...` lines, and `# key = ...` examples of
/// settings that are unset by default.
fn example_keys() -> Vec<String> {
    let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/forkhorn.toml"))
        .expect("etc/forkhorn.toml");
    example
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap_or(l))
        .filter_map(|l| l.split_once(" = "))
        .map(|(key, _)| key)
        .filter(|key| {
            !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
        .map(str::to_owned)
        .collect()
}

/// Every documented setting is printed exactly once: set, or as `# KEY is not set`.
fn assert_every_key_once(printed: &str) {
    let keys = example_keys();
    let unset = printed.lines().filter(|l| l.ends_with(" is not set")).count();
    assert_eq!(settings(printed).len() + unset, keys.len(), "{keys:?}");
    for key in &keys {
        let set = format!("{key} = ");
        let unset = format!("# {key} is not set");
        let n = printed.lines().filter(|l| l.starts_with(&set) || *l == unset).count();
        assert_eq!(n, 1, "{key} printed {n} times: {printed}");
    }
}

#[test]
fn print_config_without_a_file_is_the_defaults() {
    let printed = print_config(&[], None);
    let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/forkhorn.toml"))
        .expect("etc/forkhorn.toml");
    let example_settings: Vec<String> = example
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    assert_eq!(settings(&printed), example_settings);
}

#[test]
fn version() {
    let out = run(&["-V"], None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), format!("forkhorn {}\n", env!("CARGO_PKG_VERSION")));
    assert_eq!(stderr(&out), "");
}

#[test]
fn served_with_the_file_settings() {
    // The harness adds -b 127.0.0.1:0, which overrides the file's bind as a flag should.
    let file = temp_file(
        "serve.toml",
        "bind = \"127.0.0.1:1\"\nworkers = 2\nserver_header = \"from-file\"\napp = \"builtin:hello\"\n",
    );
    let s = Server::start(&["-c", path_str(&file)], 2);
    assert_eq!(s.workers().len(), 2);
    let r = s.get("/");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Server"), Some("from-file"));
}

#[test]
fn a_user_that_does_not_exist_is_a_config_error() {
    let file = temp_file("nouser.toml", "workers = 2\n\nuser = \"no-such-user-xyz\"\n");
    let out = run(&["--check-config", "-c", path_str(&file)], None);
    assert_config_error(
        &out,
        &format!(
            "forkhorn: {}:3: key 'user': expected an existing user name or a number, got \"no-such-user-xyz\"",
            file.display()
        ),
    );
    // The control: a user that exists on every Linux machine, and a bare number, are accepted.
    for user in ["root", "65534"] {
        let file = temp_file("user.toml", &format!("user = \"{user}\"\ngroup = \"{user}\"\n"));
        let out = run(&["--check-config", "-c", path_str(&file)], None);
        assert_eq!(out.status.code(), Some(0), "{user}: {}", stderr(&out));
    }
    let out = run(&["--check-config", "-g", "no-such-group-xyz"], None);
    assert_config_error(
        &out,
        "forkhorn: --group: expected an existing group name or a number, got \"no-such-group-xyz\"",
    );
}

#[test]
fn paths_are_checked_against_the_file_system() {
    let dir = temp_file("marker", "").with_file_name("static");
    std::fs::create_dir_all(&dir).expect("static dir");
    let not_a_dir = temp_file("not-a-dir", "");
    let dir_s = path_str(&dir);
    let missing = dir.join("missing");
    let missing_s = path_str(&missing);
    let access = format!("{missing_s}/access.log");

    let pid = dir.join("forkhorn.pid");
    let out = run(
        &[
            "--check-config",
            "--static-root",
            dir_s,
            "--chdir",
            dir_s,
            "-p",
            path_str(&pid),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(!pid.exists(), "--check-config must not write the pid file");

    let cases = [
        (
            vec!["--static-root", path_str(&not_a_dir)],
            format!(
                "--static-root: expected an existing directory, got \"{}\"",
                not_a_dir.display()
            ),
        ),
        (
            vec!["--virtualenv", missing_s],
            format!("--virtualenv: expected an existing directory, got \"{missing_s}\""),
        ),
        (
            vec!["--pid", dir_s],
            format!("--pid: expected a file path in an existing directory, got \"{dir_s}\", which is a directory"),
        ),
        (
            vec!["--access-logfile", access.as_str()],
            format!(
                "--access-logfile: expected \"-\" (stdout) or a file path in an existing directory, got \
                 \"{missing_s}/access.log\", whose directory does not exist"
            ),
        ),
    ];
    for (args, want) in cases {
        let mut all = vec!["--check-config"];
        all.extend_from_slice(&args);
        assert_config_error(&run(&all, None), &format!("forkhorn: {want}"));
    }
}

#[test]
fn new_settings_print_and_read_back() {
    let dir = temp_file("marker", "").with_file_name("root");
    std::fs::create_dir_all(&dir).expect("static dir");
    let file = temp_file(
        "later.toml",
        &format!(
            "forwarded_allow_ips = \"10.0.0.0/8, ::1\"\n\
             secure_scheme_headers = {{ \"X-Scheme\" = \"https\" }}\n\
             static_root = \"{}\"\n\
             max_requests = 500\n\
             umask = \"0027\"\n\
             raw_env = [\"A=1\"]\n",
            dir.display()
        ),
    );
    let printed = print_config(
        &[
            "-c",
            path_str(&file),
            "-D",
            "--proxy-protocol",
            "--proxy-allow-ips",
            "*",
            "-e",
            "B=x=y",
            "--log-syslog-facility",
            "LOCAL1",
            "-n",
            "shop",
        ],
        None,
    );
    let lines = settings(&printed);
    for want in [
        "forwarded_allow_ips = [\"10.0.0.0/8\", \"::1\"]".to_owned(),
        "secure_scheme_headers = { \"X-SCHEME\" = \"https\" }".to_owned(),
        format!("static_root = \"{}\"", dir.display()),
        "max_requests = 500".to_owned(),
        "umask = 0o027".to_owned(),
        "raw_env = [\"B=x=y\"]".to_owned(),
        "daemon = true".to_owned(),
        "proxy_protocol = true".to_owned(),
        "proxy_allow_ips = [\"*\"]".to_owned(),
        "syslog_facility = \"local1\"".to_owned(),
        "proc_name = \"shop\"".to_owned(),
    ] {
        assert!(lines.contains(&want), "{want} not in:\n{printed}");
    }
    assert!(printed.lines().any(|l| l == "# pidfile is not set"), "{printed}");
    assert_every_key_once(&printed);

    let again = temp_file("later-printed.toml", &printed);
    let out = run(&["--check-config", "-c", path_str(&again)], None);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(settings(&print_config(&["-c", path_str(&again)], None)), lines);
}

/// Asserts that each of `want` is one of the setting lines printed for `args`.
fn assert_printed(args: &[&str], want: &[&str]) {
    let printed = print_config(args, None);
    let lines = settings(&printed);
    for w in want {
        assert!(lines.iter().any(|l| l == w), "{args:?}: {w} not in:\n{printed}");
    }
    assert_every_key_once(&printed);
}

#[test]
fn worker_class_and_threads_from_flags() {
    let cases: [(&[&str], [&str; 2]); 5] = [
        (
            &["-k", "gthread", "--threads", "4"],
            ["worker_class = \"gthread\"", "threads = 4"],
        ),
        (&["-k", "sync"], ["worker_class = \"sync\"", "threads = 1"]),
        // A sync worker with threads runs threaded (Config::threaded); the class stays as given.
        (&["--threads", "4"], ["worker_class = \"sync\"", "threads = 4"]),
        (
            &["--worker-class", "gunicorn.workers.gthread.ThreadWorker"],
            ["worker_class = \"gthread\"", "threads = 1"],
        ),
        (
            &["--worker-class=egg:gunicorn#sync", "--threads=2"],
            ["worker_class = \"sync\"", "threads = 2"],
        ),
    ];
    for (args, want) in cases {
        assert_printed(args, &want);
    }
}

#[test]
fn a_repeated_flag_takes_its_last_value() {
    // gunicorn's argparse keeps the last value of a repeated option; so does forkhorn.
    assert_printed(&["--threads", "2", "--threads", "3"], &["threads = 3"]);
    assert_printed(
        &["-k", "gthread", "--worker-class", "sync", "-w", "2", "-w", "5"],
        &["worker_class = \"sync\"", "workers = 5"],
    );
}

#[test]
fn a_long_flag_may_be_shortened_to_a_unique_prefix_as_argparse_allows() {
    assert_printed(
        &[
            "--error-log",
            "-",
            "--max-requests-j",
            "5",
            "--pre",
            "--log-l",
            "debug",
            "myapp:app",
        ],
        &[
            "errorlog = \"-\"",
            "max_requests_jitter = 5",
            "preload_app = true",
            "loglevel = \"debug\"",
        ],
    );
    // In GUNICORN_CMD_ARGS too.
    let mut cmd = Command::new(bin());
    cmd.args(["--print-config"]).env("GUNICORN_CMD_ARGS", "--work 3");
    // Ambiguous (--workers, --worker-class, --worker-connections, ...): refused, as by argparse.
    let out = cmd.output().expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("'--work'"), "{}", stderr(&out));
    let out = run(&["--print-config", "--access-log", "-"], None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("'--access-log'"), "{}", stderr(&out));
}

#[test]
fn proxy_protocol_takes_gunicorns_optional_mode() {
    // gunicorn's `--proxy-protocol [MODE]` (argparse's nargs="?", the flag alone being "auto").
    assert_printed(
        &["--proxy-protocol", "v2", "myapp:app"],
        &["proxy_protocol = true", "app = \"myapp:app\""],
    );
    assert_printed(&["myapp:app", "--proxy-protocol"], &["proxy_protocol = true"]);
    // Written for the plain switch of gunicorn before 24: the next word is not a mode, so it
    // stays the app.
    assert_printed(
        &["--proxy-protocol", "myapp:app"],
        &["proxy_protocol = true", "app = \"myapp:app\""],
    );
    assert_printed(
        &["--proxy-protocol", "V2", "-w", "3"],
        &["proxy_protocol = true", "workers = 3"],
    );
    assert_printed(
        &["--proxy-protocol", "-w", "2"],
        &["proxy_protocol = true", "workers = 2"],
    );
    assert_printed(&["--proxy-protocol=v1"], &["proxy_protocol = true"]);
    assert_printed(
        &["--proxy-protocol", "v1", "--proxy-protocol", "off"],
        &["proxy_protocol = false"],
    );
    assert_config_error(
        &run(&["--print-config", "--proxy-protocol=bogus"], None),
        "forkhorn: --proxy-protocol: expected true, false, \"off\", \"auto\", \"v1\" or \"v2\", got \"bogus\"",
    );
}

#[test]
fn worker_class_and_threads_from_the_file() {
    let file = temp_file("threads.toml", "threads = 8\nworker_class = \"gthread\"\n");
    let file = path_str(&file);
    assert_printed(&["-c", file], &["worker_class = \"gthread\"", "threads = 8"]);
    // The command line beats the file.
    assert_printed(
        &["-c", file, "-k", "sync", "--threads", "1"],
        &["worker_class = \"sync\"", "threads = 1"],
    );
    // What was printed reads back.
    let printed = print_config(&["-c", file], None);
    let again = temp_file("threads-printed.toml", &printed);
    assert_eq!(
        settings(&print_config(&["-c", path_str(&again)], None)),
        settings(&printed)
    );
}

#[test]
fn bad_worker_class_or_threads_is_one_line() {
    let classes = "expected sync, gthread, gevent, eventlet or tornado (gunicorn's names, egg:gunicorn#NAME or class \
                   paths)";
    for class in ["meinheld", "gunicorn.workers.gnope.NopeWorker"] {
        assert_config_error(
            &run(&["-k", class], None),
            &format!("forkhorn: --worker-class: {classes}, got \"{class}\""),
        );
    }
    assert_config_error(
        &run(&["--threads", "1025"], None),
        "forkhorn: --threads: expected an integer from 0 to 1024, got 1025",
    );
    let file = temp_file(
        "badthreads.toml",
        "workers = 2\nworker_class = \"uvicorn.workers.UvicornWorker\"\nthreads = 0\n",
    );
    assert_config_error(
        &run(&["--check-config", "-c", path_str(&file)], None),
        &format!(
            "forkhorn: {}:2: key 'worker_class': \"uvicorn.workers.UvicornWorker\" is an ASGI worker class, and \
             forkhorn serves WSGI apps only (run an ASGI app with uvicorn or another ASGI server)",
            file.display()
        ),
    );
}

#[test]
fn worker_tmp_dir_is_accepted_with_a_warning() {
    let dir = std::env::temp_dir();
    let dir = path_str(&dir);
    let file = temp_file(
        "tmpdir.toml",
        &format!("bind = \"127.0.0.1:0\"\nworker_tmp_dir = {dir:?}\n"),
    );
    for args in [["-c", path_str(&file)], ["--worker-tmp-dir", dir]] {
        let s = Server::start(&args, 1);
        s.wait_log(
            "worker_tmp_dir is accepted for gunicorn compatibility and has no effect: forkhorn's heartbeat uses no file",
            1,
        );
        assert_eq!(s.get("/").status, 200, "{args:?}");
    }
    // --print-config says it too, on stderr, and prints the setting.
    let out = run(&["--print-config", "--worker-tmp-dir", dir], None);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "forkhorn: warning: worker_tmp_dir is accepted for gunicorn compatibility and has no effect: forkhorn's heartbeat uses no file\n"
    );
    assert!(settings(&stdout(&out)).contains(&format!("worker_tmp_dir = {dir:?}")));
}
