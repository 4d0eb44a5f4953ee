//! `forkhorn bench` run as users run it: the acceptance sweep writes its table, CSV, JSON and
//! SVG; other servers and modes are measured the same way; bad settings fail with one line; and
//! no server outlives the sweep, even one interrupted with Ctrl-C.

mod common;
use common::bin;
use common::skip::tool_or_skip;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Every sweep here takes well under this; a hung one fails the test instead of hanging it.
const SWEEP_LIMIT: Duration = Duration::from_secs(120);
/// The environment variable that marks the processes a test started (servers inherit it).
const TAG_VAR: &str = "FORKHORN_BENCH_TEST_TAG";

/// A fresh, empty directory for one test's output.
fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("forkhorn-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A tag unique to this test run.
fn tag(name: &str) -> String {
    format!("{}-{name}", std::process::id())
}

/// Live processes whose environment carries `TAG_VAR=tag`.
fn tagged(tag: &str) -> Vec<i32> {
    let needle = format!("{TAG_VAR}={tag}");
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if env.split(|&b| b == 0).any(|kv| kv == needle.as_bytes()) {
            out.push(pid);
        }
    }
    out
}

/// Runs `forkhorn bench ARGS` tagged with `tag`, within [`SWEEP_LIMIT`].
fn bench(args: &[&str], tag: &str) -> Output {
    let child = Command::new(bin())
        .arg("bench")
        .args(args)
        .env(TAG_VAR, tag)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn forkhorn bench");
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(SWEEP_LIMIT) {
        Ok(out) => out.expect("wait for forkhorn bench"),
        Err(_) => {
            common::kill(pid, common::Signal::SIGKILL);
            panic!("forkhorn bench {args:?} did not finish within {SWEEP_LIMIT:?}");
        }
    }
}

/// The CSV as one map per row, keyed by column name.
fn csv_rows(path: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).expect("results.csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            assert_eq!(cells.len(), header.len(), "{l}");
            header
                .iter()
                .map(|h| h.to_string())
                .zip(cells.iter().map(|c| c.to_string()))
                .collect()
        })
        .collect()
}

fn num(row: &HashMap<String, String>, key: &str) -> f64 {
    row[key].parse().unwrap_or_else(|_| panic!("{key} = {:?}", row[key]))
}

/// Asserts the sweep succeeded and left nothing running.
fn assert_clean_success(out: &Output, tag: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "status {:?}; stderr:\n{stderr}", out.status);
    assert_eq!(tagged(tag), Vec::<i32>::new(), "processes left running");
}

