//! The command line (gunicorn's flags), parsed with clap. No I/O.
//!
//! Setting values are kept as the text the user typed: the config module checks them with the
//! same rules as the file's values and reports errors as `--flag: what is wrong`, on one line.

use clap::Parser;
use std::path::PathBuf;

/// `forkhorn [OPTIONS] [APP]`
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "forkhorn",
    version,
    about = "A pre-fork HTTP server for WSGI-style apps",
    // A flag given twice takes its last value, as gunicorn's argparse does (`-w 2 -w 4` is 4);
    // flags that collect values (-b, -e) still collect every one.
    args_override_self = true,
    after_help = "Precedence: defaults < config file (-c) < WEB_CONCURRENCY (workers) < command line.\n\
                  Without -c no config file is read.\n\n\
                  forkhorn bench [APP] ... measures throughput and latency against worker counts \
                  (forkhorn bench --help)."
)]
pub struct Cli {
    /// The application: builtin:NAME (hello, echo, sleep, static), or module.path:callable, module:factory(args).
    #[arg(value_name = "APP")]
    pub app: Option<String>,
    /// The TOML config file (see etc/forkhorn.toml); none is read by default.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on, repeatable: HOST:PORT (IPv6 in brackets), unix:PATH, fd://N. [default: 127.0.0.1:8000]
    #[arg(short = 'b', long = "bind", value_name = "ADDR")]
    pub bind: Vec<String>,
    /// Number of worker processes. [default: 1, or $WEB_CONCURRENCY]
    #[arg(short = 'w', long = "workers", value_name = "INT")]
    pub workers: Option<String>,
    /// The worker class: sync or gthread (gunicorn's class paths for them are accepted too). A sync worker with --threads above 1 runs as gthread, as in gunicorn. [default: sync]
    #[arg(short = 'k', long = "worker-class", value_name = "CLASS")]
    pub worker_class: Option<String>,
    /// Application threads per worker: the app runs on a pool of this many threads, so a worker serves other requests while one waits (gunicorn's gthread). 1: the app runs on the worker's event-loop thread. [default: 1]
    #[arg(long = "threads", value_name = "INT")]
    pub threads: Option<String>,
    /// Kill a worker silent for this many seconds (0: never). [default: 30]
    #[arg(short = 't', long = "timeout", value_name = "SECONDS")]
    pub timeout: Option<String>,
    /// Seconds a stopping worker may spend finishing its requests. [default: 30]
    #[arg(long = "graceful-timeout", value_name = "SECONDS")]
    pub graceful_timeout: Option<String>,
    /// Seconds to hold an idle keep-alive connection (0: no keep-alive). [default: 2]
    #[arg(long = "keep-alive", value_name = "SECONDS")]
    pub keep_alive: Option<String>,
    /// The listen(2) backlog. [default: 2048]
    #[arg(long = "backlog", value_name = "INT")]
    pub backlog: Option<String>,
    /// Most simultaneous connections per worker. [default: 1000]
    #[arg(long = "worker-connections", value_name = "INT")]
    pub worker_connections: Option<String>,
    /// Longest request line in bytes, 0 to 8190 (0: unlimited). [default: 4094]
    #[arg(long = "limit-request-line", value_name = "INT")]
    pub limit_request_line: Option<String>,
    /// Most header fields in a request, 1 to 32768. [default: 100]
    #[arg(long = "limit-request-fields", value_name = "INT")]
    pub limit_request_fields: Option<String>,
    /// Longest header field in bytes (0: unlimited). [default: 8190]
    // gunicorn spells this one flag with an underscore; the all-hyphen form is what people type.
    #[arg(
        long = "limit-request-field_size",
        visible_alias = "limit-request-field-size",
        value_name = "INT"
    )]
    pub limit_request_field_size: Option<String>,
    /// Largest request body in bytes (0: unlimited). [default: 1073741824]
    #[arg(long = "limit-request-body", value_name = "BYTES")]
    pub limit_request_body: Option<String>,
    /// Request bodies up to this many bytes stay in memory. [default: 65536]
    #[arg(long = "body-buffer-size", value_name = "BYTES")]
    pub body_buffer_size: Option<String>,
    /// Seconds a client may take to send a complete request head. [default: 15]
    #[arg(long = "header-timeout", value_name = "SECONDS")]
    pub header_timeout: Option<String>,
    /// The Server response header ("": none). [default: forkhorn]
    #[arg(long = "server-header", value_name = "TEXT")]
    pub server_header: Option<String>,
    /// Log threshold: debug, info, warning, error, critical. [default: info]
    #[arg(long = "log-level", value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Peers trusted to set X-Forwarded-Proto and the like: comma-separated IPs, CIDR networks, or *. [default: 127.0.0.1,::1]
    #[arg(long = "forwarded-allow-ips", value_name = "LIST")]
    pub forwarded_allow_ips: Option<String>,
    /// Expect a PROXY protocol (v1 or v2) header at the start of each connection.
    #[arg(long = "proxy-protocol")]
    pub proxy_protocol: bool,
    /// Peers allowed to send a PROXY protocol header: comma-separated IPs, CIDR networks, or *. [default: 127.0.0.1,::1]
    #[arg(long = "proxy-allow-from", visible_alias = "proxy-allow-ips", value_name = "LIST")]
    pub proxy_allow_from: Option<String>,
    /// The directory builtin:static serves (must exist).
    #[arg(long = "static-root", value_name = "DIR")]
    pub static_root: Option<String>,
    /// Seconds a new worker may take to boot (more than 0). [default: 120]
    #[arg(long = "boot-timeout", value_name = "SECONDS")]
    pub boot_timeout: Option<String>,
    /// Replace a worker after this many requests (0: never). [default: 0]
    #[arg(long = "max-requests", value_name = "INT")]
    pub max_requests: Option<String>,
    /// Add up to this many requests to --max-requests at random, per worker. [default: 0]
    #[arg(long = "max-requests-jitter", value_name = "INT")]
    pub max_requests_jitter: Option<String>,
    /// Replace a worker whose resident memory passes this many MiB, after its requests in
    /// flight (0: never). [default: 0]
    #[arg(long = "max-worker-memory", value_name = "MIB")]
    pub max_worker_memory: Option<String>,
    /// One SO_REUSEPORT listening socket per worker instead of one shared socket.
    #[arg(long = "reuse-port")]
    pub reuse_port: bool,
    /// Send each response as soon as it is made, instead of those a worker finishes in one turn
    /// of its event loop together.
    #[arg(long = "no-batch-responses")]
    pub no_batch_responses: bool,
    /// Write the master's pid to this file (its directory must exist).
    #[arg(short = 'p', long = "pid", value_name = "FILE")]
    pub pid: Option<String>,
    /// Change to this directory before loading the app (must exist).
    #[arg(long = "chdir", value_name = "DIR")]
    pub chdir: Option<String>,
    /// Comma-separated directories to put at the front of Python's sys.path.
    #[arg(long = "pythonpath", value_name = "DIRS")]
    pub pythonpath: Option<String>,
    /// The virtualenv the app runs in (must exist). [default: $VIRTUAL_ENV]
    #[arg(long = "virtualenv", value_name = "DIR")]
    pub virtualenv: Option<String>,
    /// Import the app in the master, before forking the workers.
    #[arg(long = "preload")]
    pub preload: bool,
    /// The error log: - (stderr) or a file. [default: -]
    #[arg(long = "error-logfile", visible_alias = "log-file", value_name = "FILE")]
    pub error_logfile: Option<String>,
    /// The access log: - (stderr) or a file. [default: none]
    #[arg(long = "access-logfile", value_name = "FILE")]
    pub access_logfile: Option<String>,
    /// The access log line, in gunicorn's %(atom)s format.
    #[arg(long = "access-logformat", value_name = "FORMAT")]
    pub access_logformat: Option<String>,
    /// Send logs to syslog.
    #[arg(long = "log-syslog")]
    pub log_syslog: bool,
    /// Syslog address: unix://PATH[#dgram|#stream], udp://HOST:PORT, tcp://HOST:PORT. [default: unix:///dev/log]
    #[arg(long = "log-syslog-to", value_name = "ADDR")]
    pub log_syslog_to: Option<String>,
    /// Syslog facility: kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, local0..local7. [default: user]
    #[arg(long = "log-syslog-facility", value_name = "NAME")]
    pub log_syslog_facility: Option<String>,
    /// The program name in syslog lines. [default: forkhorn]
    #[arg(long = "log-syslog-prefix", value_name = "NAME")]
    pub log_syslog_prefix: Option<String>,
    /// Keep access log lines out of syslog.
    #[arg(long = "disable-redirect-access-to-syslog")]
    pub disable_redirect_access_to_syslog: bool,
    /// Send the application's stdout and stderr to the error log.
    #[arg(long = "capture-output")]
    pub capture_output: bool,
    /// Run the workers as this user (name or number).
    #[arg(short = 'u', long = "user", value_name = "USER")]
    pub user: Option<String>,
    /// Run the workers as this group (name or number).
    #[arg(short = 'g', long = "group", value_name = "GROUP")]
    pub group: Option<String>,
    /// The process umask, up to 0o777 (0022 and 0o22 are octal). [default: 0]
    #[arg(short = 'm', long = "umask", value_name = "INT")]
    pub umask: Option<String>,
    /// The name in process titles.
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    pub name: Option<String>,
    /// Set KEY=VALUE in the workers' environment, repeatable.
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Detach from the terminal and run in the background (not under systemd).
    #[arg(short = 'D', long = "daemon")]
    pub daemon: bool,
    /// Check the configuration and exit: status 0 if valid, 2 (with the error) if not.
    #[arg(long = "check-config")]
    pub check_config: bool,
    /// Print the effective configuration as TOML (a valid config file) and exit.
    #[arg(long = "print-config")]
    pub print_config: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn gunicorn_spellings() {
        let cli = Cli::try_parse_from([
            "forkhorn",
            "-c",
            "f.toml",
            "-b",
            "a:1",
            "--bind=b:2",
            "-w",
            "3",
            "-t",
            "4",
            "--keep-alive",
            "5",
            "--limit-request-field_size",
            "6",
            "--log-level",
            "debug",
            "--check-config",
            "--print-config",
            "pkg:app",
        ])
        .expect("valid command line");
        assert_eq!(cli.config, Some(PathBuf::from("f.toml")));
        assert_eq!(cli.bind, ["a:1", "b:2"]);
        assert_eq!(cli.workers.as_deref(), Some("3"));
        assert_eq!(cli.timeout.as_deref(), Some("4"));
        assert_eq!(cli.keep_alive.as_deref(), Some("5"));
        assert_eq!(cli.limit_request_field_size.as_deref(), Some("6"));
        assert_eq!(cli.log_level.as_deref(), Some("debug"));
        assert!(cli.check_config && cli.print_config);
        assert_eq!(cli.app.as_deref(), Some("pkg:app"));
    }

    #[test]
    fn switches_and_short_flags() {
        let cli = Cli::try_parse_from([
            "forkhorn",
            "-D",
            "--preload",
            "--reuse-port",
            "--proxy-protocol",
            "--log-syslog",
            "--capture-output",
            "--disable-redirect-access-to-syslog",
            "-p",
            "/run/f.pid",
            "-u",
            "www-data",
            "-g",
            "33",
            "-m",
            "0022",
            "-n",
            "shop",
            "-e",
            "A=1",
            "--env=B=2=3",
            "--log-file",
            "/var/log/f.log",
            "--proxy-allow-ips",
            "*",
        ])
        .expect("valid command line");
        assert!(cli.daemon && cli.preload && cli.reuse_port && cli.proxy_protocol);
        assert!(cli.log_syslog && cli.capture_output && cli.disable_redirect_access_to_syslog);
        assert_eq!(cli.pid.as_deref(), Some("/run/f.pid"));
        assert_eq!(
            (cli.user.as_deref(), cli.group.as_deref()),
            (Some("www-data"), Some("33"))
        );
        assert_eq!(
            (cli.umask.as_deref(), cli.name.as_deref()),
            (Some("0022"), Some("shop"))
        );
        assert_eq!(cli.env, ["A=1", "B=2=3"]);
        assert_eq!(cli.error_logfile.as_deref(), Some("/var/log/f.log"));
        assert_eq!(cli.proxy_allow_from.as_deref(), Some("*"));
    }

    #[test]
    fn a_repeated_flag_takes_its_last_value() {
        let cli = Cli::try_parse_from([
            "forkhorn",
            "--threads",
            "2",
            "-w",
            "5",
            "--threads=3",
            "-k",
            "sync",
            "--worker-class",
            "gthread",
            "-w",
            "6",
            "-D",
            "-D",
            "-b",
            "a:1",
            "-b",
            "b:2",
        ])
        .expect("valid command line");
        assert_eq!(cli.threads.as_deref(), Some("3"));
        assert_eq!(cli.worker_class.as_deref(), Some("gthread"));
        assert_eq!(cli.workers.as_deref(), Some("6"));
        assert!(cli.daemon);
        assert_eq!(cli.bind, ["a:1", "b:2"], "a repeatable flag keeps every value");
    }

    #[test]
    fn switches_take_no_value() {
        assert!(Cli::try_parse_from(["forkhorn", "--daemon=true"]).is_err());
        let cli = Cli::try_parse_from(["forkhorn", "--preload", "false"]).expect("valid command line");
        assert!(cli.preload);
        assert_eq!(cli.app.as_deref(), Some("false"), "the word after a switch is the APP");
    }

    #[test]
    fn empty_server_header_is_a_value() {
        let cli = Cli::try_parse_from(["forkhorn", "--server-header", ""]).expect("valid command line");
        assert_eq!(cli.server_header.as_deref(), Some(""));
    }
}
