//! Server hooks (gunicorn's `on_starting` ... `on_exit`), run by the real binary: each hook of
//! `tests/data/hooks/every_hook.py` writes a line about its call to `$HOOK_LOG`, and the tests
//! drive the server through every moment a hook is called at (requests, TTIN, a killed worker,
//! HUP, INT to a worker, a timeout, TERM). Also: hooks from a TOML configuration's `hooks`
//! module with a Rust app, hooks that raise, and prometheus_client's multiprocess mode end to end.
#![cfg(feature = "python")]

mod common;
use common::ops::{lines, test_dir, wait_file};
use common::python::{apps_dir, venv};
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A file of `tests/data/hooks`.
fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/hooks")
        .join(name)
}

/// forkhorn with `args`, run in `tests/python` (where the apps import), hooks writing to `log`.
fn command(log: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.current_dir(apps_dir())
        .env_remove("VIRTUAL_ENV")
        .env_remove("WEB_CONCURRENCY")
        .env_remove("PORT")
        .env("HOOK_LOG", log)
        .args(args);
    cmd
}

/// forkhorn with the config file `file` (`-c`), hooks writing to `log`, once `workers` booted.
fn start_with(log: &Path, file: &Path, workers: usize) -> Server {
    Server::start_cmd(&mut command(log, &["-c", file.to_str().expect("UTF-8 path")]), workers)
}

/// The pids of the workers that logged `Booting worker with pid: PID`, in order.
fn booted(server: &Server) -> Vec<i32> {
    server
        .log()
        .iter()
        .filter_map(|l| l.split("Booting worker with pid: ").nth(1)?.parse().ok())
        .collect()
}

/// Asserts that the hook log has the line `want`.
fn assert_line(log: &Path, want: &str) {
    let all = lines(log);
    assert!(
        all.iter().any(|l| l == want),
        "no line {want:?} in:\n{}",
        all.join("\n")
    );
}

/// Where `want` is among the hook log's lines.
fn position(log: &Path, want: &str) -> usize {
    let all = lines(log);
    all.iter()
        .position(|l| l == want)
        .unwrap_or_else(|| panic!("no line {want:?} in:\n{}", all.join("\n")))
}

