//! Unit tests of every setting's checks: what each accepts, and the message for what it refuses.

use super::super::system::Fake;
use super::super::table::{assign, Setting};
use super::super::{AllowIps, Config};
use super::*;

fn arg(s: &str) -> Value {
    Value::Arg(s.into())
}

fn str(s: &str) -> Value {
    Value::Str(s.into())
}

/// Assigns one value to a default config; the config, or the message.
fn try_set(setting: Setting, value: Value) -> Result<Config, String> {
    let mut cfg = Config::default();
    assign(&mut cfg, setting, &value, &Fake::MACHINE)
        .map(|()| cfg)
        .map_err(|p| p.message)
}

fn refused(setting: Setting, value: Value) -> String {
    match try_set(setting, value.clone()) {
        Ok(_) => panic!("{setting:?} = {value:?} was accepted"),
        Err(msg) => msg,
    }
}

#[test]
fn positive_counts() {
    let cases = [
        (Setting::Workers, "a positive integer"),
        (Setting::Backlog, "a non-negative integer"),
        (Setting::WorkerConnections, "a non-negative integer"),
    ];
    for (s, what) in cases {
        assert!(try_set(s, Value::Int(1)).is_ok());
        assert!(try_set(s, arg("12")).is_ok());
        assert_eq!(refused(s, Value::Int(-3)), format!("expected {what}, got -3"));
        assert_eq!(refused(s, str("two")), format!("expected {what}, got \"two\""));
        assert_eq!(refused(s, str("2")), format!("expected {what}, got \"2\""));
        assert_eq!(refused(s, arg("two")), format!("expected {what}, got \"two\""));
        assert_eq!(refused(s, Value::Float(2.0)), format!("expected {what}, got 2.0"));
        assert_eq!(refused(s, Value::Bool(true)), format!("expected {what}, got true"));
        assert_eq!(
            refused(s, Value::Table(vec![])),
            format!("expected {what}, got a table")
        );
        assert_eq!(refused(s, Value::List(vec![])), format!("expected {what}, got a list"));
    }
    // gunicorn takes 0 for these (validate_pos_int): no workers is refused all the same, a
    // backlog of 0 is listen(2)'s, and no connection limit is the default one.
    assert_eq!(
        refused(Setting::Workers, Value::Int(0)),
        "expected a positive integer, got 0"
    );
    assert_eq!(try_set(Setting::Backlog, arg("0")).map(|c| c.backlog), Ok(0));
    assert_eq!(
        try_set(Setting::WorkerConnections, Value::Int(0)).map(|c| c.worker_connections),
        Ok(1000)
    );
    assert_eq!(try_set(Setting::Workers, arg(" 5 ")).map(|c| c.workers), Ok(5));
    assert_eq!(
        try_set(Setting::Backlog, Value::Int(i32::MAX.into())).map(|c| c.backlog),
        Ok(i32::MAX)
    );
    assert_eq!(
        refused(Setting::Backlog, Value::Int(1 << 31)),
        "expected a non-negative integer, got 2147483648, which is too large"
    );
}

#[test]
fn thread_counts() {
    let t = Setting::Threads;
    let cases = [
        (Value::Int(1), 1),
        (Value::Int(8), 8),
        (arg("4"), 4),
        (arg(" 16 "), 16),
        (Value::Int(1024), 1024),
        // As gunicorn: only above 1 is a worker threaded.
        (Value::Int(0), 1),
        (arg("0"), 1),
    ];
    for (value, want) in cases {
        assert_eq!(try_set(t, value.clone()).map(|c| c.threads), Ok(want), "{value:?}");
    }
    let what = "expected an integer from 0 to 1024";
    let cases = [
        (Value::Int(-2), "-2"),
        (Value::Int(1025), "1025"),
        (arg("many"), "\"many\""),
        (str("4"), "\"4\""),
        (Value::Float(4.0), "4.0"),
        (Value::Bool(true), "true"),
    ];
    for (value, shown) in cases {
        assert_eq!(refused(t, value.clone()), format!("{what}, got {shown}"), "{value:?}");
    }
}

#[test]
fn worker_classes() {
    let w = Setting::WorkerClass;
    let cases = [
        ("sync", WorkerClass::Sync),
        ("gthread", WorkerClass::Gthread),
        (" gthread ", WorkerClass::Gthread),
        ("egg:gunicorn#sync", WorkerClass::Sync),
        ("egg:gunicorn#gthread", WorkerClass::Gthread),
        ("gunicorn.workers.sync.SyncWorker", WorkerClass::Sync),
        ("gunicorn.workers.gthread.ThreadWorker", WorkerClass::Gthread),
        ("gevent", WorkerClass::Gevent),
        ("gevent_pywsgi", WorkerClass::Gevent),
        ("egg:gunicorn#gevent", WorkerClass::Gevent),
        ("gunicorn.workers.ggevent.GeventWorker", WorkerClass::Gevent),
        ("eventlet", WorkerClass::Eventlet),
        ("gunicorn.workers.geventlet.EventletWorker", WorkerClass::Eventlet),
        ("tornado", WorkerClass::Tornado),
        ("egg:gunicorn#tornado", WorkerClass::Tornado),
    ];
    for (name, want) in cases {
        assert_eq!(try_set(w, str(name)).map(|c| c.worker_class), Ok(want), "{name}");
        assert_eq!(try_set(w, arg(name)).map(|c| c.worker_class), Ok(want), "{name}");
    }
    for name in [
        "uvicorn.workers.UvicornWorker",
        "uvicorn_worker.UvicornWorker",
        "asgi",
        "egg:gunicorn#asgi",
    ] {
        assert_eq!(
            refused(w, str(name)),
            format!(
                "{name:?} is an ASGI worker class, and forkhorn serves WSGI apps only (run an ASGI app with \
                 uvicorn or another ASGI server)"
            ),
            "{name}"
        );
    }
    let what = "expected sync, gthread, gevent, eventlet or tornado (gunicorn's names, egg:gunicorn#NAME or class \
                paths)";
    let bad = ["meinheld", "gunicorn.workers.sync.Nope", "SYNC", "threads", ""];
    for name in bad {
        assert_eq!(refused(w, str(name)), format!("{what}, got {name:?}"), "{name}");
    }
    assert_eq!(refused(w, Value::Int(1)), format!("{what}, got 1"));
    assert_eq!(refused(w, spanned(vec![str("sync")])), format!("{what}, got a list"));
}

