use super::*;

/// Held by the tests that flush, since a flush takes the process's error-log counts.
static FLUSHES: Mutex<()> = Mutex::new(());

fn sent(s: &Statsd) -> Vec<String> {
    match &s.sink {
        Sink::Memory(d) => d.iter().map(|d| String::from_utf8(d.clone()).unwrap()).collect(),
        _ => unreachable!(),
    }
}

fn lines(s: &Statsd) -> Vec<String> {
    sent(s)
        .iter()
        .flat_map(|d| d.split('\n').map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

fn client(prefix: &str) -> Statsd {
    let cfg = Config {
        statsd_prefix: Some(prefix.into()),
        ..Config::default()
    };
    Statsd::with_sink(Sink::Memory(Vec::new()), &cfg)
}

#[test]
fn a_flush_sends_counts_per_status_and_every_duration() {
    let _flushes = FLUSHES.lock().unwrap_or_else(|p| p.into_inner());
    let mut s = client("app");
    let mut r = Requests::new(7);
    for (status, ms) in [(200, 5), (404, 1), (200, 3)] {
        r.record(status, Duration::from_millis(ms));
    }
    s.flush(Some(&mut r));
    assert_eq!(
        lines(&s)
            .into_iter()
            .filter(|l| !l.starts_with("app.gunicorn.log."))
            .collect::<Vec<_>>(),
        [
            "app.gunicorn.requests:3|c",
            "app.gunicorn.request.status.200:2|c",
            "app.gunicorn.request.status.404:1|c",
            "app.gunicorn.request.duration:5.000|ms",
            "app.gunicorn.request.duration:1.000|ms",
            "app.gunicorn.request.duration:3.000|ms",
        ]
    );
    assert_eq!(sent(&s).len(), 1, "one datagram");

    // Nothing new: nothing sent for the requests; a status seen before is not repeated at 0.
    let before = sent(&s).len();
    r.record(500, Duration::ZERO);
    s.flush(Some(&mut r));
    let last = sent(&s).split_off(before);
    assert_eq!(last.len(), 1);
    let last: Vec<&str> = last[0]
        .split('\n')
        .filter(|l| !l.starts_with("app.gunicorn.log."))
        .collect();
    assert_eq!(
        last,
        [
            "app.gunicorn.requests:1|c",
            "app.gunicorn.request.status.500:1|c",
            "app.gunicorn.request.duration:0.000|ms"
        ]
    );
}

#[test]
fn past_the_sample_limit_durations_carry_the_sample_rate() {
    let _flushes = FLUSHES.lock().unwrap_or_else(|p| p.into_inner());
    let mut s = client("");
    let mut r = Requests::new(1);
    let n = Requests::MAX_SAMPLES * 4;
    for i in 0..n {
        r.record(200, Duration::from_micros(i as u64));
    }
    s.flush(Some(&mut r));
    let lines = lines(&s);
    assert!(
        lines.contains(&format!("gunicorn.requests:{n}|c")),
        "counters stay exact"
    );
    assert!(lines.contains(&format!("gunicorn.request.status.200:{n}|c")));
    let timers: Vec<&String> = lines.iter().filter(|l| l.contains("|ms")).collect();
    assert_eq!(timers.len(), Requests::MAX_SAMPLES);
    assert!(timers.iter().all(|l| l.ends_with("|ms|@0.250000")), "{:?}", timers[0]);
    // The reservoir keeps a sample of the whole second, not its first requests.
    let late = timers
        .iter()
        .filter(|l| {
            let ms: f64 = l.split([':', '|']).nth(1).unwrap().parse().unwrap();
            ms >= (Requests::MAX_SAMPLES * 2) as f64 / 1000.0
        })
        .count();
    assert!(
        late > Requests::MAX_SAMPLES / 4,
        "{late} of the kept durations are from the second half"
    );
    assert!(sent(&s).iter().all(|d| d.len() <= line::MAX_DATAGRAM));
}

#[test]
fn statsd_addresses_resolve_with_gunicorns_default_port() {
    let v4: SocketAddr = ([127, 0, 0, 1], 9125).into();
    assert_eq!(resolve("127.0.0.1:9125").unwrap(), v4);
    assert_eq!(resolve("127.0.0.1").unwrap(), ([127, 0, 0, 1], DEFAULT_PORT).into());
    assert_eq!(resolve("[::1]:9125").unwrap(), "[::1]:9125".parse().unwrap());
    assert_eq!(resolve("[::1]").unwrap(), "[::1]:8125".parse().unwrap());
    assert_eq!(resolve("::1").unwrap(), "[::1]:8125".parse().unwrap());
    assert!(resolve("127.0.0.1:x").is_err());
}

#[test]
fn the_master_sends_the_workers_gauge_when_it_changes() {
    let mut m = MasterMetrics {
        statsd: client("app"),
        workers: None,
        backlog: false,
    };
    let now = m.statsd.last_flush;
    let unasked = || -> u64 { panic!("the backlog is asked only with enable_backlog_metric") };
    m.tick(2, &unasked, now);
    m.tick(2, &unasked, now);
    m.tick(3, &unasked, now);
    assert_eq!(
        lines(&m.statsd),
        ["app.gunicorn.workers:2|g", "app.gunicorn.workers:3|g"]
    );
}

#[test]
fn unix_datagram_sockets_are_reached_by_path() {
    let dir = std::env::temp_dir().join(format!("forkhorn-statsd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("statsd.sock");
    let _ = std::fs::remove_file(&path);
    let server = UnixDatagram::bind(&path).unwrap();
    let cfg = Config {
        statsd_host: Some(format!("unix:{}", path.display())),
        dogstatsd_tags: Some("env:test".into()),
        ..Config::default()
    };
    let mut s = Statsd::open(&Target::find(cfg.statsd_host.as_deref().unwrap()).unwrap(), &cfg).unwrap();
    s.gauge("gunicorn.workers", 2);
    let mut buf = [0; 2048];
    let n = server.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"gunicorn.workers:2|g|#env:test");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn error_log_lines_are_counted_by_level() {
    let _flushes = FLUSHES.lock().unwrap_or_else(|p| p.into_inner());
    let mut s = client("app");
    for level in [log::Level::Error, log::Level::Warn, log::Level::Warn, log::Level::Info] {
        count_log_line(level);
    }
    s.flush(None);
    // Other tests of this process may log too: at least these.
    let count = |lines: &[String], name: &str| -> u64 {
        lines
            .iter()
            .filter_map(|l| l.strip_prefix(name)?.strip_suffix("|c")?.parse::<u64>().ok())
            .sum()
    };
    let first = lines(&s);
    assert!(count(&first, "app.gunicorn.log.error:") >= 1, "{first:?}");
    assert!(count(&first, "app.gunicorn.log.warning:") >= 2, "{first:?}");
    assert!(first.iter().all(|l| l.starts_with("app.gunicorn.log.")), "{first:?}");
}
