//! The table of settings: each setting once, with its key and field, type, default, command-line
//! form, help line, paragraph for `etc/forkhorn.toml`, check and printed form. The `Setting` enum,
//! [`Config`], the file's keys, the command line's flags, `--help`, the man page,
//! `--print-config` and `etc/forkhorn.toml` all come from here (see `setting::settings!`).
//!
//! Adding a setting is one entry here plus the code that acts on its field.

use super::render::{display, list, opt_display, opt_list, opt_path, opt_quoted, quote, quoted, secs};
use super::setting::{
    access_format, account, allow_ips, app, bind_list, boolean, choice, env_pairs, existing_dir, facility, file_mode,
    file_path, forwarder_headers, integer, loglevel, one_line_name, path_list, path_or_empty, proxy_mode,
    scheme_headers, seconds, server_header, settings, socket_addr, some_strings, some_text, statsd_addr, switch_unless,
    syslog_addr, umask, worker_class, Account, Cli, Descriptor, FilePath, Problem, Range, Value, Zero, ALLOW, BYTES,
    NON_NEGATIVE, POSITIVE,
};
use super::system::System;
use super::{allow, AllowIps, BindAddr, LogLevel, WorkerClass};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The warning for a gunicorn feature forkhorn may have one day (--paste, ...).
const NOT_YET: &str = "is not supported by forkhorn yet and is ignored";
/// The warning for gunicorn's Python logging configuration files.
const PY_LOGGING: &str = "is ignored: forkhorn's log is set by loglevel, errorlog and the syslog settings, not by a \
                          Python logging configuration (a gunicorn.conf.py's logconfig_dict gives its level)";
/// The warning for gunicorn's HTTP/2 settings.
const NO_H2: &str = "is ignored: forkhorn speaks HTTP/1.0 and 1.1 (a proxy in front of it can speak HTTP/2)";
/// The warning for gunicorn's ASGI settings.
const NO_ASGI: &str = "is ignored: forkhorn serves WSGI apps only";