#[test]
fn request_limits() {
    let line = Setting::LimitRequestLine;
    assert_eq!(try_set(line, Value::Int(0)).map(|c| c.limit_request_line), Ok(0));
    assert_eq!(try_set(line, Value::Int(8190)).map(|c| c.limit_request_line), Ok(8190));
    // Above gunicorn's bound means the bound, as in gunicorn.
    assert_eq!(try_set(line, Value::Int(8200)).map(|c| c.limit_request_line), Ok(8190));
    assert_eq!(
        refused(line, arg("-1")),
        "expected a non-negative integer (0 = unlimited), got -1"
    );

    let fields = Setting::LimitRequestFields;
    assert_eq!(try_set(fields, Value::Int(1)).map(|c| c.limit_request_fields), Ok(1));
    assert_eq!(
        try_set(fields, Value::Int(32768)).map(|c| c.limit_request_fields),
        Ok(32768)
    );
    assert_eq!(
        try_set(fields, Value::Int(0)).map(|c| c.limit_request_fields),
        Ok(32768)
    );
    assert_eq!(
        try_set(fields, Value::Int(40000)).map(|c| c.limit_request_fields),
        Ok(32768)
    );
    assert_eq!(refused(fields, arg("-3")), "expected a non-negative integer, got -3");

    let size = Setting::LimitRequestFieldSize;
    assert_eq!(try_set(size, Value::Int(0)).map(|c| c.limit_request_field_size), Ok(0));
    assert_eq!(
        try_set(size, Value::Int(100_000)).map(|c| c.limit_request_field_size),
        Ok(100_000)
    );
    assert_eq!(
        refused(size, Value::Int(-1)),
        "expected a non-negative integer (0 = unlimited), got -1"
    );

    let body = Setting::LimitRequestBody;
    assert_eq!(try_set(body, Value::Int(0)).map(|c| c.limit_request_body), Ok(0));
    assert_eq!(
        try_set(body, arg("1073741824")).map(|c| c.limit_request_body),
        Ok(1 << 30)
    );
    let want = "expected a non-negative number of bytes (0 = unlimited), got \"1G\"";
    assert_eq!(refused(body, arg("1G")), want);

    let buf = Setting::BodyBufferSize;
    assert_eq!(try_set(buf, Value::Int(0)).map(|c| c.body_buffer_size), Ok(0));
    assert_eq!(
        refused(buf, Value::Int(-1)),
        "expected a non-negative number of bytes, got -1"
    );
}

#[test]
fn durations() {
    for s in [Setting::Timeout, Setting::GracefulTimeout, Setting::Keepalive] {
        let get = |c: Config| match s {
            Setting::Timeout => c.timeout,
            Setting::GracefulTimeout => c.graceful_timeout,
            _ => c.keepalive,
        };
        assert_eq!(try_set(s, Value::Int(0)).map(get), Ok(Duration::ZERO));
        assert_eq!(try_set(s, Value::Int(90)).map(get), Ok(Duration::from_secs(90)));
        assert_eq!(try_set(s, Value::Float(0.25)).map(get), Ok(Duration::from_millis(250)));
        assert_eq!(try_set(s, arg("7")).map(get), Ok(Duration::from_secs(7)));
        assert_eq!(try_set(s, arg("1.5")).map(get), Ok(Duration::from_millis(1500)));
        assert_eq!(
            try_set(s, Value::Int(4294967295)).map(get),
            Ok(Duration::from_secs(u32::MAX.into()))
        );
        let what = "expected a non-negative number of seconds";
        assert_eq!(refused(s, Value::Int(-1)), format!("{what}, got -1"));
        assert_eq!(refused(s, Value::Float(-0.5)), format!("{what}, got -0.5"));
        assert_eq!(refused(s, Value::Float(f64::NAN)), format!("{what}, got NaN"));
        assert_eq!(refused(s, arg("inf")), format!("{what}, got inf"));
        assert_eq!(refused(s, arg("30s")), format!("{what}, got \"30s\""));
        assert_eq!(refused(s, str("30")), format!("{what}, got \"30\""));
        assert_eq!(refused(s, Value::Datetime), format!("{what}, got a date-time"));
        let big = "expected at most 4294967295 seconds";
        assert_eq!(refused(s, Value::Int(4294967296)), format!("{big}, got 4294967296"));
        assert_eq!(refused(s, Value::Float(1e300)), format!("{big}, got 1e300"));
    }
    let h = Setting::HeaderTimeout;
    assert_eq!(
        try_set(h, Value::Float(0.5)).map(|c| c.header_timeout),
        Ok(Duration::from_millis(500))
    );
    assert_eq!(
        refused(h, Value::Int(0)),
        "expected a positive number of seconds, got 0"
    );
    assert_eq!(
        refused(h, Value::Float(1e-12)),
        "expected a positive number of seconds, got 1e-12"
    );
}