#[test]
fn acceptance_sweep_writes_csv_json_and_svg() {
    let dir = out_dir("acceptance");
    let tag = tag("acceptance");
    let dir_arg = dir.to_str().unwrap();
    let out = bench(
        &[
            "builtin:hello",
            "--workers",
            "1,2",
            "--connections",
            "32",
            "--duration",
            "3s",
            "--out",
            dir_arg,
        ],
        &tag,
    );
    assert_clean_success(&out, &tag);

    // The table: a header and one line per point.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    // Column widths follow the widest value, so compare the words, not the spacing.
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header[..5],
        ["server", "engine", "workers", "conns", "req/s"],
        "{stdout}"
    );
    let points: Vec<Vec<&str>> = lines[1..3].iter().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(points[0][..4], ["forkhorn", "builtin", "1", "32"], "{stdout}");
    assert_eq!(points[1][..4], ["forkhorn", "builtin", "2", "32"], "{stdout}");

    // The CSV: the same points, measured for 3 s each, every connection held by a worker.
    let rows = csv_rows(&dir.join("results.csv"));
    assert_eq!(rows.len(), 2);
    for (row, workers) in rows.iter().zip([1, 2]) {
        assert_eq!(
            (row["server"].as_str(), row["engine"].as_str()),
            ("forkhorn", "builtin")
        );
        assert_eq!(row["mode"], "keep-alive");
        assert_eq!((num(row, "workers"), num(row, "connections")), (workers as f64, 32.0));
        assert_eq!(num(row, "errors"), 0.0, "{row:?}");
        assert!(
            num(row, "requests") > 0.0 && num(row, "requests_per_sec") > 0.0,
            "{row:?}"
        );
        assert!((2.95..3.2).contains(&num(row, "seconds")), "{row:?}");
        assert!(num(row, "latency_p50_ms") <= num(row, "latency_p99_ms"), "{row:?}");
        assert!(num(row, "latency_p99_ms") <= num(row, "latency_max_ms"), "{row:?}");
        assert!(
            num(row, "server_cpu_us_per_request") > 0.0 && num(row, "rss_mib") > 0.0,
            "{row:?}"
        );
        let held: Vec<usize> = row["connections_per_worker"]
            .split(';')
            .map(|n| n.parse().unwrap())
            .collect();
        assert_eq!(held.len(), workers, "{row:?}");
        assert_eq!(held.iter().sum::<usize>(), 32, "{row:?}");
    }

    // The JSON: the run and the same two results.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).expect("valid JSON");
    assert_eq!(json["run"]["app"], "builtin:hello");
    assert_eq!(json["run"]["duration_s"], 3.0);
    let results = json["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    assert_eq!(results[1]["workers"], 2);
    assert_eq!(results[1]["error_kinds"]["status"], 0);

    // The SVG: well-formed XML, each panel with one series per connection count, one point per
    // worker count.
    let svg = std::fs::read_to_string(dir.join("plot.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("plot.svg is XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    for panel in ["requests-per-second", "p99-latency"] {
        let p = doc
            .descendants()
            .find(|n| n.attribute("id") == Some(panel))
            .unwrap_or_else(|| panic!("no panel {panel}"));
        let series: Vec<_> = p
            .descendants()
            .filter(|n| n.attribute("class") == Some("series"))
            .collect();
        assert_eq!(series.len(), 1, "{panel}");
        assert_eq!(series[0].attribute("data-connections"), Some("32"));
        assert_eq!(series[0].children().filter(|n| n.has_tag_name("circle")).count(), 2);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn new_connections_against_another_server() {
    let dir = out_dir("against");
    let tag = tag("against");
    let other = format!(
        "{} -w {{workers}} -b 127.0.0.1:{{port}} --log-level warning builtin:hello",
        bin()
    );
    let out = bench(
        &[
            "--workers",
            "1",
            "--connections",
            "4",
            "--duration",
            "1s",
            "--warmup",
            "0s",
            "--mode",
            "new-connection",
            "--against",
            &other,
            "--out",
            dir.to_str().unwrap(),
        ],
        &tag,
    );
    assert_clean_success(&out, &tag);
    let rows = csv_rows(&dir.join("results.csv"));
    let servers: Vec<&str> = rows.iter().map(|r| r["server"].as_str()).collect();
    assert_eq!(servers, ["forkhorn", "forkhorn#2"]);
    for row in &rows {
        assert_eq!(row["mode"], "new-connection");
        assert_eq!(num(row, "errors"), 0.0, "{row:?}");
        assert!(num(row, "requests") > 0.0, "{row:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn wrk_engine_measures_the_same_server() {
    if !tool_or_skip("wrk", "wrk") {
        return;
    }
    let dir = out_dir("wrk");
    let tag = tag("wrk");
    let out = bench(
        &[
            "--workers",
            "1",
            "--connections",
            "8",
            "--duration",
            "1s",
            "--warmup",
            "0s",
            "--engine",
            "builtin,wrk",
            "--out",
            dir.to_str().unwrap(),
        ],
        &tag,
    );
    assert_clean_success(&out, &tag);
    let rows = csv_rows(&dir.join("results.csv"));
    let engines: Vec<&str> = rows.iter().map(|r| r["engine"].as_str()).collect();
    assert_eq!(engines, ["builtin", "wrk"]);
    for row in &rows {
        assert_eq!(num(row, "errors"), 0.0, "{row:?}");
        assert!(
            num(row, "requests") > 0.0 && num(row, "latency_p99_ms") > 0.0,
            "{row:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_settings_fail_with_one_line() {
    let file = common::temp_file("bench-bad.toml", "[bench]\nworkres = [1, 2]\n");
    let cases = [
        (
            vec!["-c", file.to_str().unwrap()],
            format!(
                "forkhorn bench: {}:2: key 'workres': unknown setting (valid: app, workers, connections, duration, \
                 warmup, mode, threads, path, timeout, engine, wrk, against, server_args, out)\n",
                file.display()
            ),
        ),
        (
            vec!["--workers", "1,x"],
            "forkhorn bench: --workers: expected positive integers such as 1,2,4, got \"1,x\"\n".to_owned(),
        ),
        (
            vec!["--against", "gunicorn app:app"],
            "forkhorn bench: --against: the command must contain {port} (replaced for each point), got \
             \"gunicorn app:app\"\n"
                .to_owned(),
        ),
    ];
    for (args, want) in cases {
        let out = bench(&args, &tag("bad"));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), want);
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn a_server_that_cannot_boot_is_reported() {
    let tag = tag("noboot");
    let out = bench(
        &[
            "builtin:no-such-app",
            "--workers",
            "1",
            "--connections",
            "1",
            "--duration",
            "1s",
        ],
        &tag,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("exited with exit status: 3 before answering"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    assert_eq!(tagged(&tag), Vec::<i32>::new());
}

#[test]
fn ctrl_c_stops_the_sweep_and_its_server() {
    let tag = tag("interrupt");
    let mut child = Command::new(bin())
        .args(["bench", "--workers", "2", "--connections", "4", "--duration", "60s"])
        .env(TAG_VAR, &tag)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn forkhorn bench");
    let bench_pid = child.id() as i32;
    // Wait for the server: the bench's tagged descendants (master and two workers).
    let deadline = Instant::now() + common::WAIT;
    while tagged(&tag).len() < 4 {
        assert!(Instant::now() < deadline, "the server never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(common::kill(bench_pid, common::Signal::SIGINT));
    let deadline = Instant::now() + common::WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "bench did not stop after Ctrl-C");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.ends_with("forkhorn bench: interrupted\n"), "{stderr}");
    assert_eq!(tagged(&tag), Vec::<i32>::new(), "server left running");
}