settings! {
    /// Listening addresses.
    Bind bind: Vec<BindAddr> = vec![BindAddr::Tcp(SocketAddr::from(([127, 0, 0, 1], 8000)))], {
        cli: Cli::long("--bind").short('b').values("ADDR"),
        help: "Address to listen on, repeatable: HOST:PORT (IPv6 in brackets), unix:PATH, fd://N. \
               [default: 127.0.0.1:8000, or 0.0.0.0:$PORT]",
        doc: "Addresses to listen on: \"HOST:PORT\", \"[IPv6]:PORT\", \"HOST\" (port 8000), \":PORT\" (all \
              IPv4 interfaces), \"unix:PATH\", \"fd://N\" (an inherited socket). A single string is also \
              accepted. Port 0 asks the kernel for a free port. A host name is looked up and its first \
              address used. \"[::]:PORT\" takes IPv4 clients too, unless an IPv4 address is bound on the \
              same port (then each family has its socket). When no source sets bind and the PORT variable is set, the default is \
              \"0.0.0.0:$PORT\", as in gunicorn.",
        parse: bind_list,
        show: |b| Some(list(b.iter().map(|a| a.to_string()))),
    }

    /// Number of worker processes.
    Workers workers: usize = 1, {
        cli: Cli::long("--workers").short('w').value("INT"),
        help: "Number of worker processes. [default: 1, or $WEB_CONCURRENCY]",
        doc: "Number of worker processes (at least 1). The WEB_CONCURRENCY variable sets the default, as in \
              gunicorn: this file and the command line win over it.",
        parse: |v, _| integer(v, POSITIVE),
        show: display,
    }

    /// gunicorn's `worker_class`: `sync`, `gthread`, or an async class served as gthread.
    WorkerClass worker_class: WorkerClass = WorkerClass::Sync, {
        cli: Cli::long("--worker-class").short('k').value("CLASS"),
        help: "The worker class: sync or gthread (gunicorn's class paths for them are accepted too). A sync \
               worker with --threads above 1 runs as gthread, as in gunicorn. gevent, eventlet and tornado run \
               as gthread with 32 threads unless --threads says otherwise. [default: sync]",
        doc: "What a worker runs the application on: \"sync\" (on the worker's event-loop thread, unless \
              threads is above 1, when a sync worker runs as gthread, as gunicorn switches it) or \"gthread\" \
              (on a pool of application threads, as many as threads says). gunicorn's class paths for the \
              two, \"gunicorn.workers.sync.SyncWorker\" and \"gunicorn.workers.gthread.ThreadWorker\" (or \
              \"egg:gunicorn#sync\", \"egg:gunicorn#gthread\"), are accepted too. gunicorn's async classes, \
              \"gevent\", \"eventlet\" and \"tornado\" (and their paths), run as gthread, with a warning: \
              the app waits on a thread rather than a greenlet, and threads left at 1 means 32 threads. ASGI \
              classes (uvicorn's) are refused: forkhorn serves WSGI apps.",
        parse: |v, _| worker_class(v),
        show: |c| Some(quote(c.as_str())),
    }

    /// Application threads per worker (gunicorn's `threads`); see [`Config::threaded`].
    Threads threads: usize = 1, {
        cli: Cli::long("--threads").value("INT"),
        help: "Application threads per worker: the app runs on a pool of this many threads, so a worker \
               serves other requests while one waits (gunicorn's gthread). 1: the app runs on the worker's \
               event-loop thread. [default: 1]",
        doc: "Application threads per worker (1 to 1024; 0 is taken as 1, as in gunicorn). Raise it for an app that spends its time waiting \
              on a database or other services: the app runs on a pool of this many threads, so the worker \
              serves other requests while one waits. 1 keeps the app on the worker's event-loop thread, \
              with no hand-off to a thread and back. Above 1, Python apps see wsgi.multithread = True (the \
              GIL still runs one thread's Python at a time; it is released while a thread waits). A Rust \
              app must be Send + Sync, which the Application trait requires: one app object serves all the \
              threads of its worker, so state it changes per request needs atomics or a lock.",
        // gunicorn sets no upper bound; 1024 threads is past any useful pool, and a typo such as
        // 40000 would otherwise cost every worker that many stacks.
        // 0 is 1, as in gunicorn (only above 1 is a sync worker threaded).
        parse: |v, _| integer(v, Range::new(0, 1024, "an integer from 0 to 1024")).map(|n: usize| n.max(1)),
        show: display,
    }

    /// listen(2) backlog.
    Backlog backlog: i32 = 2048, {
        cli: Cli::long("--backlog").value("INT"),
        help: "The listen(2) backlog. [default: 2048]",
        doc: "The listen(2) backlog: connections the kernel queues before a worker accepts them (the kernel \
              caps it at net.core.somaxconn; 0, as in gunicorn, is listen(2)'s smallest queue).",
        parse: |v, _| integer(v, NON_NEGATIVE),
        show: display,
    }

    /// Most simultaneous connections one worker holds.
    WorkerConnections worker_connections: usize = 1000, {
        cli: Cli::long("--worker-connections").value("INT"),
        help: "Most simultaneous connections per worker. [default: 1000]",
        doc: "Most simultaneous connections one worker holds (0 is taken as the default, 1000: gunicorn \
              accepts 0, which its sync worker ignores). In gunicorn this only applies to \
              the threaded and async workers; every forkhorn worker is an event loop, so it always applies. \
              A full worker takes a new connection by closing the one that has kept it waiting longest \
              (idle between requests, or slow to send its request head), as nginx reuses idle keep-alive \
              connections; only when every connection has a request under way does it stop accepting.",
        parse: |v, _| integer(v, NON_NEGATIVE).map(|n: usize| if n == 0 { 1000 } else { n }),
        show: display,
    }

    /// A worker silent for longer is killed (0 = never).
    Timeout timeout: Duration = Duration::from_secs(30), {
        cli: Cli::long("--timeout").short('t').value("SECONDS"),
        help: "Kill a worker silent for this many seconds (0: never). [default: 30]",
        doc: "A worker silent for this many seconds is killed and replaced (0: never).",
        parse: |v, _| seconds(v, Zero::Allowed),
        show: secs,
    }

    /// How long a stopping worker may finish in-flight requests.
    GracefulTimeout graceful_timeout: Duration = Duration::from_secs(30), {
        cli: Cli::long("--graceful-timeout").value("SECONDS"),
        help: "Seconds a stopping worker may spend finishing its requests. [default: 30]",
        doc: "After a graceful stop (TERM), how long workers may finish in-flight requests before SIGKILL.",
        parse: |v, _| seconds(v, Zero::Allowed),
        show: secs,
    }

    /// How long an idle keep-alive connection is kept.
    Keepalive keepalive: Duration = Duration::from_secs(2), {
        cli: Cli::long("--keep-alive").value("SECONDS"),
        help: "Seconds to hold an idle keep-alive connection (0: no keep-alive). [default: 2]",
        doc: "How long an idle keep-alive connection is held open (0: no keep-alive).",
        parse: |v, _| seconds(v, Zero::Allowed),
        show: secs,
    }

    /// Longest request line in bytes (0 = unlimited).
    LimitRequestLine limit_request_line: usize = 4094, {
        cli: Cli::long("--limit-request-line").value("INT"),
        help: "Longest request line in bytes, 0 to 8190 (0: unlimited). [default: 4094]",
        doc: "Longest request line in bytes: any value above 8190 means 8190, and 0, unlimited, means \
              1 MiB, as in gunicorn.",
        // gunicorn's bound, applied as gunicorn applies it: a larger value means the bound, so a
        // gunicorn configuration keeps working.
        parse: |v, _| {
            let n: usize = integer(v, Range::new(0, u64::MAX, "a non-negative integer (0 = unlimited)"))?;
            Ok(crate::http::Limits::bound_request_line(n))
        },
        show: display,
    }

    /// Most header fields in a request.
    LimitRequestFields limit_request_fields: usize = 100, {
        cli: Cli::long("--limit-request-fields").value("INT"),
        help: "Most header fields in a request, 1 to 32768. [default: 100]",
        doc: "Most header fields in one request (0 or above 32768 means 32768, as in gunicorn).",
        // As for limit_request_line; 0 too means the bound.
        parse: |v, _| {
            let n: usize = integer(v, Range::new(0, u64::MAX, "a non-negative integer"))?;
            Ok(crate::http::Limits::bound_fields(n))
        },
        show: display,
    }

    /// Longest header field (name, colon, value) in bytes (0 = unlimited).
    LimitRequestFieldSize limit_request_field_size: usize = 8190, {
        // gunicorn spells this one flag with an underscore; the all-hyphen form is what people type.
        cli: Cli::long("--limit-request-field_size").alias("--limit-request-field-size").value("INT"),
        help: "Longest header field in bytes (0: unlimited). [default: 8190]",
        doc: "Longest header field (name, colon and value) in bytes (0: unlimited).",
        parse: |v, _| integer(v, Range::new(0, u64::MAX, "a non-negative integer (0 = unlimited)")),
        show: display,
    }

    /// Largest request body in bytes (0 = unlimited).
    LimitRequestBody limit_request_body: u64 = 1 << 30, {
        cli: Cli::long("--limit-request-body").value("BYTES"),
        help: "Largest request body in bytes (0: unlimited). [default: 1073741824]",
        doc: "Largest request body in bytes; larger ones get 413 (0: unlimited). gunicorn has no such \
              setting; forkhorn caps bodies at 1 GiB by default so one client cannot fill the disk.",
        parse: |v, _| integer(v, Range::new(0, u64::MAX, "a non-negative number of bytes (0 = unlimited)")),
        show: display,
    }

    /// Request bodies up to this size stay in memory; larger ones go to a temporary file.
    BodyBufferSize body_buffer_size: usize = 64 * 1024, {
        cli: Cli::long("--body-buffer-size").value("BYTES"),
        help: "Request bodies up to this many bytes stay in memory. [default: 65536]",
        doc: "Request bodies up to this many bytes stay in memory, larger ones go to a temporary file. \
              gunicorn has no such setting.",
        parse: |v, _| integer(v, BYTES),
        show: display,
    }

    /// How long a client may take to send a complete request head.
    HeaderTimeout header_timeout: Duration = Duration::from_secs(15), {
        cli: Cli::long("--header-timeout").value("SECONDS"),
        help: "Seconds a client may take to send a complete request head. [default: 15]",
        doc: "Seconds a client may take to send a complete request head (more than 0). gunicorn has no \
              such setting (its sync workers rely on timeout); forkhorn's event loop needs it against slow \
              clients.",
        // Zero would time every connection out the moment it is accepted.
        parse: |v, _| seconds(v, Zero::Refused),
        show: secs,
    }

    /// The `Server` response header (empty: none).
    ServerHeader server_header: String = "forkhorn".into(), {
        cli: Cli::long("--server-header").value("TEXT"),
        help: "The Server response header (\"\": none). [default: forkhorn]",
        doc: "The Server response header; \"\" sends none. gunicorn always sends \"gunicorn\" and has no \
              setting.",
        parse: |v, _| server_header(v),
        show: quoted,
    }

    /// The application: `builtin:NAME` or `module.path:callable`.
    App app: String = "builtin:hello".into(), {
        alias: "wsgi_app",
        cli: Cli::Positional("APP"),
        help: "The application: builtin:NAME (hello, echo, sleep, static), or module.path:callable, \
               module:factory(args)",
        doc: "The application: \"builtin:NAME\" (hello, echo), \"module.path:callable\", \
              \"module:factory()\", \"module:factory(args)\", or \"module\" alone for module:application. The \
              APP argument on the command line overrides it. gunicorn's name for it, wsgi_app, is accepted \
              too.",
        parse: |v, _| app(v),
        show: quoted,
    }

    /// Log threshold.
    Loglevel loglevel: LogLevel = LogLevel::Info, {
        cli: Cli::long("--log-level").value("LEVEL"),
        help: "Log threshold: debug, info, warning, error, critical. [default: info]",
        doc: "Log threshold: debug, info, warning, error or critical (any case).",
        parse: |v, _| loglevel(v),
        show: |l| Some(quote(l.as_str())),
    }

    /// Peers trusted to set the scheme headers (`X-Forwarded-Proto` ...).
    ForwardedAllowIps forwarded_allow_ips: AllowIps = AllowIps::loopback(), {
        cli: Cli::long("--forwarded-allow-ips").value("LIST"),
        help: "Peers trusted to set X-Forwarded-Proto and the like: comma-separated IPs, CIDR networks, or \
               *. [default: 127.0.0.1,::1, or $FORWARDED_ALLOW_IPS]",
        doc: "Peers trusted to set the headers of secure_scheme_headers: IP addresses, CIDR networks such as \
              \"10.0.0.0/8\", or \"*\" for any peer. A list, or gunicorn's comma-separated string \"a,b\". \
              The FORWARDED_ALLOW_IPS environment variable, in that string form, sets the default, as in \
              gunicorn.",
        section: "HTTP behind proxies",
        parse: |v, _| allow_ips(v, ALLOW),
        show: |a| Some(list(allow::show(a).iter())),
    }

    /// Header (upper case) and value pairs that, from a trusted peer, mean `https`.
    SecureSchemeHeaders secure_scheme_headers: Vec<(String, String)> = vec![
        ("X-FORWARDED-PROTOCOL".into(), "ssl".into()),
        ("X-FORWARDED-PROTO".into(), "https".into()),
        ("X-FORWARDED-SSL".into(), "on".into()),
    ], {
        cli: Cli::FileOnly,
        help: "",
        doc: "Header names (any case; compared upper case) and the value that, from a trusted peer, means \
              the request came over https. No command-line flag, as in gunicorn.",
        parse: |v, _| scheme_headers(v),
        show: |headers| {
            let entries: Vec<String> =
                headers.iter().map(|(name, value)| format!("{} = {}", quote(name), quote(value))).collect();
            Some(if entries.is_empty() { "{}".to_owned() } else { format!("{{ {} }}", entries.join(", ")) })
        },
    }

    /// Header names with `_` that a peer of `forwarded_allow_ips` may send (upper case).
    ForwarderHeaders forwarder_headers: Vec<String> = vec!["SCRIPT_NAME".into(), "PATH_INFO".into()], {
        cli: Cli::long("--forwarder-headers").value("LIST"),
        help: "Headers with an underscore that a peer of forwarded_allow_ips may send: comma-separated. \
               [default: SCRIPT_NAME,PATH_INFO]",
        doc: "Request headers whose names have an underscore that a peer of forwarded_allow_ips may send, as in \
              gunicorn: a list, or gunicorn's comma-separated string. Such a header reaches the app as \
              HTTP_NAME (other headers with an underscore are dropped), and a SCRIPT_NAME header is the prefix the \
              app is mounted under for that request, in place of the SCRIPT_NAME environment variable.",
        parse: |v, _| forwarder_headers(v),
        show: |names| Some(list(names.iter())),
    }

    /// Expect the PROXY protocol (v1 or v2) at the start of each connection.
    ProxyProtocol proxy_protocol: bool = false, {
        cli: Cli::long("--proxy-protocol").optional("MODE", "auto", &["off", "auto", "v1", "v2", "true", "false"]),
        help: "Expect a PROXY protocol header at the start of each connection: off, auto, v1 or v2 (each \
               accepts both versions); the flag alone is auto",
        doc: "Expect a PROXY protocol header (v1 or v2) at the start of each connection. gunicorn's modes (24 and \
              later) are accepted, in a file and on the command line (`--proxy-protocol [MODE]`, the flag alone \
              being \"auto\"): \"off\" is false; \"auto\", \"v1\" and \"v2\" are true, and each accepts both \
              versions.",
        parse: |v, _| proxy_mode(v),
        show: display,
    }

    /// Peers allowed to send a PROXY protocol header.
    ProxyAllowIps proxy_allow_ips: AllowIps = AllowIps::loopback(), {
        cli: Cli::long("--proxy-allow-from").alias("--proxy-allow-ips").value("LIST"),
        help: "Peers allowed to send a PROXY protocol header: comma-separated IPs, CIDR networks, or *. \
               [default: 127.0.0.1,::1]",
        doc: "Peers allowed to send a PROXY protocol header; same forms as forwarded_allow_ips.",
        parse: |v, _| allow_ips(v, ALLOW),
        show: |a| Some(list(allow::show(a).iter())),
    }

    /// The directory `builtin:static` serves.
    StaticRoot static_root: Option<PathBuf> = None, {
        cli: Cli::long("--static-root").value("DIR"),
        help: "The directory builtin:static serves (must exist)",
        doc: "The directory builtin:static serves; it must exist when the configuration is loaded.",
        example: "\"/srv/www/static\"",
        section: "Files",
        parse: |v, sys| existing_dir(v, sys).map(Some),
        show: opt_path,
    }

    /// How long a new worker may take to become ready (slow imports).
    BootTimeout boot_timeout: Duration = Duration::from_secs(120), {
        cli: Cli::long("--boot-timeout").value("SECONDS"),
        help: "Seconds a new worker may take to boot (more than 0). [default: 120]",
        doc: "Seconds a new worker may take to become ready, e.g. for slow imports (more than 0).",
        section: "Supervision",
        // Zero would fail every boot before the worker could report in.
        parse: |v, _| seconds(v, Zero::Refused),
        show: secs,
    }

    /// A worker is replaced after this many requests (0 = never).
    MaxRequests max_requests: u64 = 0, {
        cli: Cli::long("--max-requests").value("INT"),
        help: "Replace a worker after this many requests (0: never). [default: 0]",
        doc: "Replace a worker after this many requests, to bound slow leaks (0: never).",
        parse: |v, _| integer(v, Range::new(0, u64::MAX, "a non-negative integer (0 = never)")),
        show: display,
    }

    /// Up to this many requests are added to `max_requests` at random, per worker.
    MaxRequestsJitter max_requests_jitter: u64 = 0, {
        cli: Cli::long("--max-requests-jitter").value("INT"),
        help: "Add up to this many requests to --max-requests at random, per worker. [default: 0]",
        doc: "Add up to this many requests to max_requests at random, per worker, so workers do not all \
              restart at once.",
        parse: |v, _| integer(v, Range::new(0, u64::MAX, "a non-negative integer")),
        show: display,
    }

    /// A worker whose resident memory passes this many MiB is replaced after its requests in
    /// flight, as after `max_requests` (0 = never).
    MaxWorkerMemory max_worker_memory: u64 = 0, {
        cli: Cli::long("--max-worker-memory").value("MIB"),
        help: "Replace a worker whose resident memory passes this many MiB, after its requests in flight \
               (0: never). [default: 0]",
        doc: "Replace a worker whose resident memory (RSS) passes this many MiB: it finishes its requests \
              in flight and a new worker takes its place, as after max_requests, with its RSS in the log. \
              Read once a second, not per request (0: never).",
        parse: |v, _| integer(v, Range::new(0, 1 << 40, "a number of MiB (0: no limit)")),
        show: display,
    }

    /// One SO_REUSEPORT listening socket per worker instead of one shared socket.
    ReusePort reuse_port: bool = false, {
        cli: Cli::long("--reuse-port").switch(),
        help: "One SO_REUSEPORT listening socket per worker instead of one shared socket",
        doc: "One SO_REUSEPORT listening socket per worker instead of one shared socket.",
        parse: |v, _| boolean(v),
        show: display,
    }

    /// Wake a worker for a TCP connection only once the client's first bytes have arrived.
    DeferAccept defer_accept: bool = true, {
        cli: Cli::long("--no-defer-accept").switch_off(),
        help: "Accept a TCP connection as soon as its handshake is done, instead of once its first bytes have \
               arrived (TCP_DEFER_ACCEPT)",
        doc: "Accept a TCP connection only once its first bytes have arrived (TCP_DEFER_ACCEPT, Apache's default \
              `AcceptFilter http data` on Linux, nginx's `listen ... deferred`): a worker then reads the request \
              as it accepts, where it would otherwise find nothing yet and wait for it in poll, which halves \
              what a `Connection: close` client costs the server; and a client that connects and says nothing \
              holds no connection slot. Such a client is accepted once the kernel's handshake retry for it is \
              over (about a second), and then has `header_timeout` as any other. gunicorn does not set it. \
              false: accept at the end of the handshake.",
        parse: |v, _| boolean(v),
        show: display,
    }

    /// Send the responses a worker finishes in one turn of its loop together (see the worker's
    /// `batch` module); off: each as soon as it is made.
    BatchResponses batch_responses: bool = true, {
        cli: Cli::long("--no-batch-responses").switch_off(),
        help: "Send each response as soon as it is made, instead of those a worker finishes in one turn of \
               its event loop together",
        doc: "Send the responses a worker finishes in one turn of its event loop together, at the end of \
              the turn (at most 1-2 ms after the first between application calls): a proxy or client that \
              multiplexes connections wakes once per burst (+10% req/s for Flask here). Off while the app's \
              calls average 1 ms or more. The cost: a finished response can wait for a slow call that \
              follows it in the same turn. false: each response goes out as soon as it is made.",
        parse: |v, _| boolean(v),
        show: display,
    }

    /// Where the master writes its pid.
    Pidfile pidfile: Option<PathBuf> = None, {
        cli: Cli::long("--pid").short('p').value("FILE"),
        help: "Write the master's pid to this file (its directory must exist)",
        doc: "Where the master writes its pid; the directory must exist.",
        example: "\"/run/forkhorn.pid\"",
        parse: |v, sys| Ok(Some(file_path(v, sys, FilePath::Only)?.into())),
        show: opt_path,
    }

    /// gunicorn's directory for heartbeat files: accepted so that a gunicorn configuration keeps
    /// working, and otherwise unused (forkhorn's heartbeat uses no file).
    WorkerTmpDir worker_tmp_dir: Option<PathBuf> = None, {
        cli: Cli::long("--worker-tmp-dir").value("DIR"),
        help: "Accepted for gunicorn compatibility, with a warning; no effect (forkhorn's heartbeat uses \
               no file)",
        doc: "gunicorn's directory for the workers' heartbeat files (must exist). Accepted so that a \
              gunicorn configuration keeps working, with a warning at start-up: forkhorn's heartbeat uses \
              no file, so it has no effect.",
        example: "\"/tmp\"",
        ignored: "is accepted for gunicorn compatibility and has no effect: forkhorn's heartbeat uses no file",
        parse: |v, sys| existing_dir(v, sys).map(Some),
        show: opt_path,
    }

    /// Directory to change to before loading the app.
    Chdir chdir: Option<PathBuf> = None, {
        cli: Cli::long("--chdir").value("DIR"),
        help: "Change to this directory before loading the app (must exist)",
        doc: "Directory to change to before loading the app; it must exist.",
        example: "\"/srv/app\"",
        section: "Python applications",
        parse: |v, sys| existing_dir(v, sys).map(Some),
        show: opt_path,
    }

    /// Directories put at the front of `sys.path`.
    Pythonpath pythonpath: Vec<PathBuf> = Vec::new(), {
        cli: Cli::long("--pythonpath").value("DIRS"),
        help: "Comma-separated directories to put at the front of Python's sys.path",
        doc: "Directories put at the front of Python's sys.path: a list, or a comma-separated string.",
        parse: |v, _| path_list(v),
        show: |paths| Some(list(paths.iter().map(|p| p.display().to_string()))),
    }

    /// The virtualenv the app runs in (else `$VIRTUAL_ENV`, else the first on `PATH`).
    Virtualenv virtualenv: Option<PathBuf> = None, {
        cli: Cli::long("--virtualenv").value("DIR"),
        help: "The virtualenv the app runs in (must exist). [default: $VIRTUAL_ENV, else the virtualenv \
               of the first python on PATH]",
        doc: "The virtualenv the app runs in (must exist). Unset: $VIRTUAL_ENV, else the virtualenv of the \
              first python on PATH (a PATH directory with python3 and a pyvenv.cfg beside it), where gunicorn, \
              found through PATH, would run.",
        example: "\"/srv/app/.venv\"",
        parse: |v, sys| existing_dir(v, sys).map(Some),
        show: opt_path,
    }

    /// Import the app in the master, before forking.
    PreloadApp preload_app: bool = false, {
        cli: Cli::long("--preload").switch(),
        help: "Import the app in the master, before forking the workers",
        doc: "Import the app in the master, before forking, so workers share its memory.",
        parse: |v, _| boolean(v),
        show: display,
    }

    /// Python server hooks (gunicorn's `on_starting`, `post_fork`, ...): a module or a file.
    Hooks hooks: Option<String> = None, {
        cli: Cli::long("--hooks").value("MODULE"),
        help: "Python server hooks (gunicorn's on_starting, post_fork, pre_request, ...): a module name or a .py file",
        doc: "Python server hooks, gunicorn's (on_starting, when_ready, pre_fork, post_fork, post_worker_init, \
              pre_request, post_request, child_exit, worker_exit, ...; see docs/GUNICORN.md): the functions \
              of that name in a module importable from pythonpath or the app's directory (\"deploy.hooks\"), \
              or in a .py file (a path ending in .py or containing a /, relative to where forkhorn \
              starts). A gunicorn.conf.py that defines hooks sets this to itself. The master loads the \
              hooks (starting Python for them) and the workers inherit them, whatever the app.",
        example: "\"deploy/hooks.py\"",
        parse: |v, _| some_text(v),
        show: opt_quoted,
    }

    /// `--reload`: replace the workers when the app's code changes (development).
    Reload reload: bool = false, {
        cli: Cli::long("--reload").switch(),
        help: "Replace the workers when a Python file of the app or a reload_extra_files file changes (development)",
        doc: "Replace the workers, as HUP does, when a *.py file under the app's directories (the working \
              directory after chdir, and pythonpath; hidden directories, virtualenvs, site-packages and \
              __pycache__ are skipped) or a reload_extra_files file changes. Changes are debounced (200 ms). \
              New workers that cannot boot (a syntax error) leave the old ones serving, and the next change \
              tries again. Workers write no bytecode cache meanwhile. For development; no effect on a \
              preloaded app's code (preload_app), which only a restart reloads.",
        parse: |v, _| boolean(v),
        show: display,
    }

    /// How `reload` watches files.
    ReloadEngine reload_engine: Option<String> = None, {
        cli: Cli::long("--reload-engine").value("STRING"),
        help: "How --reload watches files: auto, poll or inotify (all use inotify). [default: auto]",
        doc: "How reload watches files: \"auto\", \"poll\" or \"inotify\", as in gunicorn. All three use \
              Linux's inotify, which sees a change at once and costs nothing while nothing changes; \"poll\" \
              is accepted so that a gunicorn configuration keeps working.",
        example: "\"inotify\"",
        parse: |v, _| choice(v, &["auto", "poll", "inotify"]),
        show: opt_quoted,
    }

    /// More files whose change triggers `reload`.
    ReloadExtraFiles reload_extra_files: Vec<String> = Vec::new(), {
        cli: Cli::long("--reload-extra-file").values("FILES"),
        help: "A file whose change also triggers --reload (templates, config), repeatable",
        doc: "More files whose change triggers reload (templates, data files), relative to the working \
              directory after chdir; with a builtin: app, the only ones watched.",
        parse: |v, _| some_strings(v).map(Option::unwrap_or_default),
        show: |files| Some(list(files.iter())),
    }

    /// The error log: `-` (stderr) or a file path.
    Errorlog errorlog: String = "-".into(), {
        cli: Cli::long("--error-logfile").alias("--log-file").value("FILE"),
        help: "The error log: - (stderr) or a file. [default: -]",
        doc: "The error log: \"-\" for stderr, or a file whose directory exists.",
        section: "Logging",
        parse: |v, sys| file_path(v, sys, FilePath::OrStderr),
        show: quoted,
    }

    /// The access log: `-` (stderr), a file path, or none.
    Accesslog accesslog: Option<String> = None, {
        cli: Cli::long("--access-logfile").value("FILE"),
        help: "The access log: - (stdout) or a file. [default: none]",
        doc: "The access log: \"-\" for stdout (as in gunicorn; \"/dev/stderr\" for stderr), or a file whose \
              directory exists. Unset: no access log. Lines are buffered and written at least once a second \
              (or when 64 KiB wait), not one write per request.",
        example: "\"-\"",
        parse: |v, sys| file_path(v, sys, FilePath::OrStdout).map(Some),
        show: opt_quoted,
    }

    /// The access log line, in gunicorn's `%(atom)s` format.
    AccessLogFormat access_log_format: String =
        r#"%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s""#.into(), {
        cli: Cli::long("--access-logformat").value("FORMAT"),
        help: "The access log line, in gunicorn's %(atom)s format",
        doc: "The access log line, in gunicorn's %(atom)s format (must not be empty).",
        parse: |v, _| access_format(v),
        show: quoted,
    }

    /// Send logs to syslog.
    Syslog syslog: bool = false, {
        cli: Cli::long("--log-syslog").switch(),
        help: "Send logs to syslog",
        doc: "Send logs to syslog.",
        parse: |v, _| boolean(v),
        show: display,
    }

    /// `unix:///dev/log`, `unix:///path#dgram|stream`, `udp://host:port`, `tcp://host:port`.
    SyslogAddr syslog_addr: String = "udp://localhost:514".into(), {
        cli: Cli::long("--log-syslog-to").value("ADDR"),
        help: "Syslog address: unix://PATH[#dgram|#stream], udp://HOST:PORT, tcp://HOST:PORT. [default: \
               udp://localhost:514]",
        doc: "Where syslog is: \"unix://PATH\", \"unix://PATH#dgram\" or \"#stream\", \"udp://HOST:PORT\", \
              \"tcp://HOST:PORT\". The default is gunicorn's on Linux; journald and rsyslog listen on \
              \"unix:///dev/log\".",
        parse: |v, _| syslog_addr(v),
        show: quoted,
    }

    /// The syslog facility name (`user`, `daemon`, `local0` ...).
    SyslogFacility syslog_facility: String = "user".into(), {
        cli: Cli::long("--log-syslog-facility").value("NAME"),
        help: "Syslog facility: kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, \
               ftp, local0..local7. [default: user]",
        doc: "The syslog facility: kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, \
              authpriv, ftp, local0 ... local7.",
        parse: |v, _| facility(v),
        show: quoted,
    }

    /// The program name in syslog lines (default `forkhorn`).
    SyslogPrefix syslog_prefix: Option<String> = None, {
        cli: Cli::long("--log-syslog-prefix").value("NAME"),
        help: "The program name in syslog lines. [default: forkhorn]",
        doc: "The program name in syslog lines; unset, \"forkhorn\".",
        example: "\"shop\"",
        parse: |v, _| one_line_name(v).map(Some),
        show: opt_quoted,
    }

    /// Keep access lines out of syslog.
    DisableRedirectAccessToSyslog disable_redirect_access_to_syslog: bool = false, {
        cli: Cli::long("--disable-redirect-access-to-syslog").switch(),
        help: "Keep access log lines out of syslog",
        doc: "Keep access log lines out of syslog.",
        parse: |v, _| boolean(v),
        show: display,
    }

    /// Send the application's stdout/stderr to the error log.
    CaptureOutput capture_output: bool = false, {
        cli: Cli::long("--capture-output").switch(),
        help: "Send the application's stdout and stderr to the error log",
        doc: "Send the application's stdout and stderr to the error log.",
        parse: |v, _| boolean(v),
        show: display,
    }

    /// Run workers as this user (name or number).
    User user: Option<String> = None, {
        cli: Cli::long("--user").short('u').value("USER"),
        help: "Run the workers as this user (name or number)",
        doc: "Run the workers as this user: a name (which must exist on this machine) or a number.",
        example: "\"www-data\"",
        section: "Process",
        parse: |v, sys| account(v, Account::User, sys).map(Some),
        show: opt_quoted,
    }

    /// Run workers as this group (name or number).
    Group group: Option<String> = None, {
        cli: Cli::long("--group").short('g').value("GROUP"),
        help: "Run the workers as this group (name or number)",
        doc: "Run the workers as this group: a name (which must exist on this machine) or a number.",
        example: "\"www-data\"",
        parse: |v, sys| account(v, Account::Group, sys).map(Some),
        show: opt_quoted,
    }

    /// The process umask.
    Umask umask: u32 = 0, {
        cli: Cli::long("--umask").short('m').value("INT"),
        help: "The process umask, up to 0o777 (0022 and 0o22 are octal). [default: 0]",
        doc: "The process umask, 0 to 0o777 (0 keeps the umask forkhorn was started with). A Unix socket \
              file gets 0o777 less this mask, as in gunicorn (0o777 by default, so that a web server \
              running as another user can connect), and belongs to `user` and `group` when they are set. \
              TOML octal integers (0o022) or, as in gunicorn, strings such as \"0022\" or \"0o22\".",
        parse: |v, _| umask(v),
        // A TOML octal integer: a mode reads best in octal, and the file reads it back.
        show: |mask| Some(format!("0o{mask:03o}")),
    }

    /// The name in process titles (`forkhorn: master [NAME]`).
    ProcName proc_name: Option<String> = None, {
        cli: Cli::long("--name").short('n').value("NAME"),
        help: "The name in process titles",
        doc: "The name in process titles: \"forkhorn: master [NAME]\".",
        example: "\"shop\"",
        parse: |v, _| one_line_name(v).map(Some),
        show: opt_quoted,
    }

    /// `KEY=VALUE` pairs set in the workers' environment.
    RawEnv raw_env: Vec<(String, String)> = Vec::new(), {
        cli: Cli::long("--env").short('e').values("KEY=VALUE"),
        help: "Set KEY=VALUE in the workers' environment, repeatable",
        doc: "KEY=VALUE pairs set in the workers' environment.",
        parse: |v, _| env_pairs(v),
        show: |pairs| Some(list(pairs.iter().map(|(k, v)| format!("{k}={v}")))),
    }

    /// Detach from the terminal (not for systemd).
    Daemon daemon: bool = false, {
        cli: Cli::long("--daemon").short('D').switch(),
        help: "Detach from the terminal and run in the background (not under systemd)",
        doc: "Detach from the terminal and run in the background (not under systemd).",
        parse: |v, _| boolean(v),
        show: display,
    }

    /// gunicorn's `tmp_upload_dir`, accepted so that a gunicorn file keeps working.
    TmpUploadDir tmp_upload_dir: Option<String> = None, {
        cli: Cli::FileOnly,
        help: "",
        doc: "gunicorn's directory for request bodies in temporary files (no flag, as in gunicorn). Accepted \
              with a warning, no effect: forkhorn puts bodies larger than body_buffer_size in an unlinked \
              temporary file of the system's temporary directory.",
        example: "\"/var/tmp\"",
        section: "gunicorn settings accepted without effect",
        ignored: "is ignored: forkhorn keeps large request bodies in an unlinked file of the system's temporary \
                  directory",
        parse: |v, _| some_text(v),
        show: opt_quoted,
    }

    /// gunicorn's `default_proc_name`, accepted so that a gunicorn file keeps working.
    DefaultProcName default_proc_name: Option<String> = None, {
        cli: Cli::FileOnly,
        help: "",
        doc: "gunicorn's process name when proc_name is not set, which gunicorn sets itself (no flag). \
              Accepted with a warning, no effect: use proc_name.",
        example: "\"shop\"",
        ignored: "is ignored: proc_name (-n) names forkhorn's processes",
        parse: |v, _| some_text(v),
        show: opt_quoted,
    }

    /// gunicorn's `spew`, accepted so that a gunicorn command line or file keeps working.
    Spew spew: Option<bool> = None, {
        cli: Cli::long("--spew").switch(),
        help: "gunicorn's: trace every line the server runs. Accepted with a warning; no effect",
        doc: "gunicorn's: print every line the server executes. Accepted with a warning, no effect: forkhorn's server \
              is not Python; run the app under a Python tracer instead.",
        example: "true",
        ignored: "is ignored: forkhorn's server is not Python code to trace; run the app under a Python tracer instead",
        parse: |v, _| switch_unless(v, false),
        show: opt_display,
    }

    /// gunicorn's `sendfile`, accepted so that a gunicorn command line or file keeps working.
    Sendfile sendfile: Option<bool> = None, {
        cli: Cli::long("--no-sendfile").switch_off(),
        help: "gunicorn's: do not use sendfile(2). Accepted with a warning; no effect",
        doc: "gunicorn's: false stops the use of sendfile(2) for wsgi.file_wrapper. Accepted with a warning, no \
              effect: forkhorn always sends such files with sendfile(2).",
        example: "false",
        ignored: "is ignored: forkhorn always sends wsgi.file_wrapper files with sendfile(2)",
        parse: |v, _| switch_unless(v, true),
        show: opt_display,
    }

    /// gunicorn's `initgroups`, accepted so that a gunicorn command line or file keeps working.
    Initgroups initgroups: Option<bool> = None, {
        cli: Cli::long("--initgroups").switch(),
        help: "gunicorn's: give the workers the user's supplementary groups. forkhorn always does; accepted with a \
               warning",
        doc: "gunicorn's: give the workers the supplementary groups of user. Accepted with a warning, no effect: \
              forkhorn always does so when user is a name.",
        example: "true",
        ignored: "has no effect: forkhorn always gives the workers the supplementary groups of a user given by name",
        parse: |v, _| switch_unless(v, false),
        show: opt_display,
    }

    /// gunicorn's `paste`, accepted so that a gunicorn command line or file keeps working.
    Paste paste: Option<String> = None, {
        cli: Cli::long("--paste").alias("--paster").value("STRING"),
        help: "gunicorn's: load a PasteDeploy config. Not supported yet: accepted with a warning",
        doc: "gunicorn's: load the app from a PasteDeploy .ini file. Not supported by forkhorn yet: accepted with a \
              warning, no effect; give the app as module:callable.",
        example: "\"development.ini\"",
        ignored: "is not supported by forkhorn yet and is ignored (give the app as module:callable)",
        parse: |v, _| some_text(v),
        show: opt_quoted,
    }

    /// gunicorn's `raw_paste_global_conf`, accepted so that a gunicorn command line or file keeps working.
    RawPasteGlobalConf raw_paste_global_conf: Option<Vec<String>> = None, {
        cli: Cli::long("--paste-global").values("CONF"),
        help: "gunicorn's: PasteDeploy global variables, repeatable. Not supported yet: accepted with a warning",
        doc: "gunicorn's: KEY=VALUE global variables for a PasteDeploy file. Not supported by forkhorn yet: accepted \
              with a warning, no effect.",
        example: "[\"FOO=1\"]",
        ignored: NOT_YET,
        parse: |v, _| some_strings(v),
        show: opt_list,
    }

    /// gunicorn's `protocol`, accepted so that a gunicorn command line or file keeps working.
    Protocol protocol: Option<String> = None, {
        cli: Cli::long("--protocol").value("STRING"),
        help: "gunicorn's: http or uwsgi. forkhorn speaks http; uwsgi is accepted with a warning",
        doc: "gunicorn's: the protocol spoken to clients, \"http\" or \"uwsgi\". forkhorn speaks HTTP; \"uwsgi\" is \
              accepted with a warning and ignored.",
        example: "\"uwsgi\"",
        ignored: "is ignored: forkhorn speaks HTTP only",
        parse: |v, _| choice(v, &["http", "uwsgi"]),
        show: opt_quoted,
    }

    /// gunicorn's `uwsgi_allow_ips`, accepted so that a gunicorn command line or file keeps working.
    UwsgiAllowIps uwsgi_allow_ips: Option<AllowIps> = None, {
        cli: Cli::long("--uwsgi-allow-from").value("LIST"),
        help: "gunicorn's: peers allowed to speak uwsgi. Accepted with a warning; no effect",
        doc: "gunicorn's: peers allowed to speak the uwsgi protocol. Accepted with a warning, no effect: forkhorn \
              speaks HTTP only.",
        example: "[\"10.0.0.0/8\"]",
        ignored: "is ignored: forkhorn speaks HTTP only",
        parse: |v, _| allow_ips(v, ALLOW).map(Some),
        show: |a| a.as_ref().map(|a| list(allow::show(a).iter())),
    }

    /// gunicorn's `permit_obsolete_folding`, accepted so that a gunicorn command line or file keeps working.
    PermitObsoleteFolding permit_obsolete_folding: Option<bool> = None, {
        cli: Cli::long("--permit-obsolete-folding").switch(),
        help: "gunicorn's: accept obsolete line folding in headers. Accepted with a warning; no effect",
        doc: "gunicorn's: accept obsolete line folding in headers. Accepted with a warning, no effect: forkhorn's \
              request parser has fixed rules.",
        example: "true",
        ignored: "is ignored: forkhorn's request parser is not configurable",
        parse: |v, _| switch_unless(v, false),
        show: opt_display,
    }

    /// gunicorn's `strip_header_spaces`, accepted so that a gunicorn command line or file keeps working.
    StripHeaderSpaces strip_header_spaces: Option<bool> = None, {
        cli: Cli::long("--strip-header-spaces").switch(),
        help: "gunicorn's: strip spaces before the colon of a header. Accepted with a warning; no effect",
        doc: "gunicorn's: strip spaces before the colon of a header. Accepted with a warning, no effect: forkhorn's \
              request parser has fixed rules.",
        example: "true",
        ignored: "is ignored: forkhorn's request parser is not configurable",
        parse: |v, _| switch_unless(v, false),
        show: opt_display,
    }

    /// gunicorn's `permit_unconventional_http_method`, accepted so that a gunicorn command line or file keeps working.
    PermitUnconventionalHttpMethod permit_unconventional_http_method: Option<bool> = None, {
        cli: Cli::long("--permit-unconventional-http-method").switch(),
        help: "gunicorn's: accept unusual request methods. Accepted with a warning; no effect",
        doc: "gunicorn's: accept unusual request methods. Accepted with a warning, no effect: forkhorn's request \
              parser has fixed rules.",
        example: "true",
        ignored: "is ignored: forkhorn's request parser is not configurable",
        parse: |v, _| switch_unless(v, false),
        show: opt_display,
    }

    /// gunicorn's `permit_unconventional_http_version`, accepted so that a gunicorn command line or file keeps working.
    PermitUnconventionalHttpVersion permit_unconventional_http_version: Option<bool> = None, {
        cli: Cli::long("--permit-unconventional-http-version").switch(),
        help: "gunicorn's: accept unusual HTTP versions. Accepted with a warning; no effect",
        doc: "gunicorn's: accept unusual HTTP versions. Accepted with a warning, no effect: forkhorn's request parser \
              has fixed rules.",
        example: "true",
        ignored: "is ignored: forkhorn's request parser is not configurable",
        parse: |v, _| switch_unless(v, false),
        show: opt_display,
    }

    /// gunicorn's `casefold_http_method`, accepted so that a gunicorn command line or file keeps working.
    CasefoldHttpMethod casefold_http_method: Option<bool> = None, {
        cli: Cli::long("--casefold-http-method").switch(),
        help: "gunicorn's: upper-case lower-case methods. Accepted with a warning; no effect",
        doc: "gunicorn's: upper-case lower-case methods. Accepted with a warning, no effect: forkhorn's request parser \
              has fixed rules.",
        example: "true",
        ignored: "is ignored: forkhorn's request parser is not configurable",
        parse: |v, _| switch_unless(v, false),
        show: opt_display,
    }

    /// gunicorn's `header_map`, accepted so that a gunicorn command line or file keeps working.
    HeaderMap header_map: Option<String> = None, {
        cli: Cli::long("--header-map").value("STRING"),
        help: "gunicorn's: drop, refuse or dangerous. Accepted with a warning; no effect",
        doc: "gunicorn's: what to do with header names holding an underscore: \"drop\", \"refuse\" or \"dangerous\". \
              Accepted with a warning (unless \"drop\"), no effect: forkhorn's request parser has fixed rules.",
        example: "\"refuse\"",
        ignored: "is ignored: forkhorn's request parser is not configurable",
        parse: |v, _| choice(v, &["drop", "refuse", "dangerous"]),
        show: opt_quoted,
    }

    /// gunicorn's `root_path`, accepted so that a gunicorn command line or file keeps working.
    RootPath root_path: Option<String> = None, {
        cli: Cli::long("--root-path").value("STRING"),
        help: "gunicorn's: the ASGI scope's root_path. Not applicable (WSGI only): accepted with a warning",
        doc: "gunicorn's: the root_path of an ASGI app's scope (gunicorn 24 and later). forkhorn serves WSGI apps: \
              accepted with a warning, no effect. A WSGI app's mount prefix is SCRIPT_NAME (the environment \
              variable, or raw_env).",
        example: "\"/api\"",
        ignored: NO_ASGI,
        parse: |v, _| some_text(v),
        show: opt_quoted,
    }

    /// gunicorn's `logger_class`, accepted so that a gunicorn command line or file keeps working.
    LoggerClass logger_class: Option<String> = None, {
        cli: Cli::long("--logger-class").value("STRING"),
        help: "gunicorn's: a Python logger class. Accepted with a warning; no effect",
        doc: "gunicorn's: the Python class that logs. Accepted with a warning, no effect: forkhorn's logger is built \
              in (loglevel, errorlog, accesslog, syslog).",
        example: "\"myapp.logging.Logger\"",
        ignored: "is ignored: forkhorn's logger is built in (loglevel, errorlog, accesslog and syslog set it up)",
        parse: |v, _| Ok(some_text(v)?.filter(|class| class != "gunicorn.glogging.Logger")),
        show: opt_quoted,
    }

    /// gunicorn's `logconfig`, accepted so that a gunicorn command line or file keeps working.
    Logconfig logconfig: Option<String> = None, {
        cli: Cli::long("--log-config").value("FILE"),
        help: "gunicorn's: a logging.config .ini file. Accepted with a warning, no effect (see loglevel)",
        doc: "gunicorn's: a Python logging.config .ini file. Accepted with a warning, no effect: forkhorn's log is \
              set by loglevel, errorlog and the syslog settings.",
        example: "\"logging.conf\"",
        ignored: PY_LOGGING,
        parse: |v, _| some_text(v),
        show: opt_quoted,
    }

    /// gunicorn's `logconfig_json`, accepted so that a gunicorn command line or file keeps working.
    LogconfigJson logconfig_json: Option<String> = None, {
        cli: Cli::long("--log-config-json").value("FILE"),
        help: "gunicorn's: a logging.config JSON file. Accepted with a warning, no effect (see loglevel)",
        doc: "gunicorn's: a Python logging.config JSON file. Accepted with a warning, no effect: forkhorn's log is \
              set by loglevel, errorlog and the syslog settings.",
        example: "\"logging.conf\"",
        ignored: PY_LOGGING,
        parse: |v, _| some_text(v),
        show: opt_quoted,
    }

    /// gunicorn's `enable_stdio_inheritance`, accepted so that a gunicorn command line or file keeps working.
    EnableStdioInheritance enable_stdio_inheritance: Option<bool> = None, {
        cli: Cli::long("--enable-stdio-inheritance").short('R').switch(),
        help: "gunicorn's: keep stdio open under --daemon. Not supported yet: accepted with a warning",
        doc: "gunicorn's: keep the standard streams of a daemon open. Not supported by forkhorn yet: accepted with a \
              warning, no effect.",
        example: "true",
        ignored: NOT_YET,
        parse: |v, _| switch_unless(v, false),
        show: opt_display,
    }

    /// Where metrics go (gunicorn's `statsd_host`); see `metrics`.
    StatsdHost statsd_host: Option<String> = None, {
        cli: Cli::long("--statsd-host").value("STATSD_ADDR"),
        help: "Send metrics to statsd at HOST:PORT (UDP), HOST (port 8125) or unix:PATH (a datagram socket)",
        doc: "The statsd server metrics go to, under gunicorn's names (gunicorn.requests, \
              gunicorn.request.status.CODE, gunicorn.request.duration, gunicorn.workers, gunicorn.log.error, \
              gunicorn.log.warning): \"HOST:PORT\" (UDP), \"HOST\" (port 8125) or \"unix:PATH\" (a Unix datagram \
              socket). Each process counts in memory and sends at most once a second, many lines to a \
              datagram; request durations beyond 1000 per worker and second are sampled, with the statsd \
              sample rate. A send that fails is dropped: metrics never slow a request.",
        example: "\"localhost:8125\"",
        parse: |v, _| statsd_addr(v),
        show: opt_quoted,
    }

    /// DogStatsD tags of every metric (gunicorn's `dogstatsd_tags`).
    DogstatsdTags dogstatsd_tags: Option<String> = None, {
        cli: Cli::long("--dogstatsd-tags").value("DOGSTATSD_TAGS"),
        help: "Comma-separated DogStatsD tags added to every statsd metric (|#TAGS)",
        doc: "Comma-separated tags added to every statsd line as DogStatsD reads them (\"|#TAGS\"), as given.",
        example: "\"env:prod,app:shop\"",
        parse: |v, _| some_text(v),
        show: opt_quoted,
    }

    /// The prefix of statsd names (gunicorn's `statsd_prefix`).
    StatsdPrefix statsd_prefix: Option<String> = None, {
        cli: Cli::long("--statsd-prefix").value("STATSD_PREFIX"),
        help: "Prefix of statsd metric names (\"shop\" gives shop.gunicorn.requests)",
        doc: "The prefix of every statsd metric name, followed by one dot however many it ends with: \
              \"shop\" and \"shop.\" both give \"shop.gunicorn.requests\".",
        example: "\"shop\"",
        parse: |v, _| some_text(v),
        show: opt_quoted,
    }

    /// Send the listening sockets' accept queue to statsd (gunicorn's `enable_backlog_metric`).
    EnableBacklogMetric enable_backlog_metric: bool = false, {
        cli: Cli::long("--enable-backlog-metric").switch(),
        help: "Send the connections waiting in the listening sockets' accept queues to statsd (gunicorn.backlog)",
        doc: "With statsd_host, the master sends once a second the number of connections waiting to be accepted \
              on its TCP listening sockets, summed, as the histogram gunicorn.backlog (as gunicorn does, from \
              Linux's TCP_INFO). Unix sockets, and reuse_port sockets (each worker's own), are not counted.",
        parse: |v, _| boolean(v),
        show: display,
    }

    /// The TLS private key (gunicorn's `keyfile`); unset, it is read from `certfile`.
    Keyfile keyfile: Option<String> = None, {
        cli: Cli::long("--keyfile").value("FILE"),
        help: "TLS private key, PEM, unencrypted (default: read from certfile)",
        doc: "The private key of `certfile`'s certificate, PEM (PKCS#8, PKCS#1 or SEC1), unencrypted: \
              forkhorn does not ask for passphrases, so an encrypted key is refused at start. Unset, the key \
              is read from the certfile, as gunicorn does. Read by the master before anything is bound and \
              again at each HUP; a key that does not belong to the certificate is an error.",
        example: "\"/etc/ssl/private/site.key\"",
        section: "TLS",
        parse: |v, _| path_or_empty(v),
        show: opt_quoted,
    }

    /// The TLS certificate chain (gunicorn's `certfile`): with it, every TCP listener speaks TLS.
    Certfile certfile: Option<String> = None, {
        cli: Cli::long("--certfile").value("FILE"),
        help: "TLS certificate chain, PEM, leaf first: every TCP bind serves HTTPS",
        doc: "The server's certificate chain, PEM, the server's own certificate first. Setting it turns on \
              TLS (1.2 and 1.3, ALPN http/1.1) on every TCP bind, as in gunicorn; Unix-socket binds stay \
              plain HTTP (a proxy on the same host connects there). The files are read and checked by the \
              master before anything is bound (missing, unreadable, not PEM, expired or not yet valid, a \
              key that is not the certificate's: one line, exit 2) and re-read at each HUP, which rotates \
              certificates without dropping a connection (a bad new file keeps the old workers serving). \
              See docs/TLS.md.",
        example: "\"/etc/ssl/certs/site.pem\"",
        parse: |v, _| path_or_empty(v),
        show: opt_quoted,
    }

    /// The CAs that sign client certificates (gunicorn's `ca_certs`).
    CaCerts ca_certs: Option<String> = None, {
        cli: Cli::long("--ca-certs").value("FILE"),
        help: "CA certificates (PEM) that client certificates are verified against (cert_reqs 1 or 2)",
        doc: "The CA certificates, PEM, that client certificates must chain to; needed by `cert_reqs` 1 and 2.",
        example: "\"/etc/ssl/certs/clients-ca.pem\"",
        parse: |v, _| some_text(v),
        show: opt_quoted,
    }

    /// The cipher suites offered (gunicorn's `ciphers`), OpenSSL's names.
    Ciphers ciphers: Option<String> = None, {
        cli: Cli::long("--ciphers").value("STRING"),
        help: "TLS cipher suites, OpenSSL or IANA names separated by ':' (default: all rustls has)",
        doc: "The cipher suites to offer, in order of preference, by OpenSSL's or IANA's names separated by \
              `:`: TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256 (TLS 1.3) and \
              ECDHE-{ECDSA,RSA}-{AES128-GCM-SHA256,AES256-GCM-SHA384,CHACHA20-POLY1305} (TLS 1.2). A list of \
              only TLS 1.2 suites keeps TLS 1.3's, as OpenSSL does. OpenSSL's keywords (HIGH, !aNULL) and \
              suites rustls does not have (CBC, RSA key exchange) are refused at start with their name.",
        example: "\"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256\"",
        parse: |v, _| some_text(v),
        show: opt_quoted,
    }

    /// gunicorn's `ssl_version`, accepted so that a gunicorn command line or file keeps working.
    SslVersion ssl_version: Option<String> = None, {
        cli: Cli::long("--ssl-version").value("STRING"),
        help: "gunicorn's: the TLS version (deprecated in gunicorn). Accepted with a warning: TLS 1.2 and 1.3",
        doc: "gunicorn's: the TLS version (deprecated in gunicorn). Accepted with a warning, no effect: forkhorn \
              negotiates TLS 1.2 or 1.3 and nothing older.",
        example: "\"TLSv1_2\"",
        ignored: "is ignored: forkhorn negotiates TLS 1.2 or 1.3 (gunicorn deprecates ssl_version too)",
        parse: |v, _| some_text(v),
        show: opt_quoted,
    }

    /// Client certificates (gunicorn's `cert_reqs`): 0 none, 1 optional, 2 required.
    CertReqs cert_reqs: Option<u64> = None, {
        cli: Cli::long("--cert-reqs").value("INT"),
        help: "Client certificates: 0 not asked, 1 optional, 2 required (verified against ca_certs)",
        doc: "Whether clients present certificates, Python's `ssl.CERT_*` as gunicorn takes them: 0 (the \
              default) none is asked for; 1 one is asked for, a client without is served and one whose \
              certificate does not verify against `ca_certs` is refused; 2 a client without a valid \
              certificate is refused at the handshake. The environ tells them apart: SSL_CLIENT_VERIFY is \
              SUCCESS or NONE, and SSL_CLIENT_S_DN and SSL_CLIENT_CERT carry a verified certificate.",
        example: "2",
        parse: |v, _| Ok(Some(integer(v, Range::new(0, 2, "0, 1 or 2"))?).filter(|&n| n != 0)),
        show: opt_display,
    }

    /// gunicorn's `suppress_ragged_eofs`, accepted: forkhorn always does what its default does.
    SuppressRaggedEofs suppress_ragged_eofs: Option<bool> = None, {
        cli: Cli::long("--suppress-ragged-eofs").switch(),
        help: "gunicorn's: on by default. Accepted; a TLS close without close_notify is an end of file",
        doc: "gunicorn's: treat a TLS connection closed without close_notify as a plain end of file (on by \
              default). Accepted; forkhorn always does so (HTTP's own framing tells a cut request body).",
        example: "false",
        parse: |v, _| switch_unless(v, true),
        show: opt_display,
    }

    /// gunicorn's `do_handshake_on_connect`, accepted: the handshake always starts at accept.
    DoHandshakeOnConnect do_handshake_on_connect: Option<bool> = None, {
        cli: Cli::long("--do-handshake-on-connect").switch(),
        help: "gunicorn's: TLS handshake at accept. Accepted; the worker's loop always does it so",
        doc: "gunicorn's: do the TLS handshake when the connection is accepted. Accepted; forkhorn's worker \
              always starts the handshake at accept, driven by its event loop without blocking, and counts \
              it against `header_timeout`.",
        example: "true",
        parse: |v, _| switch_unless(v, false),
        show: opt_display,
    }

    /// Watch the TLS files and reload when they change (forkhorn's own).
    TlsWatch tls_watch: bool = false, {
        cli: Cli::long("--tls-watch").switch(),
        help: "Reload (as HUP does) when certfile, keyfile or ca_certs is replaced (inotify)",
        doc: "Watch `certfile`, `keyfile` and `ca_certs` (through their directories, so that a file renamed over \
              them, as certbot and cert-manager do, is seen) and reload as HUP does when one changes: new \
              connections get the new certificate, connections under way finish on the old workers, and a \
              bad new file keeps the old generation serving.",
        parse: |v, _| boolean(v),
        show: display,
    }

    /// gunicorn's `http_protocols`, accepted so that a gunicorn command line or file keeps working.
    HttpProtocols http_protocols: Option<String> = None, {
        cli: Cli::long("--http-protocols").value("STRING"),
        help: "gunicorn's: h1, h2. forkhorn speaks HTTP/1; others are accepted with a warning",
        doc: "gunicorn's: the HTTP versions offered, such as \"h2,h1\". forkhorn speaks HTTP/1.0 and 1.1; anything but \
              \"h1\" is accepted with a warning and ignored.",
        example: "\"h2,h1\"",
        section: "HTTP/2 (gunicorn's, accepted without effect)",
        ignored: NO_H2,
        parse: |v, _| Ok(some_text(v)?.filter(|p| p.trim() != "h1")),
        show: opt_quoted,
    }

    /// gunicorn's `http2_cleartext`, accepted so that a gunicorn command line or file keeps working.
    Http2Cleartext http2_cleartext: Option<String> = None, {
        cli: Cli::long("--http2-cleartext").value("STRING"),
        help: "gunicorn's: off, prior-knowledge, upgrade or both. Accepted with a warning: no HTTP/2",
        doc: "gunicorn's: HTTP/2 without TLS: \"off\", \"prior-knowledge\", \"upgrade\" or \"both\". Accepted with a \
              warning (unless \"off\"), no effect: forkhorn has no HTTP/2.",
        example: "\"upgrade\"",
        ignored: NO_H2,
        parse: |v, _| choice(v, &["off", "prior-knowledge", "upgrade", "both"]),
        show: opt_quoted,
    }

    /// gunicorn's `http2_max_concurrent_streams`, accepted so that a gunicorn command line or file keeps working.
    Http2MaxConcurrentStreams http2_max_concurrent_streams: Option<u64> = None, {
        cli: Cli::long("--http2-max-concurrent-streams").value("INT"),
        help: "gunicorn's HTTP/2 limit. Accepted with a warning: no HTTP/2",
        doc: "gunicorn's HTTP/2 limit. Accepted with a warning, no effect: forkhorn has no HTTP/2.",
        example: "100",
        ignored: NO_H2,
        parse: |v, _| integer(v, POSITIVE).map(Some),
        show: opt_display,
    }

    /// gunicorn's `http2_initial_window_size`, accepted so that a gunicorn command line or file keeps working.
    Http2InitialWindowSize http2_initial_window_size: Option<u64> = None, {
        cli: Cli::long("--http2-initial-window-size").value("INT"),
        help: "gunicorn's HTTP/2 limit. Accepted with a warning: no HTTP/2",
        doc: "gunicorn's HTTP/2 limit. Accepted with a warning, no effect: forkhorn has no HTTP/2.",
        example: "100",
        ignored: NO_H2,
        parse: |v, _| integer(v, POSITIVE).map(Some),
        show: opt_display,
    }

    /// gunicorn's `http2_max_frame_size`, accepted so that a gunicorn command line or file keeps working.
    Http2MaxFrameSize http2_max_frame_size: Option<u64> = None, {
        cli: Cli::long("--http2-max-frame-size").value("INT"),
        help: "gunicorn's HTTP/2 limit. Accepted with a warning: no HTTP/2",
        doc: "gunicorn's HTTP/2 limit. Accepted with a warning, no effect: forkhorn has no HTTP/2.",
        example: "100",
        ignored: NO_H2,
        parse: |v, _| integer(v, POSITIVE).map(Some),
        show: opt_display,
    }

    /// gunicorn's `http2_max_header_list_size`, accepted so that a gunicorn command line or file keeps working.
    Http2MaxHeaderListSize http2_max_header_list_size: Option<u64> = None, {
        cli: Cli::long("--http2-max-header-list-size").value("INT"),
        help: "gunicorn's HTTP/2 limit. Accepted with a warning: no HTTP/2",
        doc: "gunicorn's HTTP/2 limit. Accepted with a warning, no effect: forkhorn has no HTTP/2.",
        example: "100",
        ignored: NO_H2,
        parse: |v, _| integer(v, POSITIVE).map(Some),
        show: opt_display,
    }

    /// gunicorn's `asgi_loop`, accepted so that a gunicorn command line or file keeps working.
    AsgiLoop asgi_loop: Option<String> = None, {
        cli: Cli::long("--asgi-loop").value("STRING"),
        help: "gunicorn's: auto, asyncio or uvloop. Accepted with a warning: no ASGI",
        doc: "gunicorn's ASGI event loop: \"auto\", \"asyncio\" or \"uvloop\". Accepted with a warning (unless \
              \"auto\"), no effect: forkhorn serves WSGI apps only.",
        example: "\"uvloop\"",
        section: "ASGI and dirty arbiters (gunicorn's, accepted without effect)",
        ignored: NO_ASGI,
        parse: |v, _| choice(v, &["auto", "asyncio", "uvloop"]),
        show: opt_quoted,
    }

    /// gunicorn's `asgi_lifespan`, accepted so that a gunicorn command line or file keeps working.
    AsgiLifespan asgi_lifespan: Option<String> = None, {
        cli: Cli::long("--asgi-lifespan").value("STRING"),
        help: "gunicorn's: auto, on or off. Accepted with a warning: no ASGI",
        doc: "gunicorn's ASGI lifespan events: \"auto\", \"on\" or \"off\". Accepted with a warning (unless \"auto\"), \
              no effect: forkhorn serves WSGI apps only.",
        example: "\"off\"",
        ignored: NO_ASGI,
        parse: |v, _| choice(v, &["auto", "on", "off"]),
        show: opt_quoted,
    }

    /// gunicorn's `asgi_disconnect_grace_period`, accepted so that a gunicorn command line or file keeps working.
    AsgiDisconnectGracePeriod asgi_disconnect_grace_period: Option<u64> = None, {
        cli: Cli::long("--asgi-disconnect-grace-period").value("INT"),
        help: "gunicorn's ASGI setting. Accepted with a warning: no ASGI",
        doc: "gunicorn's: seconds an ASGI app may run after its client went away. Accepted with a warning, no effect: \
              forkhorn serves WSGI apps only.",
        example: "5",
        ignored: NO_ASGI,
        parse: |v, _| integer(v, Range::new(0, u64::MAX, "a non-negative integer")).map(Some),
        show: opt_display,
    }

    /// gunicorn's `http_parser`, accepted so that a gunicorn command line or file keeps working.
    HttpParser http_parser: Option<String> = None, {
        cli: Cli::long("--http-parser").value("STRING"),
        help: "gunicorn's: auto, fast or python. Accepted with a warning; forkhorn has its own parser",
        doc: "gunicorn's choice of HTTP parser: \"auto\", \"fast\" or \"python\". Accepted with a warning (unless \
              \"auto\"), no effect: forkhorn has one parser, in Rust.",
        example: "\"python\"",
        ignored: "is ignored: forkhorn has one HTTP parser, in Rust",
        parse: |v, _| choice(v, &["auto", "fast", "python"]),
        show: opt_quoted,
    }

    /// gunicorn's `dirty_apps`, accepted so that a gunicorn command line or file keeps working.
    DirtyApps dirty_apps: Option<Vec<String>> = None, {
        cli: Cli::long("--dirty-app").values("STRING"),
        help: "gunicorn's dirty arbiters. Not supported yet: accepted with a warning",
        doc: "gunicorn's: apps run by dirty arbiter processes. Not supported by forkhorn yet: accepted with a warning, \
              no effect.",
        example: "[\"myapp.tasks:MLApp\"]",
        ignored: NOT_YET,
        parse: |v, _| some_strings(v),
        show: opt_list,
    }

    /// gunicorn's `dirty_workers`, accepted so that a gunicorn command line or file keeps working.
    DirtyWorkers dirty_workers: Option<u64> = None, {
        cli: Cli::long("--dirty-workers").value("INT"),
        help: "gunicorn's dirty arbiters. Not supported yet: accepted with a warning",
        doc: "gunicorn's dirty arbiter setting. Not supported by forkhorn yet: accepted with a warning, no effect.",
        example: "2",
        ignored: NOT_YET,
        parse: |v, _| integer(v, Range::new(0, u64::MAX, "a non-negative integer")).map(Some),
        show: opt_display,
    }

    /// gunicorn's `dirty_timeout`, accepted so that a gunicorn command line or file keeps working.
    DirtyTimeout dirty_timeout: Option<u64> = None, {
        cli: Cli::long("--dirty-timeout").value("INT"),
        help: "gunicorn's dirty arbiters. Not supported yet: accepted with a warning",
        doc: "gunicorn's dirty arbiter setting. Not supported by forkhorn yet: accepted with a warning, no effect.",
        example: "2",
        ignored: NOT_YET,
        parse: |v, _| integer(v, Range::new(0, u64::MAX, "a non-negative integer")).map(Some),
        show: opt_display,
    }

    /// gunicorn's `dirty_threads`, accepted so that a gunicorn command line or file keeps working.
    DirtyThreads dirty_threads: Option<u64> = None, {
        cli: Cli::long("--dirty-threads").value("INT"),
        help: "gunicorn's dirty arbiters. Not supported yet: accepted with a warning",
        doc: "gunicorn's dirty arbiter setting. Not supported by forkhorn yet: accepted with a warning, no effect.",
        example: "2",
        ignored: NOT_YET,
        parse: |v, _| integer(v, Range::new(0, u64::MAX, "a non-negative integer")).map(Some),
        show: opt_display,
    }

    /// gunicorn's `dirty_graceful_timeout`, accepted so that a gunicorn command line or file keeps working.
    DirtyGracefulTimeout dirty_graceful_timeout: Option<u64> = None, {
        cli: Cli::long("--dirty-graceful-timeout").value("INT"),
        help: "gunicorn's dirty arbiters. Not supported yet: accepted with a warning",
        doc: "gunicorn's dirty arbiter setting. Not supported by forkhorn yet: accepted with a warning, no effect.",
        example: "2",
        ignored: NOT_YET,
        parse: |v, _| integer(v, Range::new(0, u64::MAX, "a non-negative integer")).map(Some),
        show: opt_display,
    }

    /// The control socket (`forkhorn ctl`).
    ControlSocket control_socket: Option<PathBuf> = None, {
        cli: Cli::long("--control-socket").value("PATH"),
        help: "The master's control socket for forkhorn ctl. [default: $RUNTIME_DIRECTORY/forkhorn.ctl under \
               systemd, else none]",
        doc: "The Unix socket where the master answers forkhorn ctl (docs/CONTROL.md). Unset, it is \
              $RUNTIME_DIRECTORY/forkhorn.ctl when systemd sets RUNTIME_DIRECTORY (RuntimeDirectory= in the \
              unit), and there is none otherwise. Only root and the master's user may use it.",
        example: "\"/run/forkhorn.ctl\"",
        section: "Control and metrics",
        parse: |v, sys| Ok(Some(file_path(v, sys, FilePath::Only)?.into())),
        show: opt_path,
    }

    /// The control socket's file mode.
    ControlSocketMode control_socket_mode: u32 = 0o600, {
        cli: Cli::long("--control-socket-mode").value("INT"),
        help: "The control socket's file mode, up to 0o777 (0600 and 0o600 are octal). [default: 0o600]",
        doc: "The control socket's file mode, 0 to 0o777. Whatever it allows, the master answers only root and \
              its own user (it checks each client's uid).",
        parse: |v, _| file_mode(v),
        show: |mode| Some(format!("0o{mode:03o}")),
    }

    /// No control socket, even under systemd.
    ControlSocketDisable control_socket_disable: bool = false, {
        cli: Cli::long("--no-control-socket").switch(),
        help: "Open no control socket, even where RUNTIME_DIRECTORY is set",
        doc: "Open no control socket, even where RUNTIME_DIRECTORY is set.",
        parse: |v, _| boolean(v),
        show: display,
    }

    /// Where the master serves `/metrics` (Prometheus).
    MetricsBind metrics_bind: Option<SocketAddr> = None, {
        cli: Cli::long("--metrics-bind").value("ADDR"),
        help: "Serve Prometheus metrics at http://ADDR/metrics from the master (IP:PORT)",
        doc: "Where the master serves Prometheus metrics at /metrics (\"IP:PORT\"; off when unset). The master \
              answers, never a worker, so a scrape works while every worker is busy. Requests by method and \
              status class, latency histograms, busy threads and the listen queue per listener: see \
              docs/CONTROL.md.",
        example: "\"127.0.0.1:9100\"",
        parse: |v, _| socket_addr(v).map(Some),
        show: |a| a.map(|a| quote(&a.to_string())),
    }
}

/// Checks the table: the result of every `parse` is what the type system checks, but not that
/// keys and flags are unique or that the example file can show every setting.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_flags_are_unique() {
        for (i, a) in Setting::ALL.iter().enumerate() {
            for b in &Setting::ALL[i + 1..] {
                assert_ne!(a.key(), b.key());
                assert!(a.flag().is_none() || a.flag() != b.flag(), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn an_example_exactly_for_the_settings_unset_by_default() {
        let cfg = Config::default();
        for s in Setting::ALL {
            let d = s.describe();
            assert_eq!(cfg.value_toml(s).is_none(), d.example.is_some(), "{}", d.key);
            assert!(!d.doc.is_empty(), "{}", d.key);
            assert_eq!(d.help.is_empty(), d.cli == Cli::FileOnly, "{}", d.key);
        }
    }

    #[test]
    fn keys_are_in_table_order() {
        assert_eq!(Setting::ALL.map(Setting::key), Setting::KEYS);
    }
}