#[test]
fn loglevels() {
    let cases = [
        ("debug", LogLevel::Debug),
        ("info", LogLevel::Info),
        ("INFO", LogLevel::Info),
        ("Warning", LogLevel::Warning),
        ("error", LogLevel::Error),
        ("CRITICAL", LogLevel::Critical),
        ("WARN", LogLevel::Warning),
        ("fatal", LogLevel::Critical),
        ("trace", LogLevel::Debug),
    ];
    for (name, want) in cases {
        assert_eq!(try_set(Setting::Loglevel, str(name)).map(|c| c.loglevel), Ok(want));
        assert_eq!(try_set(Setting::Loglevel, arg(name)).map(|c| c.loglevel), Ok(want));
    }
    let what = "expected one of debug, info, warning, error, critical";
    assert_eq!(
        refused(Setting::Loglevel, str("verbose")),
        format!("{what}, got \"verbose\"")
    );
    assert_eq!(refused(Setting::Loglevel, str("")), format!("{what}, got \"\""));
    assert_eq!(refused(Setting::Loglevel, Value::Int(10)), format!("{what}, got 10"));
}

#[test]
fn apps() {
    let good = [
        "builtin:hello",
        "builtin:echo",
        "builtin:no-such_app.v2",
        "myapp",
        "myapp:app",
        "my_pkg.wsgi:application",
        "pkg.sub.mod:create_app()",
        "pkg:create_app('prod', debug=False)",
        "pkg:factory(url='http://x:1')",
        "_private:_app",
        "café:app",
        "helloworld-test:app",
        "my-site.wsgi:application",
    ];
    for s in good {
        assert_eq!(try_set(Setting::App, str(s)).map(|c| c.app), Ok(s.to_string()), "{s}");
    }
    let bad = [
        "",
        "builtin:",
        "builtin:hello world",
        "my app",
        "1pkg:app",
        "pkg.:app",
        ".pkg:app",
        "pkg:",
        "pkg:app.attr",
        "pkg:1app",
        "pkg:create(",
        "pkg:(x)",
        "pkg: app",
        "path/to/app.py:app",
        "-pkg:app",
        "pkg.-sub:app",
        "pkg:my-app",
    ];
    for s in bad {
        let want = format!("expected builtin:NAME or module[.sub]:callable, :factory() or :factory(args), got {s:?}");
        assert_eq!(try_set(Setting::App, str(s)).map(|c| c.app), Err(want), "{s}");
    }
}

#[test]
fn server_headers() {
    for s in ["forkhorn", "", "Apache/2.4 (Unix)", "a~!@#"] {
        assert_eq!(
            try_set(Setting::ServerHeader, str(s)).map(|c| c.server_header),
            Ok(s.into())
        );
    }
    let what = "expected printable ASCII text (or \"\" for no Server header)";
    let cases = [
        ("x\r\nSet-Cookie: a=b", "\"x\\r\\nSet-Cookie: a=b\""),
        ("tab\there", "\"tab\\there\""),
        ("né", "\"né\""),
    ];
    for (s, shown) in cases {
        assert_eq!(refused(Setting::ServerHeader, str(s)), format!("{what}, got {shown}"));
    }
    assert_eq!(
        refused(Setting::ServerHeader, Value::Bool(false)),
        format!("{what}, got false")
    );
}

fn spanned(values: Vec<Value>) -> Value {
    Value::List(values.into_iter().map(|v| Spanned::new(0..0, v)).collect())
}