#[test]
fn every_hook_is_called_where_gunicorn_calls_it() {
    let dir = test_dir("every");
    let log = dir.join("hooks.log");
    let file = data("every_hook.py");
    let mut server = start_with(&log, &file, 2);
    server.wait_log("Ready: 2 workers serving", 1);
    let m = server.pid();
    let workers = booted(&server);
    let (w1, w2) = (workers[0], workers[1]);

    // Start-up, in gunicorn's order: the worker count, on_starting before the sockets are bound
    // (the configured bind, port 0), when_ready before any fork, then per worker pre_fork in the
    // master and post_fork and post_worker_init in the worker (not booted yet, as in gunicorn).
    let start = [
        "nworkers_changed 2 None".to_owned(),
        format!("on_starting {m} 2 ['127.0.0.1:0'] wsgi_apps:hello"),
        format!("when_ready {m} 2"),
        format!("pre_fork {m} 1 [booting]"),
    ];
    assert_eq!(lines(&log)[..4], start, "{:?}", lines(&log));
    let mut ages = Vec::new();
    for pid in [w1, w2] {
        let init = wait_file(&log, &format!("post_worker_init {pid} False"), 1);
        // post_fork PID PPID AGE GETPID: the worker object is this process.
        let post_fork = wait_file(&log, &format!("post_fork {pid} {m} "), 1);
        let age: usize = post_fork
            .split(' ')
            .nth(3)
            .and_then(|a| a.parse().ok())
            .expect("an age");
        assert_eq!(post_fork, format!("post_fork {pid} {m} {age} {pid}"));
        assert!(position(&log, &format!("pre_fork {m} {age} [booting]")) < position(&log, &post_fork));
        assert!(position(&log, &post_fork) < position(&log, &init));
        ages.push(age);
    }
    ages.sort_unstable();
    assert_eq!(ages, [1, 2]);
    let w1_age = lines(&log)
        .iter()
        .find_map(|l| {
            l.strip_prefix(&format!("post_fork {w1} {m} "))?
                .split(' ')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .expect("w1's age");

    // pre_request and post_request around a request, in the worker that served it; req.path is
    // the target as sent (gunicorn's), the environ's PATH_INFO decoded.
    let response =
        server.exchange(b"GET /hello%20there?a=1&b=2 HTTP/1.1\r\nHost: x\r\nX-Trace: t-1\r\nConnection: close\r\n\r\n");
    assert!(
        response.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "{}",
        String::from_utf8_lossy(&response)
    );
    let post = wait_file(&log, "post_request ", 1);
    let pid: i32 = post.split(' ').nth(1).and_then(|p| p.parse().ok()).expect("a pid");
    assert!(workers.contains(&pid), "{post}");
    assert_eq!(
        post,
        format!("post_request {pid} /hello%20there /hello there 200 OK 200")
    );
    // gunicorn's resp.headers (the app's), response_length (no Content-Length given), sent
    // (the body's 13 bytes) and req.peer_addr (host, port).
    // The hook writes this line after the one above: waited for, not read at once.
    assert_eq!(
        wait_file(&log, &format!("resp {pid} "), 1),
        format!("resp {pid} [('Content-Type', 'text/plain; charset=utf-8')] None 13 127.0.0.1"),
    );
    assert!(
        position(
            &log,
            &format!("pre_request {pid} GET /hello%20there a=1&b=2 /hello%20there?a=1&b=2 (1, 1) X-TRACE=t-1")
        ) < position(&log, &post)
    );

    // TTIN: nworkers_changed with the new and old counts, then a third worker.
    server.signal(Signal::SIGTTIN);
    wait_file(&log, "nworkers_changed 3 2", 1);
    wait_file(&log, "post_worker_init ", 3);
    wait_file(&log, &format!("pre_fork {m} 3 [booting]"), 1);

    // A killed worker: child_exit in the master, with its pid and age.
    assert!(kill(w1, Signal::SIGKILL));
    wait_file(&log, &format!("child_exit {m} {w1} {w1_age}"), 1);
    server.wait_log("Booting worker", 4);

    // HUP: the file is read again (2 workers), the count changes, then on_reload.
    server.signal(Signal::SIGHUP);
    wait_file(&log, &format!("on_reload {m} 2"), 1);
    assert!(position(&log, "nworkers_changed 2 3") < position(&log, &format!("on_reload {m} 2")));
    server.wait_log("Reload complete", 1);

    // INT to a worker: worker_int, then worker_exit, in that worker; the master's child_exit.
    // A worker of the new generation: the old ones are on their way out.
    wait_until("only the new generation's two workers are left", || {
        server.workers().len() == 2
    });
    let current: Vec<i32> = server.workers();
    let target = current[0];
    assert!(kill(target, Signal::SIGINT));
    wait_file(&log, &format!("child_exit {m} {target} "), 1);
    assert!(
        position(&log, &format!("worker_int {target}")) < position(&log, &format!("worker_exit {target} {target}"))
    );

    // TERM: each worker's worker_exit and child_exit; on_exit last, in the master.
    server.signal(Signal::SIGTERM);
    assert!(server.wait_exit().success());
    let all = lines(&log);
    assert_eq!(
        all.last().map(String::as_str),
        Some(format!("on_exit {m}").as_str()),
        "{all:?}"
    );
    // (The SIGKILLed worker had no last act.)
    for pid in booted(&server).into_iter().filter(|p| *p != w1) {
        assert_line(&log, &format!("worker_exit {pid} {pid}"));
        assert!(
            all.iter().any(|l| l.starts_with(&format!("child_exit {m} {pid} "))),
            "no child_exit for {pid}: {all:?}"
        );
    }
    assert!(
        !server.log().iter().any(|l| l.contains("Exception in")),
        "{:?}",
        server.log()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The JSON record of `event` that `gunicorn_objects.py` wrote, the `count`th of them.
fn record(log: &Path, event: &str, count: usize) -> serde_json::Value {
    let line = wait_file(log, &format!("\"event\": \"{event}\""), count);
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

#[test]
fn hooks_read_the_objects_gunicorn_gives_them() {
    // tests/data/hooks/gunicorn_objects.py imports what real config files import from gunicorn
    // (the stand-in here: the test venv has no gunicorn) and reads what their hooks read: the
    // settings through server.cfg (forkhorn's, gunicorn's defaults for the others, the file's
    // logconfig_dict), the listeners, the worker table, the worker's attributes, a Logger
    // subclass's atoms. Each record must be exactly what gunicorn would give.
    let dir = test_dir("objects");
    let log = dir.join("hooks.log");
    let file = data("gunicorn_objects.py");
    let mut server = start_with(&log, &file, 2);
    let m = server.pid();
    let port = listen_addr(&server.wait_log("Listening at: http://", 1)).port();
    let address = format!("http://127.0.0.1:{port}");
    let ready = record(&log, "when_ready", 1);
    assert_eq!(
        ready,
        serde_json::json!({
            "event": "when_ready",
            "arbiter": true,
            "config": true,
            "app_cfg": true,
            "pid": m,
            "listeners": [address],
            "address": [["127.0.0.1", 0]],
            "timeout": 20,
            "proc_name": "wsgi_apps:hello",
            "workers": [2, 2, 2],
            "worker_class": ["sync", "SyncWorker"],
            "threads": 1,
            "env": {"HOOKS_ENV": "on"},
            "ids": [true, true],
            "ssl": [false, null],
            "defaults": [false, true, "", ["h1"], "auto"],
            "log_format": "%(asctime)s %(levelname)s %(message)s",
            "max_requests": 1000,
            "known": [true, false],
            "hooks": [true, null],
            "util": ["Thu, 01 Jan 1970 00:00:00 GMT", true, false, true],
            "table": [],
        })
    );

    // Each worker: the object pre_fork tagged, of the sync worker's class, its app loaded, raw_env
    // in os.environ; timeout is half the setting's, as gunicorn's arbiter gives it.
    let workers = booted(&server);
    let mut tags = Vec::new();
    for n in 1..=2 {
        let init = record(&log, "post_worker_init", n);
        let pid = init["pid"].as_i64().expect("a pid") as i32;
        assert!(workers.contains(&pid), "{init}");
        let tag = init["tag"].as_str().expect("a tag").to_owned();
        assert_eq!(
            init,
            serde_json::json!({
                "event": "post_worker_init",
                "pid": pid,
                "ppid": m,
                "tag": tag,
                "classes": [true, true, "SyncWorker"],
                "state": [false, true, 0],
                "timeout": 10.0,
                "max_requests": 1000,
                "sockets": [address],
                "wsgi": ["hello", true, true],
                "tmp": true,
                "env": "on",
            })
        );
        tags.push((pid, tag));
    }
    let mut ages: Vec<&str> = tags.iter().map(|(_, t)| t.as_str()).collect();
    ages.sort_unstable();
    assert_eq!(ages, ["age-1", "age-2"]);

    // A Logger subclass's atoms from the request hooks' objects.
    let response = server.exchange(b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-Request-Id: r-7\r\nConnection: close\r\n\r\n");
    assert!(
        response.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "{}",
        String::from_utf8_lossy(&response)
    );
    let post = record(&log, "post_request", 1);
    let pid = post["pid"].as_i64().expect("a pid") as i32;
    assert!(workers.contains(&pid), "{post}");
    assert_eq!(
        post,
        serde_json::json!({
            "event": "post_request",
            "pid": pid,
            "nr": 1,
            "atoms": ["GET /a?b=1 HTTP/1.1", "200", "r-7", 1005, "1.005000", "r-7"],
            "formats": [
                "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
                "[%Y-%m-%d %H:%M:%S %z]",
                "%(message)s",
            ],
        })
    );

    // child_exit: the master's object for that worker (pre_fork's tag), out of server.WORKERS.
    let (victim, victim_tag) = tags[0].clone();
    let survivor = tags[1].0;
    assert!(kill(victim, Signal::SIGKILL));
    assert_eq!(
        record(&log, "child_exit", 1),
        serde_json::json!({
            "event": "child_exit",
            "pid": victim,
            "tag": victim_tag,
            "alive": false,
            "table": [survivor],
        })
    );
    server.wait_log("Booting worker", 3);
    server.signal(Signal::SIGTERM);
    assert!(server.wait_exit().success());
    assert!(
        !server
            .log()
            .iter()
            .any(|l| l.contains("Exception in") || l.contains("not a forkhorn setting")),
        "{:?}",
        server.log()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_toml_configuration_names_a_hooks_module_and_a_rust_app_gets_them() {
    // hooks = "every_hook", a module on pythonpath; the app is a built-in (Rust) one, and the
    // workers run the hooks with the interpreter the master started for them. A request that
    // outstays `timeout` gets its worker SIGABRT: worker_abort, then worker_exit, in it.
    let dir = test_dir("toml");
    let log = dir.join("hooks.log");
    let toml = dir.join("forkhorn.toml");
    std::fs::write(
        &toml,
        format!(
            "bind = \"127.0.0.1:0\"\napp = \"builtin:sleep\"\nworkers = 1\ntimeout = 1\nhooks = \"every_hook\"\npythonpath = [\"{}\"]\n",
            data("").display()
        ),
    )
    .expect("write");
    let mut server = start_with(&log, &toml, 1);
    let m = server.pid();
    let worker = booted(&server)[0];
    assert_line(&log, &format!("on_starting {m} 1 ['127.0.0.1:0'] builtin:sleep"));
    wait_file(&log, &format!("post_worker_init {worker} False"), 1);
    assert_eq!(server.get("/?s=0").text(), "slept 0");
    wait_file(&log, &format!("post_request {worker} / / 200 OK 200"), 1);

    let mut stuck = server.connect();
    std::io::Write::write_all(&mut stuck, b"GET /?s=30 HTTP/1.1\r\nHost: x\r\n\r\n").expect("send");
    wait_file(&log, &format!("worker_abort {worker}"), 1);
    assert!(
        position(&log, &format!("worker_abort {worker}")) < position(&log, &format!("worker_exit {worker} {worker}"))
    );
    wait_file(&log, &format!("child_exit {m} {worker} 1"), 1);
    server.wait_log(&format!("Worker (pid:{worker}) exited with code 1"), 1);
    // No post_request for the request that never finished.
    let finished = lines(&log).iter().filter(|l| l.starts_with("post_request")).count();
    assert_eq!(finished, 1, "{:?}", lines(&log));
    server.wait_log("Booting worker", 2);
    assert_eq!(server.get("/?s=0").status, 200);
    server.signal(Signal::SIGTERM);
    assert!(server.wait_exit().success());
    assert_eq!(
        lines(&log).last().map(String::as_str),
        Some(format!("on_exit {m}").as_str())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A hooks file of the given version: each hook it defines writes `NAME vVERSION ...`.
fn versioned_hooks(version: u32) -> String {
    format!(
        "import os\n\
         def _w(line):\n    with open(os.environ['HOOK_LOG'], 'a') as f:\n        f.write(line + '\\n')\n\
         def on_reload(server):\n    _w('on_reload v{version}')\n\
         def post_fork(server, worker):\n    _w('post_fork v{version} %d' % worker.pid)\n\
         def pre_request(worker, req):\n    _w('pre_request v{version} %s' % req.path)\n"
    )
}

#[test]
fn hup_reads_the_hooks_again_and_a_broken_file_keeps_the_old_ones() {
    // As gunicorn re-reads its config file on HUP: the master and the workers forked after it
    // call the hooks as the file now defines them.
    let dir = test_dir("hup");
    let log = dir.join("hooks.log");
    let hooks = dir.join("hooks.py");
    std::fs::write(&hooks, versioned_hooks(1)).expect("write");
    let toml = dir.join("forkhorn.toml");
    std::fs::write(
        &toml,
        format!(
            "bind = \"127.0.0.1:0\"\napp = \"builtin:hello\"\nworkers = 1\nhooks = \"{}\"\n",
            hooks.display()
        ),
    )
    .expect("write");
    let mut server = start_with(&log, &toml, 1);
    let first = booted(&server)[0];
    wait_file(&log, &format!("post_fork v1 {first}"), 1);
    assert_eq!(server.get("/a").status, 200);
    wait_file(&log, "pre_request v1 /a", 1);

    std::fs::write(&hooks, versioned_hooks(2)).expect("write");
    server.signal(Signal::SIGHUP);
    wait_file(&log, "on_reload v2", 1);
    server.wait_log("Booting worker", 2);
    let second = booted(&server)[1];
    wait_file(&log, &format!("post_fork v2 {second}"), 1);
    server.wait_log(&format!("Worker exiting (pid: {first})"), 1);
    assert_eq!(server.get("/b").status, 200);
    wait_file(&log, "pre_request v2 /b", 1);
    assert!(!lines(&log).iter().any(|l| l == "on_reload v1"), "{:?}", lines(&log));

    // A file that no longer compiles: the reload is refused, nothing changes.
    std::fs::write(&hooks, "def on_reload(server:\n").expect("write");
    server.signal(Signal::SIGHUP);
    server.wait_log(
        "Reload failed, keeping the current configuration: cannot reload the server hooks",
        1,
    );
    assert_eq!(server.get("/c").status, 200);
    wait_file(&log, "pre_request v2 /c", 1);
    assert_eq!(booted(&server), vec![first, second]);

    // `hooks` taken out of the configuration: the next generation runs none.
    std::fs::write(&toml, "bind = \"127.0.0.1:0\"\napp = \"builtin:hello\"\nworkers = 1\n").expect("write");
    server.signal(Signal::SIGHUP);
    server.wait_log(&format!("Worker exiting (pid: {second})"), 1);
    // The new worker tells the master it is ready just before it logs its pid.
    server.wait_log("Booting worker", 3);
    let third = booted(&server)[2];
    assert_eq!(server.get("/d").status, 200);
    assert!(
        !lines(&log).iter().any(|l| l.starts_with("pre_request v2 /d")),
        "{:?}\n{:#?}",
        lines(&log),
        server.log()
    );
    assert!(
        !lines(&log).iter().any(|l| l.contains(&third.to_string())),
        "{:?}",
        lines(&log)
    );
    server.signal(Signal::SIGTERM);
    assert!(server.wait_exit().success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits until the log has a hook's traceback: its `Exception in NAME hook` line, and `last`
/// as the last line of the traceback that follows it.
fn wait_traceback(server: &Server, pid: i32, name: &str, last: &str) {
    let head = format!("[{pid}] [ERROR] Exception in {name} hook");
    server.wait_log(&head, 1);
    server.wait_log(last, 1);
    let log = server.log();
    let at = log.iter().position(|l| l.ends_with(&head)).expect("the head line");
    assert_eq!(
        log.get(at + 1).map(String::as_str),
        Some("Traceback (most recent call last):"),
        "{log:?}"
    );
    let end = log[at..].iter().position(|l| l == last).expect("the last line") + at;
    assert!(
        log[at..end].iter().any(|l| l.contains("raising.py")),
        "the traceback reaches the file: {log:?}"
    );
}

#[test]
fn a_hook_that_raises_is_logged_with_its_traceback_and_the_server_serves() {
    let dir = test_dir("raising");
    let log = dir.join("hooks.log");
    let file = data("raising.py");
    let mut server = start_with(&log, &file, 1);
    let m = server.pid();
    let worker = booted(&server)[0];
    wait_traceback(&server, m, "on_starting", "RuntimeError: on_starting failed");
    wait_traceback(&server, m, "when_ready", "KeyError: 'when_ready'");
    wait_traceback(
        &server,
        worker,
        "post_fork",
        &format!("ValueError: post_fork failed in {worker}"),
    );

    // The app answers; post_request's exception comes after the response.
    let ok = server.get("/");
    assert_eq!((ok.status, ok.text().as_str()), (200, "Hello, World!"));
    wait_traceback(
        &server,
        worker,
        "post_request",
        "LookupError: post_request failed after 200 OK",
    );

    // pre_request's exception fails its request, as in gunicorn: a 500, the app not called,
    // and post_request with no response (which this one does not expect).
    let refused = server.get("/refused");
    assert_eq!(refused.status, 500);
    server.wait_log("PermissionError: pre_request refused /refused", 1);
    server.wait_log("AttributeError: 'NoneType' object has no attribute 'status'", 1);
    assert_eq!(server.get("/").status, 200);

    // A hook's SystemExit ends nothing either: the worker exits as told, the master with 0.
    server.signal(Signal::SIGTERM);
    assert!(server.wait_exit().success());
    wait_traceback(&server, worker, "worker_exit", "SystemExit: 3");
    assert_eq!(booted(&server), [worker], "no worker was lost: {:?}", server.log());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The value of the sample `name` (with its labels) in a Prometheus text scrape.
fn sample(scrape: &str, name: &str) -> Option<f64> {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn prometheus_client_multiprocess_mode_end_to_end() {
    // prometheus_client's documented gunicorn setup: PROMETHEUS_MULTIPROC_DIR in the
    // environment (a fresh directory), child_exit calling mark_process_dead(worker.pid), and
    // an app that scrapes every worker's files with MultiProcessCollector.
    let venv = venv();
    let dir = test_dir("prometheus");
    let metrics = dir.join("multiproc");
    std::fs::create_dir_all(&metrics).expect("metrics dir");
    let conf = data("prometheus_conf.py");
    let mut cmd = command(
        &dir.join("unused.log"),
        &[
            "-c",
            conf.to_str().expect("UTF-8 path"),
            "--virtualenv",
            venv.to_str().expect("UTF-8 path"),
        ],
    );
    cmd.env("PROMETHEUS_MULTIPROC_DIR", &metrics);
    let mut server = Server::start_cmd(&mut cmd, 2);
    server.wait_log("Ready: 2 workers serving", 1);
    let workers = booted(&server);

    // Counted on both workers: the scrape adds them up.
    let mut served: Vec<i32> = Vec::new();
    let mut sent = 0;
    while !workers.iter().all(|w| served.contains(w)) || sent < 20 {
        assert!(sent < 2000, "one worker took every request: {served:?}");
        let response = server.get("/count");
        assert_eq!(response.status, 200);
        served.push(response.text().parse().expect("a pid"));
        sent += 1;
    }
    let scrape = server.get("/metrics").text();
    assert_eq!(
        sample(&scrape, "hooks_test_requests_total"),
        Some(sent as f64),
        "{scrape}"
    );
    assert_eq!(sample(&scrape, "hooks_test_in_worker"), Some(2.0), "{scrape}");
    for w in &workers {
        assert_eq!(
            sample(&scrape, &format!("hooks_test_worker_up{{pid=\"{w}\"}}")),
            Some(1.0),
            "{scrape}"
        );
    }

    // A killed worker's live gauges are gone once child_exit ran; its counts stay.
    let dead = workers[0];
    assert!(kill(dead, Signal::SIGKILL));
    server.wait_log("Booting worker", 3);
    let new = booted(&server)[2];
    let scrape = server.get("/metrics").text();
    assert_eq!(
        sample(&scrape, &format!("hooks_test_worker_up{{pid=\"{dead}\"}}")),
        None,
        "{scrape}"
    );
    assert_eq!(sample(&scrape, "hooks_test_in_worker"), Some(2.0), "{scrape}");
    for w in [workers[1], new] {
        assert_eq!(
            sample(&scrape, &format!("hooks_test_worker_up{{pid=\"{w}\"}}")),
            Some(1.0),
            "{scrape}"
        );
    }
    assert_eq!(
        sample(&scrape, "hooks_test_requests_total"),
        Some(sent as f64),
        "{scrape}"
    );
    assert!(!metrics.join(format!("gauge_livesum_{dead}.db")).exists());
    server.signal(Signal::SIGTERM);
    assert!(server.wait_exit().success());
    assert!(
        !server.log().iter().any(|l| l.contains("Exception in")),
        "{:?}",
        server.log()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hooks_that_cannot_load_stop_start_up_before_anything_is_bound() {
    let dir = test_dir("missing");
    let sock = dir.join("s.sock");
    let cases = [
        (
            "no_such_hooks_module",
            "No module named 'no_such_hooks_module'".to_owned(),
        ),
        (
            "missing/hooks.py",
            format!(
                "[Errno 2] No such file or directory: '{}'",
                dir.join("missing/hooks.py").display()
            ),
        ),
    ];
    for (hooks, why) in cases {
        let toml = dir.join("forkhorn.toml");
        std::fs::write(
            &toml,
            format!(
                "bind = \"unix:{}\"\napp = \"builtin:hello\"\nhooks = \"{hooks}\"\n",
                sock.display()
            ),
        )
        .expect("write");
        let want = format!("cannot load the server hooks from {hooks}: {why}");
        // --check-config loads them as the master would: one line, exit 1 (as for the app).
        let out = Command::new(bin())
            .current_dir(&dir)
            .args(["-c", "forkhorn.toml", "--check-config"])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(String::from_utf8_lossy(&out.stderr), format!("forkhorn: {want}\n"));
        // The master: the error logged, exit 3 (as for a preload_app that fails), nothing bound.
        let out = Command::new(bin())
            .current_dir(&dir)
            .args(["-c", "forkhorn.toml"])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(3));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr
                .lines()
                .any(|l| l.ends_with(&format!("[ERROR] Failed to load the server hooks: {want}"))),
            "{stderr}"
        );
        assert!(!sock.exists(), "bound before the hooks loaded");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pre_exec_runs_in_the_master_before_a_binary_upgrade() {
    let dir = test_dir("upgrade");
    let log = dir.join("hooks.log");
    let file = data("every_hook.py");
    let mut old = start_with(&log, &file, 2);
    let m = old.pid();
    old.signal(Signal::SIGUSR2);
    let new = upgraded_master_pid(&old);
    // pre_exec before the new master exists; the new master runs the start-up hooks itself.
    wait_file(&log, &format!("when_ready {new} 2"), 1);
    assert!(
        position(&log, &format!("pre_exec {m}"))
            < position(&log, &format!("on_starting {new} 2 ['127.0.0.1:0'] wsgi_apps:hello"))
    );
    old.wait_log("Booting worker", 4);
    assert!(kill(new, Signal::SIGTERM));
    wait_file(&log, &format!("on_exit {new}"), 1);
    old.signal(Signal::SIGTERM);
    assert!(old.wait_exit().success());
    assert_eq!(
        lines(&log).last().map(String::as_str),
        Some(format!("on_exit {m}").as_str())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hooks_leave_the_master_where_it_starts_and_a_preloaded_app_still_enters_chdir() {
    // The hooks load before binding, from where forkhorn starts (the pidfile's relative path
    // too); preload_app then imports the app from `chdir`, as without hooks.
    let dir = test_dir("chdir");
    let app_dir = dir.join("app");
    let start_dir = dir.join("start");
    std::fs::create_dir_all(&app_dir).expect("app dir");
    std::fs::create_dir_all(&start_dir).expect("start dir");
    std::fs::write(app_dir.join("greeting.txt"), "hello from chdir").expect("write");
    std::fs::write(
        app_dir.join("cwd_app.py"),
        "GREETING = open('greeting.txt', 'rb').read()\n\n\ndef app(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [GREETING]\n",
    )
    .expect("write");
    std::fs::copy(data("every_hook.py"), start_dir.join("deploy_hooks.py")).expect("copy");
    std::fs::write(
        start_dir.join("forkhorn.toml"),
        format!(
            "bind = \"127.0.0.1:0\"\napp = \"cwd_app:app\"\nworkers = 1\npreload_app = true\nchdir = \"{}\"\npidfile = \"forkhorn.pid\"\nhooks = \"deploy_hooks.py\"\n",
            app_dir.display()
        ),
    )
    .expect("write");
    let log = dir.join("hooks.log");
    let mut cmd = command(&log, &["-c", "forkhorn.toml"]);
    cmd.current_dir(&start_dir);
    let mut server = Server::start_cmd(&mut cmd, 1);
    let m = server.pid();
    assert_eq!(server.get("/").text(), "hello from chdir");
    assert!(
        start_dir.join("forkhorn.pid").exists(),
        "the pidfile is where forkhorn started"
    );
    assert_line(&log, &format!("when_ready {m} 1"));
    server.signal(Signal::SIGTERM);
    assert!(server.wait_exit().success());
    let _ = std::fs::remove_dir_all(&dir);
}