#[test]
fn bind_lists() {
    let tcp = |s: &str| BindAddr::Tcp(s.parse().expect("test address"));
    let set = |v: Value| {
        let mut cfg = Config::default();
        assign(&mut cfg, Setting::Bind, &v, &Fake::MACHINE).map(|()| cfg.bind)
    };
    assert_eq!(set(str("127.0.0.1:1")), Ok(vec![tcp("127.0.0.1:1")]));
    assert_eq!(set(arg("[::1]:2")), Ok(vec![tcp("[::1]:2")]));
    assert_eq!(
        set(spanned(vec![
            str("127.0.0.1:0"),
            str("127.0.0.1:0"),
            str("unix:/tmp/a.sock")
        ])),
        Ok(vec![
            tcp("127.0.0.1:0"),
            tcp("127.0.0.1:0"),
            BindAddr::Unix("/tmp/a.sock".into())
        ])
    );
    assert_eq!(
        set(Value::Args(vec!["fd://3".into(), ":80".into()])),
        Ok(vec![BindAddr::Fd(3), tcp("0.0.0.0:80")])
    );
    let problem = |message: &str, item| Problem {
        message: message.into(),
        item,
    };
    let cases = [
        (
            str("127.0.0.1:99999"),
            problem("\"127.0.0.1:99999\" is not a valid address (port out of range)", None),
        ),
        (
            spanned(vec![str("unix:/tmp/a.sock"), str("127.0.0.1:99999")]),
            problem(
                "\"127.0.0.1:99999\" is not a valid address (port out of range)",
                Some(1),
            ),
        ),
        (
            spanned(vec![str("127.0.0.1:1"), Value::Int(80)]),
            problem("expected an address string, got 80", Some(1)),
        ),
        (
            spanned(vec![str("127.0.0.1:1"), str("127.0.0.1:1")]),
            problem("\"127.0.0.1:1\" repeats an address already listed", Some(1)),
        ),
        (
            spanned(vec![]),
            problem("expected at least one address, got an empty list", None),
        ),
        (
            Value::Int(8000),
            problem("expected an address or a list of addresses, got 8000", None),
        ),
        (
            arg("web:80"),
            problem(
                "\"web:80\" is not a valid address (cannot resolve host: no DNS in tests (web))",
                None,
            ),
        ),
    ];
    for (value, want) in cases {
        assert_eq!(set(value.clone()), Err(want), "{value:?}");
    }
}

#[test]
fn switches_and_booleans() {
    let all = [
        Setting::ReusePort,
        Setting::BatchResponses,
        Setting::PreloadApp,
        Setting::Syslog,
        Setting::DisableRedirectAccessToSyslog,
        Setting::CaptureOutput,
        Setting::Daemon,
    ];
    for s in all {
        // Off by default, except batch_responses.
        let (usual, other) = match s {
            Setting::BatchResponses => (true, false),
            _ => (false, true),
        };
        let changed = try_set(s, Value::Bool(other)).expect("valid");
        assert_ne!(changed, Config::default(), "{s:?}");
        assert_eq!(try_set(s, Value::Bool(usual)), Ok(Config::default()), "{s:?}");
        assert_eq!(refused(s, str("true")), "expected true or false, got \"true\"");
        assert_eq!(refused(s, Value::Int(1)), "expected true or false, got 1");
    }
}

#[test]
fn proxy_protocol_takes_a_boolean_or_gunicorns_modes() {
    let on = |v: Value| try_set(Setting::ProxyProtocol, v).map(|c| c.proxy_protocol);
    assert_eq!(on(Value::Bool(true)), Ok(true));
    assert_eq!(on(Value::Bool(false)), Ok(false));
    for mode in ["auto", "v1", "V2", " v2 "] {
        assert_eq!(on(str(mode)), Ok(true), "{mode}");
        assert_eq!(on(Value::Arg(mode.into())), Ok(true), "{mode}");
    }
    assert_eq!(on(str("off")), Ok(false));
    assert_eq!(
        refused(Setting::ProxyProtocol, str("v3")),
        "expected true, false, \"off\", \"auto\", \"v1\" or \"v2\", got \"v3\""
    );
    assert_eq!(
        refused(Setting::ProxyProtocol, Value::Int(1)),
        "expected true, false, \"off\", \"auto\", \"v1\" or \"v2\", got 1"
    );
}

#[test]
fn allow_lists() {
    let net = |s: &str, len| (s.parse().expect("test address"), len);
    for s in [Setting::ForwardedAllowIps, Setting::ProxyAllowIps] {
        let get = |c: Config| match s {
            Setting::ForwardedAllowIps => c.forwarded_allow_ips,
            _ => c.proxy_allow_ips,
        };
        let want = AllowIps {
            any: false,
            nets: vec![net("10.0.0.0", 8), net("::1", 128)],
        };
        assert_eq!(try_set(s, str("10.0.0.0/8, ::1,")).map(get), Ok(want.clone()));
        assert_eq!(try_set(s, arg("10.0.0.0/8,::1")).map(get), Ok(want.clone()));
        assert_eq!(
            try_set(s, spanned(vec![str("10.0.0.0/8"), str("::1")])).map(get),
            Ok(want)
        );
        let any = AllowIps {
            any: true,
            nets: vec![],
        };
        assert_eq!(try_set(s, str("127.0.0.1,*")).map(get), Ok(any));
        assert_eq!(try_set(s, str("")).map(get), Ok(AllowIps::default()), "trust nobody");
        assert_eq!(try_set(s, spanned(vec![])).map(get), Ok(AllowIps::default()));

        let problem = |message: &str, item| Problem {
            message: message.into(),
            item,
        };
        let set = |v: Value| {
            let mut cfg = Config::default();
            assign(&mut cfg, s, &v, &Fake::MACHINE).map(|()| get(cfg))
        };
        let cases = [
            (
                str("10.0.0.1,localhost"),
                problem(
                    "\"localhost\" is not a valid entry (not an IP address, CIDR network or *)",
                    None,
                ),
            ),
            (
                spanned(vec![str("*"), str("10.0.0.1/8")]),
                problem(
                    "\"10.0.0.1/8\" is not a valid entry (host bits are set (the network is 10.0.0.0/8))",
                    Some(1),
                ),
            ),
            (
                spanned(vec![str("::1"), Value::Int(10)]),
                problem("expected a string, got 10", Some(1)),
            ),
            (
                Value::Bool(true),
                problem(
                    "expected a comma-separated string or a list of IP addresses, CIDR networks or *, got true",
                    None,
                ),
            ),
        ];
        for (value, want) in cases {
            assert_eq!(set(value.clone()), Err(want), "{s:?} {value:?}");
        }
    }
}

fn table(entries: Vec<(&str, Value)>) -> Value {
    Value::Table(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Spanned::new(0..0, v)))
            .collect(),
    )
}

#[test]
fn scheme_header_tables() {
    let set = |v: Value| {
        let mut cfg = Config::default();
        assign(&mut cfg, Setting::SecureSchemeHeaders, &v, &Fake::MACHINE).map(|()| cfg.secure_scheme_headers)
    };
    assert_eq!(
        set(table(vec![
            ("X-Forwarded-Proto", str("https")),
            ("front-end-https", str("on"))
        ])),
        Ok(vec![
            ("X-FORWARDED-PROTO".into(), "https".into()),
            ("FRONT-END-HTTPS".into(), "on".into())
        ])
    );
    assert_eq!(set(table(vec![])), Ok(vec![]), "no header means https");
    let problem = |message: &str, item| Problem {
        message: message.into(),
        item,
    };
    let cases = [
        (
            table(vec![("X-A", str("1")), ("X B", str("on"))]),
            problem("header name \"X B\" is not a valid HTTP token", Some(1)),
        ),
        (
            table(vec![("", str("on"))]),
            problem("header name \"\" is not a valid HTTP token", Some(0)),
        ),
        (
            table(vec![("X-Proto", str("https")), ("x-proto", str("on"))]),
            problem(
                "header \"x-proto\" is listed twice (names are compared ignoring case)",
                Some(1),
            ),
        ),
        (
            table(vec![("X-Proto", str(""))]),
            problem("expected non-empty printable ASCII for \"X-Proto\", got \"\"", Some(0)),
        ),
        (
            table(vec![("X-Proto", str("on\r\nX: y"))]),
            problem(
                "expected non-empty printable ASCII for \"X-Proto\", got \"on\\r\\nX: y\"",
                Some(0),
            ),
        ),
        (
            table(vec![("X-Proto", Value::Bool(true))]),
            problem("expected non-empty printable ASCII for \"X-Proto\", got true", Some(0)),
        ),
        (
            str("X-FORWARDED-PROTO=https"),
            problem(
                "expected a table of header names and values, such as { \"X-FORWARDED-PROTO\" = \"https\" }, got \"X-FORWARDED-PROTO=https\"",
                None,
            ),
        ),
    ];
    for (value, want) in cases {
        assert_eq!(set(value.clone()), Err(want), "{value:?}");
    }
}

#[test]
fn directories() {
    for s in [Setting::StaticRoot, Setting::Chdir, Setting::Virtualenv] {
        let get = |c: Config| match s {
            Setting::StaticRoot => c.static_root,
            Setting::Chdir => c.chdir,
            _ => c.virtualenv,
        };
        assert_eq!(try_set(s, str("/srv/www")).map(get), Ok(Some("/srv/www".into())));
        assert_eq!(try_set(s, arg(".")).map(get), Ok(Some(".".into())));
        let what = "expected an existing directory";
        assert_eq!(refused(s, str("/srv/nope")), format!("{what}, got \"/srv/nope\""));
        assert_eq!(refused(s, str("")), format!("{what}, got \"\""));
        assert_eq!(refused(s, str("/srv\0")), format!("{what}, got \"/srv\\0\""));
        assert_eq!(refused(s, Value::Int(1)), format!("{what}, got 1"));
    }
}

#[test]
fn files() {
    let pid = Setting::Pidfile;
    assert_eq!(
        try_set(pid, str("/tmp/f.pid")).map(|c| c.pidfile),
        Ok(Some("/tmp/f.pid".into()))
    );
    assert_eq!(
        try_set(pid, arg("f.pid")).map(|c| c.pidfile),
        Ok(Some("f.pid".into())),
        "relative: the current directory"
    );
    let what = "expected a file path in an existing directory";
    assert_eq!(
        refused(pid, str("/nope/f.pid")),
        format!("{what}, got \"/nope/f.pid\", whose directory does not exist")
    );
    assert_eq!(
        refused(pid, str("/tmp")),
        format!("{what}, got \"/tmp\", which is a directory")
    );
    assert_eq!(refused(pid, str("")), format!("{what}, got \"\""));

    for s in [Setting::Errorlog, Setting::Accesslog] {
        let get = |c: Config| match s {
            Setting::Errorlog => Some(c.errorlog),
            _ => c.accesslog,
        };
        assert_eq!(try_set(s, str("-")).map(get), Ok(Some("-".into())));
        // Accepted whatever the fake file system holds: they are never opened.
        assert_eq!(try_set(s, str("/dev/stdout")).map(get), Ok(Some("/dev/stdout".into())));
        assert_eq!(
            try_set(s, arg("/proc/self/fd/2")).map(get),
            Ok(Some("/proc/self/fd/2".into()))
        );
        assert_eq!(
            try_set(s, arg("/srv/www/a.log")).map(get),
            Ok(Some("/srv/www/a.log".into()))
        );
        let what = match s {
            Setting::Errorlog => "expected \"-\" (stderr) or a file path in an existing directory",
            _ => "expected \"-\" (stdout) or a file path in an existing directory",
        };
        assert_eq!(
            refused(s, str("/var/log/x/a.log")),
            format!("{what}, got \"/var/log/x/a.log\", whose directory does not exist")
        );
        assert_eq!(
            refused(s, str("/srv")),
            format!("{what}, got \"/srv\", which is a directory")
        );
        assert_eq!(refused(s, Value::Bool(true)), format!("{what}, got true"));
    }
}

#[test]
fn python_paths() {
    let p = Setting::Pythonpath;
    let want: Vec<PathBuf> = vec!["/srv/app".into(), "lib".into()];
    assert_eq!(
        try_set(p, arg("/srv/app, lib,")).map(|c| c.pythonpath),
        Ok(want.clone())
    );
    assert_eq!(
        try_set(p, spanned(vec![str("/srv/app"), str("lib")])).map(|c| c.pythonpath),
        Ok(want)
    );
    assert_eq!(
        try_set(p, spanned(vec![str("a,b")])).map(|c| c.pythonpath),
        Ok(vec![PathBuf::from("a,b")]),
        "a list element is one path, commas and all"
    );
    assert_eq!(try_set(p, str("")).map(|c| c.pythonpath), Ok(vec![]));
    assert_eq!(
        refused(p, spanned(vec![str("")])),
        "expected a directory path, got \"\""
    );
    assert_eq!(
        refused(p, Value::Int(3)),
        "expected a comma-separated string or a list of directory paths, got 3"
    );
}

#[test]
fn counts_and_boot_timeout() {
    assert_eq!(
        try_set(Setting::MaxRequests, arg("1000")).map(|c| c.max_requests),
        Ok(1000)
    );
    assert_eq!(
        refused(Setting::MaxRequests, Value::Int(-1)),
        "expected a non-negative integer (0 = never), got -1"
    );
    assert_eq!(
        try_set(Setting::MaxRequestsJitter, Value::Int(50)).map(|c| c.max_requests_jitter),
        Ok(50)
    );
    assert_eq!(
        refused(Setting::MaxRequestsJitter, str("50")),
        "expected a non-negative integer, got \"50\""
    );
    let b = Setting::BootTimeout;
    assert_eq!(
        try_set(b, Value::Float(2.5)).map(|c| c.boot_timeout),
        Ok(Duration::from_millis(2500))
    );
    assert_eq!(
        refused(b, Value::Int(0)),
        "expected a positive number of seconds, got 0"
    );
}

#[test]
fn log_texts() {
    let f = Setting::AccessLogFormat;
    assert_eq!(
        try_set(f, str("%(h)s %(r)s")).map(|c| c.access_log_format),
        Ok("%(h)s %(r)s".into())
    );
    assert_eq!(refused(f, str("")), "expected a non-empty access log format, got \"\"");
    for s in [Setting::SyslogPrefix, Setting::ProcName] {
        let get = |c: Config| match s {
            Setting::SyslogPrefix => c.syslog_prefix,
            _ => c.proc_name,
        };
        assert_eq!(try_set(s, str("my shop")).map(get), Ok(Some("my shop".into())));
        let what = "expected non-empty text without control characters";
        assert_eq!(refused(s, str("")), format!("{what}, got \"\""));
        assert_eq!(refused(s, str("a\nb")), format!("{what}, got \"a\\nb\""));
    }
}

#[test]
fn syslog_settings() {
    let a = Setting::SyslogAddr;
    assert_eq!(
        try_set(a, str("udp://10.0.0.1:514")).map(|c| c.syslog_addr),
        Ok("udp://10.0.0.1:514".into())
    );
    assert_eq!(
        refused(a, str("udp://h:0")),
        "\"udp://h:0\" is not a valid syslog address (the port must be an integer from 1 to 65535, got \"0\")"
    );
    assert_eq!(
        refused(a, Value::Int(514)),
        "expected a syslog address such as unix:///dev/log or udp://HOST:PORT, got 514"
    );
    let f = Setting::SyslogFacility;
    assert_eq!(
        try_set(f, arg("LOCAL3")).map(|c| c.syslog_facility),
        Ok("local3".into())
    );
    assert_eq!(
        refused(f, str("local8")),
        "expected one of kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, \
         local0, local1, local2, local3, local4, local5, local6, local7, got \"local8\""
    );
}

#[test]
fn users_and_groups() {
    for (s, noun) in [(Setting::User, "user"), (Setting::Group, "group")] {
        let get = |c: Config| match s {
            Setting::User => c.user,
            _ => c.group,
        };
        for good in ["www-data", "root", "0", "1000", "4294967294"] {
            assert_eq!(try_set(s, str(good)).map(get), Ok(Some(good.into())), "{good}");
        }
        assert_eq!(try_set(s, arg(" root ")).map(get), Ok(Some("root".into())));
        let what = format!("expected an existing {noun} name or a number");
        for bad in ["no-such-user-xyz", "", "-1", "4294967295", "99999999999"] {
            assert_eq!(refused(s, str(bad)), format!("{what}, got {bad:?}"));
        }
        assert_eq!(refused(s, Value::Int(1000)), format!("{what}, got 1000"));
    }
}

/// A machine whose user database cannot be read.
struct BrokenDb;

impl System for BrokenDb {
    fn resolve(&self, host: &str, port: u16) -> Result<std::net::SocketAddr, String> {
        Fake::MACHINE.resolve(host, port)
    }
    fn is_dir(&self, _: &Path) -> bool {
        false
    }
    fn user_exists(&self, _: &str) -> Result<bool, String> {
        Err("EIO: I/O error".into())
    }
    fn group_exists(&self, _: &str) -> Result<bool, String> {
        Err("EIO: I/O error".into())
    }
}

#[test]
fn an_unreadable_user_database_says_so() {
    let mut cfg = Config::default();
    let err = assign(&mut cfg, Setting::Group, &str("staff"), &BrokenDb).map_err(|p| p.message);
    assert_eq!(err, Err("cannot look up group \"staff\": EIO: I/O error".into()));
}

#[test]
fn umasks() {
    let u = Setting::Umask;
    let cases = [
        (Value::Int(0o22), 0o22),
        (str("0022"), 0o22),
        (str("0o22"), 0o22),
        (arg("0O777"), 0o777),
        (arg("18"), 18),
        (arg("0x1f"), 0x1f),
        (arg("0b111"), 7),
        (arg("0"), 0),
        (arg(" 077 "), 0o77),
    ];
    for (value, want) in cases {
        assert_eq!(try_set(u, value.clone()).map(|c| c.umask), Ok(want), "{value:?}");
    }
    let what = "expected a umask from 0 to 0o777 (octal as 0o22 or 0022)";
    assert_eq!(refused(u, Value::Int(0o1000)), format!("{what}, got 0o1000"));
    assert_eq!(refused(u, arg("1000")), format!("{what}, got 0o1750"));
    assert_eq!(refused(u, Value::Int(-1)), format!("{what}, got -1"));
    for bad in ["-1", "", "0o", "08", "0o8", "22a", "0x", "+7"] {
        assert_eq!(refused(u, arg(bad)), format!("{what}, got {bad:?}"), "{bad}");
    }
    assert_eq!(refused(u, Value::Float(18.0)), format!("{what}, got 18.0"));
}

#[test]
fn environment_pairs() {
    let e = Setting::RawEnv;
    let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    assert_eq!(
        try_set(e, spanned(vec![str("A=1"), str("B="), str("C=x=y")])).map(|c| c.raw_env),
        Ok(vec![pair("A", "1"), pair("B", ""), pair("C", "x=y")])
    );
    assert_eq!(
        try_set(e, Value::Args(vec!["A=1".into(), "A=2".into()])).map(|c| c.raw_env),
        Ok(vec![pair("A", "1"), pair("A", "2")])
    );
    assert_eq!(try_set(e, str("K=a,b")).map(|c| c.raw_env), Ok(vec![pair("K", "a,b")]));
    let set = |v: Value| {
        let mut cfg = Config::default();
        assign(&mut cfg, e, &v, &Fake::MACHINE).map(|()| cfg.raw_env)
    };
    let problem = |message: &str, item| Problem {
        message: message.into(),
        item,
    };
    let cases = [
        (
            spanned(vec![str("A=1"), str("NOEQUALS")]),
            problem("expected KEY=VALUE with a non-empty KEY, got \"NOEQUALS\"", Some(1)),
        ),
        (
            spanned(vec![str("=1")]),
            problem("expected KEY=VALUE with a non-empty KEY, got \"=1\"", Some(0)),
        ),
        (
            Value::Args(vec!["A=\0".into()]),
            problem("expected KEY=VALUE with a non-empty KEY, got \"A=\\0\"", None),
        ),
        (
            Value::Table(vec![]),
            problem("expected a list of \"KEY=VALUE\" strings, got a table", None),
        ),
    ];
    for (value, want) in cases {
        assert_eq!(set(value.clone()), Err(want), "{value:?}");
    }
}

#[test]
fn refused_value_leaves_config_alone() {
    let mut cfg = Config::default();
    assert!(assign(&mut cfg, Setting::Workers, &Value::Int(0), &Fake::MACHINE).is_err());
    assert_eq!(cfg, Config::default());
}

#[test]
fn statsd_settings_are_printed_as_given_without_warnings() {
    let set = [
        (Setting::StatsdHost, arg("localhost:8125"), "\"localhost:8125\""),
        (Setting::StatsdHost, arg("statsd"), "\"statsd\""),
        (
            Setting::StatsdHost,
            arg("unix:/run/statsd.sock"),
            "\"unix:/run/statsd.sock\"",
        ),
        (Setting::StatsdHost, arg("[::1]:8125"), "\"[::1]:8125\""),
        (Setting::StatsdPrefix, arg("shop."), "\"shop.\""),
        (
            Setting::DogstatsdTags,
            arg("env:prod,app:shop"),
            "\"env:prod,app:shop\"",
        ),
    ];
    for (s, v, shown) in set {
        let cfg = try_set(s, v.clone()).unwrap_or_else(|e| panic!("{s:?} {v:?}: {e}"));
        assert_eq!(cfg.value_toml(s).expect("set"), shown, "{s:?}");
        assert_eq!(cfg.warnings(), Vec::<String>::new(), "{s:?}");
    }
}

#[test]
fn gunicorn_settings_without_effect() {
    // Set to gunicorn's default, a setting needs no warning and is not set.
    let unset = [
        (Setting::Reload, Value::Bool(false)),
        (Setting::Sendfile, Value::Bool(true)),
        (Setting::SuppressRaggedEofs, Value::Bool(true)),
        (Setting::ReloadEngine, arg("AUTO")),
        (Setting::HeaderMap, str("drop")),
        (Setting::Protocol, arg("http")),
        (Setting::HttpProtocols, arg(" h1 ")),
        (Setting::LoggerClass, str("gunicorn.glogging.Logger")),
        (Setting::CertReqs, Value::Int(0)),
    ];
    for (s, v) in unset {
        let cfg = try_set(s, v.clone()).unwrap_or_else(|e| panic!("{s:?} {v:?}: {e}"));
        assert_eq!(cfg, Config::default(), "{s:?} {v:?}");
        assert_eq!(cfg.warnings(), Vec::<String>::new());
    }
    let set = [
        (Setting::Sendfile, Value::Bool(false), "false"),
        (Setting::Http2MaxFrameSize, arg("16384"), "16384"),
        (Setting::DirtyWorkers, arg("2"), "2"),
        (Setting::DirtyApps, Value::Args(vec!["a:b".into()]), "[\"a:b\"]"),
    ];
    for (s, v, shown) in set {
        let cfg = try_set(s, v.clone()).unwrap_or_else(|e| panic!("{s:?} {v:?}: {e}"));
        let printed = cfg.value_toml(s).expect("set");
        assert!(shown.ends_with(&printed), "{s:?}: {printed}");
        assert_eq!(cfg.warnings().len(), 1, "{s:?}");
        assert!(
            cfg.warnings()[0].starts_with(&format!("{} ", s.key())),
            "{:?}",
            cfg.warnings()
        );
    }
    let refusals = [
        (
            Setting::StatsdHost,
            arg("localhost:http"),
            "expected HOST:PORT, HOST or unix:PATH, got \"localhost:http\"",
        ),
        (
            Setting::ReloadEngine,
            arg("watchdog"),
            "expected one of auto, poll, inotify, got \"watchdog\"",
        ),
        (
            Setting::Http2MaxFrameSize,
            arg("big"),
            "expected a positive integer, got \"big\"",
        ),
        (Setting::CertReqs, arg("3"), "expected 0, 1 or 2, got 3"),
        (Setting::Reload, str("yes"), "expected true or false, got \"yes\""),
    ];
    for (s, v, message) in refusals {
        assert_eq!(refused(s, v), message, "{s:?}");
    }
}

#[test]
fn async_worker_classes_run_threaded() {
    let mut cfg = try_set(Setting::WorkerClass, str("gevent")).expect("valid");
    cfg.settle_async_threads();
    assert_eq!((cfg.threads, cfg.threaded()), (crate::config::ASYNC_THREADS, true));
    assert_eq!(
        cfg.warnings(),
        [
            "worker_class \"gevent\": forkhorn has no gevent worker and runs the app on the threaded worker, 32 \
          threads per worker (threads, --threads, sets the count)"
        ]
    );
    // A thread count given stays.
    cfg.threads = 4;
    cfg.settle_async_threads();
    assert_eq!(cfg.threads, 4);
}

#[test]
fn control_and_metrics_settings() {
    let cfg = try_set(Setting::ControlSocketMode, arg("0660")).expect("valid");
    assert_eq!(cfg.control_socket_mode, 0o660);
    assert_eq!(cfg.value_toml(Setting::ControlSocketMode).as_deref(), Some("0o660"));
    let cfg = try_set(Setting::MetricsBind, arg("[::1]:9100")).expect("valid");
    assert_eq!(cfg.metrics_bind, Some("[::1]:9100".parse().unwrap()));
    assert_eq!(cfg.value_toml(Setting::MetricsBind).as_deref(), Some("\"[::1]:9100\""));
    for (s, v, message) in [
        (
            Setting::ControlSocketMode,
            Value::Int(0o1777),
            "expected a file mode from 0 to 0o777 (octal as 0o600 or 0600), got 0o1777",
        ),
        (
            Setting::MetricsBind,
            arg("localhost:9100"),
            "expected IP:PORT or [IPv6]:PORT, got \"localhost:9100\"",
        ),
    ] {
        assert_eq!(refused(s, v), message, "{s:?}");
    }
    assert_eq!(Config::default().control_socket_mode, 0o600);
}

#[test]
fn an_empty_tls_file_is_unset_as_in_gunicorn() {
    for s in [Setting::Certfile, Setting::Keyfile] {
        let cfg = try_set(s, arg("")).expect("empty is unset");
        assert_eq!((cfg.certfile, cfg.keyfile), (None, None), "{s:?}");
        assert!(try_set(s, str("")).is_ok());
        assert_eq!(
            refused(s, arg("a\nb")),
            "expected non-empty text without control characters, got \"a\\nb\""
        );
    }
    assert_eq!(
        try_set(Setting::Certfile, arg("/etc/site.pem")).map(|c| c.certfile),
        Ok(Some("/etc/site.pem".to_owned()))
    );
}
