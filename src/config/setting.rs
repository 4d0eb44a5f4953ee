//! The settings: each one's key in the file and flag on the command line, and the one function,
//! [`assign`], that checks a value and stores it in a [`Config`]. Every source goes through it, so
//! a value is judged the same way wherever it was written.

use super::system::System;
use super::StdStream;
use super::{addr, allow, syslog};
use super::{BindAddr, Config, LogLevel, WorkerClass};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// One configurable setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Setting {
    Bind,
    Workers,
    WorkerClass,
    Threads,
    Backlog,
    WorkerConnections,
    Timeout,
    GracefulTimeout,
    Keepalive,
    LimitRequestLine,
    LimitRequestFields,
    LimitRequestFieldSize,
    LimitRequestBody,
    BodyBufferSize,
    HeaderTimeout,
    ServerHeader,
    App,
    Loglevel,
    ForwardedAllowIps,
    SecureSchemeHeaders,
    ProxyProtocol,
    ProxyAllowIps,
    StaticRoot,
    BootTimeout,
    MaxRequests,
    MaxRequestsJitter,
    MaxWorkerMemory,
    ReusePort,
    BatchResponses,
    Pidfile,
    Chdir,
    Pythonpath,
    Virtualenv,
    PreloadApp,
    Errorlog,
    Accesslog,
    AccessLogFormat,
    Syslog,
    SyslogAddr,
    SyslogFacility,
    SyslogPrefix,
    DisableRedirectAccessToSyslog,
    CaptureOutput,
    User,
    Group,
    Umask,
    ProcName,
    RawEnv,
    Daemon,
}

impl Setting {
    /// Every setting, in the order `--print-config` and `etc/forkhorn.toml` list them.
    pub(crate) const ALL: [Setting; 49] = [
        Setting::Bind,
        Setting::Workers,
        Setting::WorkerClass,
        Setting::Threads,
        Setting::Backlog,
        Setting::WorkerConnections,
        Setting::Timeout,
        Setting::GracefulTimeout,
        Setting::Keepalive,
        Setting::LimitRequestLine,
        Setting::LimitRequestFields,
        Setting::LimitRequestFieldSize,
        Setting::LimitRequestBody,
        Setting::BodyBufferSize,
        Setting::HeaderTimeout,
        Setting::ServerHeader,
        Setting::App,
        Setting::Loglevel,
        Setting::ForwardedAllowIps,
        Setting::SecureSchemeHeaders,
        Setting::ProxyProtocol,
        Setting::ProxyAllowIps,
        Setting::StaticRoot,
        Setting::BootTimeout,
        Setting::MaxRequests,
        Setting::MaxRequestsJitter,
        Setting::MaxWorkerMemory,
        Setting::ReusePort,
        Setting::BatchResponses,
        Setting::Pidfile,
        Setting::Chdir,
        Setting::Pythonpath,
        Setting::Virtualenv,
        Setting::PreloadApp,
        Setting::Errorlog,
        Setting::Accesslog,
        Setting::AccessLogFormat,
        Setting::Syslog,
        Setting::SyslogAddr,
        Setting::SyslogFacility,
        Setting::SyslogPrefix,
        Setting::DisableRedirectAccessToSyslog,
        Setting::CaptureOutput,
        Setting::User,
        Setting::Group,
        Setting::Umask,
        Setting::ProcName,
        Setting::RawEnv,
        Setting::Daemon,
    ];

    /// The key in the TOML file (gunicorn's setting name).
    pub(crate) fn key(self) -> &'static str {
        match self {
            Setting::Bind => "bind",
            Setting::Workers => "workers",
            Setting::WorkerClass => "worker_class",
            Setting::Threads => "threads",
            Setting::Backlog => "backlog",
            Setting::WorkerConnections => "worker_connections",
            Setting::Timeout => "timeout",
            Setting::GracefulTimeout => "graceful_timeout",
            Setting::Keepalive => "keepalive",
            Setting::LimitRequestLine => "limit_request_line",
            Setting::LimitRequestFields => "limit_request_fields",
            Setting::LimitRequestFieldSize => "limit_request_field_size",
            Setting::LimitRequestBody => "limit_request_body",
            Setting::BodyBufferSize => "body_buffer_size",
            Setting::HeaderTimeout => "header_timeout",
            Setting::ServerHeader => "server_header",
            Setting::App => "app",
            Setting::Loglevel => "loglevel",
            Setting::ForwardedAllowIps => "forwarded_allow_ips",
            Setting::SecureSchemeHeaders => "secure_scheme_headers",
            Setting::ProxyProtocol => "proxy_protocol",
            Setting::ProxyAllowIps => "proxy_allow_ips",
            Setting::StaticRoot => "static_root",
            Setting::BootTimeout => "boot_timeout",
            Setting::MaxRequests => "max_requests",
            Setting::MaxRequestsJitter => "max_requests_jitter",
            Setting::MaxWorkerMemory => "max_worker_memory",
            Setting::ReusePort => "reuse_port",
            Setting::BatchResponses => "batch_responses",
            Setting::Pidfile => "pidfile",
            Setting::Chdir => "chdir",
            Setting::Pythonpath => "pythonpath",
            Setting::Virtualenv => "virtualenv",
            Setting::PreloadApp => "preload_app",
            Setting::Errorlog => "errorlog",
            Setting::Accesslog => "accesslog",
            Setting::AccessLogFormat => "access_log_format",
            Setting::Syslog => "syslog",
            Setting::SyslogAddr => "syslog_addr",
            Setting::SyslogFacility => "syslog_facility",
            Setting::SyslogPrefix => "syslog_prefix",
            Setting::DisableRedirectAccessToSyslog => "disable_redirect_access_to_syslog",
            Setting::CaptureOutput => "capture_output",
            Setting::User => "user",
            Setting::Group => "group",
            Setting::Umask => "umask",
            Setting::ProcName => "proc_name",
            Setting::RawEnv => "raw_env",
            Setting::Daemon => "daemon",
        }
    }

    /// The command-line flag (gunicorn's spelling) that errors name; `APP` is the positional.
    /// `None` for a setting only the file can set, as in gunicorn.
    pub(crate) fn flag(self) -> Option<&'static str> {
        Some(match self {
            Setting::Bind => "--bind",
            Setting::Workers => "--workers",
            Setting::WorkerClass => "--worker-class",
            Setting::Threads => "--threads",
            Setting::Backlog => "--backlog",
            Setting::WorkerConnections => "--worker-connections",
            Setting::Timeout => "--timeout",
            Setting::GracefulTimeout => "--graceful-timeout",
            Setting::Keepalive => "--keep-alive",
            Setting::LimitRequestLine => "--limit-request-line",
            Setting::LimitRequestFields => "--limit-request-fields",
            Setting::LimitRequestFieldSize => "--limit-request-field_size",
            Setting::LimitRequestBody => "--limit-request-body",
            Setting::BodyBufferSize => "--body-buffer-size",
            Setting::HeaderTimeout => "--header-timeout",
            Setting::ServerHeader => "--server-header",
            Setting::App => "APP",
            Setting::Loglevel => "--log-level",
            Setting::ForwardedAllowIps => "--forwarded-allow-ips",
            Setting::SecureSchemeHeaders => return None,
            Setting::ProxyProtocol => "--proxy-protocol",
            Setting::ProxyAllowIps => "--proxy-allow-from",
            Setting::StaticRoot => "--static-root",
            Setting::BootTimeout => "--boot-timeout",
            Setting::MaxRequests => "--max-requests",
            Setting::MaxRequestsJitter => "--max-requests-jitter",
            Setting::MaxWorkerMemory => "--max-worker-memory",
            Setting::ReusePort => "--reuse-port",
            Setting::BatchResponses => "--no-batch-responses",
            Setting::Pidfile => "--pid",
            Setting::Chdir => "--chdir",
            Setting::Pythonpath => "--pythonpath",
            Setting::Virtualenv => "--virtualenv",
            Setting::PreloadApp => "--preload",
            Setting::Errorlog => "--error-logfile",
            Setting::Accesslog => "--access-logfile",
            Setting::AccessLogFormat => "--access-logformat",
            Setting::Syslog => "--log-syslog",
            Setting::SyslogAddr => "--log-syslog-to",
            Setting::SyslogFacility => "--log-syslog-facility",
            Setting::SyslogPrefix => "--log-syslog-prefix",
            Setting::DisableRedirectAccessToSyslog => "--disable-redirect-access-to-syslog",
            Setting::CaptureOutput => "--capture-output",
            Setting::User => "--user",
            Setting::Group => "--group",
            Setting::Umask => "--umask",
            Setting::ProcName => "--name",
            Setting::RawEnv => "--env",
            Setting::Daemon => "--daemon",
        })
    }
}

/// A value as a source delivered it, before the setting that receives it has checked it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    /// A TOML integer.
    Int(i64),
    /// A TOML float.
    Float(f64),
    /// A TOML boolean, or a command-line switch (always `true`).
    Bool(bool),
    /// A TOML string.
    Str(String),
    /// A TOML date or time.
    Datetime,
    /// A TOML table's entries in file order; the spans let an error point at the entry's line.
    Table(Vec<(String, Spanned<Value>)>),
    /// A TOML array; the spans let an error point at the line of the element at fault.
    List(Vec<Spanned<Value>>),
    /// Text from the command line or the environment. It has no type of its own, so each
    /// setting parses it: `-w 3` is a number, `workers = "3"` in the file is not.
    Arg(String),
    /// A repeated flag (`-b A -b B`).
    Args(Vec<String>),
}

impl fmt::Display for Value {
    /// The value as the "got ..." of a message: strings quoted and escaped, so always one line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(n) => write!(f, "{n}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Str(s) | Value::Arg(s) => write!(f, "{s:?}"),
            Value::Datetime => f.write_str("a date-time"),
            Value::Table(_) => f.write_str("a table"),
            Value::List(_) | Value::Args(_) => f.write_str("a list"),
        }
    }
}

/// Why a value was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    /// What is wrong, e.g. `expected a positive integer, got "two"`.
    pub(crate) message: String,
    /// For a list or a table, the index of the element or entry at fault.
    pub(crate) item: Option<usize>,
}

impl Problem {
    fn new(message: String) -> Problem {
        Problem { message, item: None }
    }

    fn at(item: Option<usize>, message: String) -> Problem {
        Problem { message, item }
    }
}

/// Durations are capped so that adding one to an `Instant` can never overflow and panic.
const MAX_SECONDS: u64 = u32::MAX as u64;

/// The log levels gunicorn accepts, in the order messages list them.
const LEVELS: [LogLevel; 5] = [
    LogLevel::Debug,
    LogLevel::Info,
    LogLevel::Warning,
    LogLevel::Error,
    LogLevel::Critical,
];

/// Checks `value` for `setting` and stores it in `cfg`; on error `cfg` is unchanged. `sys`
/// answers what a check must ask the machine (host names, directories, users).
pub(crate) fn assign(cfg: &mut Config, setting: Setting, value: &Value, sys: &dyn System) -> Result<(), Problem> {
    const POSITIVE: Range = Range::new(1, u64::MAX, "a positive integer");
    const BYTES: Range = Range::new(0, u64::MAX, "a non-negative number of bytes");
    const ALLOW: &str = "a comma-separated string or a list of IP addresses, CIDR networks or *";
    match setting {
        Setting::Bind => cfg.bind = bind_list(value, sys)?,
        Setting::Workers => cfg.workers = integer(value, POSITIVE)?,
        Setting::WorkerClass => cfg.worker_class = worker_class(value)?,
        // gunicorn sets no upper bound; 1024 threads is past any useful pool, and a typo such as
        // 40000 would otherwise cost every worker that many stacks.
        Setting::Threads => cfg.threads = integer(value, Range::new(1, 1024, "an integer from 1 to 1024"))?,
        Setting::Backlog => cfg.backlog = integer(value, POSITIVE)?,
        Setting::WorkerConnections => cfg.worker_connections = integer(value, POSITIVE)?,
        Setting::Timeout => cfg.timeout = seconds(value, Zero::Allowed)?,
        Setting::GracefulTimeout => cfg.graceful_timeout = seconds(value, Zero::Allowed)?,
        Setting::Keepalive => cfg.keepalive = seconds(value, Zero::Allowed)?,
        // gunicorn's bounds, applied as gunicorn applies them: a larger value (and for the
        // field count, 0) means the bound, so a gunicorn configuration keeps working.
        Setting::LimitRequestLine => {
            let n: usize = integer(value, Range::new(0, u64::MAX, "a non-negative integer (0 = unlimited)"))?;
            cfg.limit_request_line = crate::http::Limits::bound_request_line(n)
        }
        Setting::LimitRequestFields => {
            let n: usize = integer(value, Range::new(0, u64::MAX, "a non-negative integer"))?;
            cfg.limit_request_fields = crate::http::Limits::bound_fields(n)
        }
        Setting::LimitRequestFieldSize => {
            cfg.limit_request_field_size =
                integer(value, Range::new(0, u64::MAX, "a non-negative integer (0 = unlimited)"))?
        }
        Setting::LimitRequestBody => {
            cfg.limit_request_body = integer(
                value,
                Range::new(0, u64::MAX, "a non-negative number of bytes (0 = unlimited)"),
            )?
        }
        Setting::BodyBufferSize => cfg.body_buffer_size = integer(value, BYTES)?,
        // Zero would time every connection out the moment it is accepted.
        Setting::HeaderTimeout => cfg.header_timeout = seconds(value, Zero::Refused)?,
        Setting::ServerHeader => cfg.server_header = server_header(value)?,
        Setting::App => cfg.app = app(value)?,
        Setting::Loglevel => cfg.loglevel = loglevel(value)?,
        Setting::ForwardedAllowIps => cfg.forwarded_allow_ips = allow_ips(value, ALLOW)?,
        Setting::SecureSchemeHeaders => cfg.secure_scheme_headers = scheme_headers(value)?,
        Setting::ProxyProtocol => cfg.proxy_protocol = boolean(value)?,
        Setting::ProxyAllowIps => cfg.proxy_allow_ips = allow_ips(value, ALLOW)?,
        Setting::StaticRoot => cfg.static_root = Some(existing_dir(value, sys)?),
        // Zero would fail every boot before the worker could report in.
        Setting::BootTimeout => cfg.boot_timeout = seconds(value, Zero::Refused)?,
        Setting::MaxRequests => {
            cfg.max_requests = integer(value, Range::new(0, u64::MAX, "a non-negative integer (0 = never)"))?
        }
        Setting::MaxWorkerMemory => {
            cfg.max_worker_memory = integer(value, Range::new(0, 1 << 40, "a number of MiB (0: no limit)"))?
        }
        Setting::MaxRequestsJitter => {
            cfg.max_requests_jitter = integer(value, Range::new(0, u64::MAX, "a non-negative integer"))?
        }
        Setting::ReusePort => cfg.reuse_port = boolean(value)?,
        Setting::BatchResponses => cfg.batch_responses = boolean(value)?,
        Setting::Pidfile => cfg.pidfile = Some(file_path(value, sys, FilePath::Only)?.into()),
        Setting::Chdir => cfg.chdir = Some(existing_dir(value, sys)?),
        Setting::Pythonpath => cfg.pythonpath = path_list(value)?,
        Setting::Virtualenv => cfg.virtualenv = Some(existing_dir(value, sys)?),
        Setting::PreloadApp => cfg.preload_app = boolean(value)?,
        Setting::Errorlog => cfg.errorlog = file_path(value, sys, FilePath::OrStderr)?,
        Setting::Accesslog => cfg.accesslog = Some(file_path(value, sys, FilePath::OrStderr)?),
        // The `%(atom)s` grammar is in `access_format`; a bad atom is a configuration error.
        Setting::AccessLogFormat => {
            let format = non_empty(value, "a non-empty access log format")?;
            super::access_format::AccessFormat::parse(&format)
                .map_err(|why| Problem::new(format!("{value} is not a valid access log format: {why}")))?;
            cfg.access_log_format = format;
        }
        Setting::Syslog => cfg.syslog = boolean(value)?,
        Setting::SyslogAddr => cfg.syslog_addr = syslog_addr(value)?,
        Setting::SyslogFacility => cfg.syslog_facility = facility(value)?,
        Setting::SyslogPrefix => cfg.syslog_prefix = Some(one_line_name(value)?),
        Setting::DisableRedirectAccessToSyslog => cfg.disable_redirect_access_to_syslog = boolean(value)?,
        Setting::CaptureOutput => cfg.capture_output = boolean(value)?,
        Setting::User => cfg.user = Some(account(value, Account::User, sys)?),
        Setting::Group => cfg.group = Some(account(value, Account::Group, sys)?),
        Setting::Umask => cfg.umask = umask(value)?,
        Setting::ProcName => cfg.proc_name = Some(one_line_name(value)?),
        Setting::RawEnv => cfg.raw_env = env_pairs(value)?,
        Setting::Daemon => cfg.daemon = boolean(value)?,
    }
    Ok(())
}

/// The integers a setting admits, and how a message describes them.
#[derive(Clone, Copy)]
struct Range {
    min: u64,
    max: u64,
    what: &'static str,
}

impl Range {
    const fn new(min: u64, max: u64, what: &'static str) -> Range {
        Range { min, max, what }
    }
}

/// An integer within `range` that also fits `T` (e.g. the `i32` of listen(2)'s backlog).
fn integer<T: TryFrom<u64>>(value: &Value, range: Range) -> Result<T, Problem> {
    let expected = |got: &dyn fmt::Display| Problem::new(format!("expected {}, got {got}", range.what));
    let n = match value {
        Value::Int(n) => *n,
        Value::Arg(s) => s.trim().parse::<i64>().map_err(|_| expected(value))?,
        other => return Err(expected(other)),
    };
    let n = u64::try_from(n).map_err(|_| expected(&n))?;
    if n < range.min || n > range.max {
        return Err(expected(&n));
    }
    T::try_from(n).map_err(|_| expected(&format_args!("{n}, which is too large")))
}

/// Whether a duration may be zero.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Zero {
    Allowed,
    Refused,
}

/// A duration in seconds, integer or (for fractions) float.
fn seconds(value: &Value, zero: Zero) -> Result<Duration, Problem> {
    let what = match zero {
        Zero::Allowed => "a non-negative number of seconds",
        Zero::Refused => "a positive number of seconds",
    };
    let expected = |got: &dyn fmt::Display| Problem::new(format!("expected {what}, got {got}"));
    let too_large = |got: &dyn fmt::Display| Problem::new(format!("expected at most {MAX_SECONDS} seconds, got {got}"));
    let parsed;
    let value = match value {
        // Text is an integer if it reads as one, so that `-t 30` and `timeout = 30` agree.
        Value::Arg(s) => {
            let s = s.trim();
            parsed = match (s.parse::<i64>(), s.parse::<f64>()) {
                (Ok(n), _) => Value::Int(n),
                (_, Ok(x)) => Value::Float(x),
                _ => return Err(expected(value)),
            };
            &parsed
        }
        other => other,
    };
    let d = match value {
        Value::Int(n) => match u64::try_from(*n) {
            Ok(n) if n > MAX_SECONDS => return Err(too_large(&n)),
            Ok(n) => Duration::from_secs(n),
            Err(_) => return Err(expected(value)),
        },
        Value::Float(x) if x.is_finite() && *x >= 0.0 => {
            if *x > MAX_SECONDS as f64 {
                return Err(too_large(value));
            }
            Duration::from_secs_f64(*x)
        }
        other => return Err(expected(other)),
    };
    if zero == Zero::Refused && d.is_zero() {
        return Err(expected(value));
    }
    Ok(d)
}

/// The text of a string value, or the "expected ..." problem.
fn text<'v>(value: &'v Value, what: &str) -> Result<&'v str, Problem> {
    match value {
        Value::Str(s) | Value::Arg(s) => Ok(s),
        other => Err(Problem::new(format!("expected {what}, got {other}"))),
    }
}

/// gunicorn's worker classes that forkhorn has, by every name gunicorn knows them by: the short
/// name, the `egg:` entry point and the class path.
const WORKER_CLASSES: [(&str, WorkerClass); 6] = [
    ("sync", WorkerClass::Sync),
    ("gthread", WorkerClass::Gthread),
    ("egg:gunicorn#sync", WorkerClass::Sync),
    ("egg:gunicorn#gthread", WorkerClass::Gthread),
    ("gunicorn.workers.sync.SyncWorker", WorkerClass::Sync),
    ("gunicorn.workers.gthread.ThreadWorker", WorkerClass::Gthread),
];

/// The async classes (gevent, eventlet, tornado, uvicorn's) are refused rather than mapped to
/// gthread: a configuration that asks for one expects monkey-patching or an event loop the app
/// runs on, which forkhorn does not give; the message points at `threads`, which does serve an
/// app that waits.
fn worker_class(value: &Value) -> Result<WorkerClass, Problem> {
    const WHAT: &str =
        "sync or gthread (forkhorn's worker classes; an app that waits on I/O should raise threads instead)";
    let name = text(value, WHAT)?;
    WORKER_CLASSES
        .into_iter()
        .find(|(n, _)| *n == name.trim())
        .map(|(_, class)| class)
        .ok_or_else(|| Problem::new(format!("expected {WHAT}, got {value}")))
}

fn loglevel(value: &Value) -> Result<LogLevel, Problem> {
    let names = LEVELS.map(LogLevel::as_str).join(", ");
    let what = format!("one of {names}");
    let name = text(value, &what)?;
    LEVELS
        .into_iter()
        .find(|l| l.as_str().eq_ignore_ascii_case(name.trim()))
        .ok_or_else(|| Problem::new(format!("expected {what}, got {value}")))
}

/// A header value must not be able to end the header or start another: printable ASCII and
/// spaces only.
fn server_header(value: &Value) -> Result<String, Problem> {
    const WHAT: &str = "printable ASCII text (or \"\" for no Server header)";
    let s = text(value, WHAT)?;
    if s.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        Ok(s.to_owned())
    } else {
        Err(Problem::new(format!("expected {WHAT}, got {value}")))
    }
}

/// The application's syntax only; which apps exist is the worker's business.
fn app(value: &Value) -> Result<String, Problem> {
    const WHAT: &str = "builtin:NAME or module[.sub]:callable, :factory() or :factory(args)";
    let s = text(value, WHAT)?;
    if is_app_spec(s) {
        Ok(s.to_owned())
    } else {
        Err(Problem::new(format!("expected {WHAT}, got {value}")))
    }
}

/// `builtin:NAME`, or gunicorn's `module.path[:callable]` where the callable may be called:
/// `:factory()` / `:factory(args)`. A bare module means `module:application`, as in gunicorn.
fn is_app_spec(s: &str) -> bool {
    if let Some(name) = s.strip_prefix("builtin:") {
        return !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    }
    // The first colon splits: the arguments of a factory call may contain colons themselves.
    let (module, object) = match s.split_once(':') {
        Some((module, object)) => (module, Some(object)),
        None => (s, None),
    };
    if !module.split('.').all(is_identifier) {
        return false;
    }
    match object {
        None => true,
        Some(object) => match object.split_once('(') {
            Some((name, _)) => is_identifier(name) && object.ends_with(')'),
            None => is_identifier(object),
        },
    }
}

/// A Python identifier (approximately: Unicode letters and digits, not starting with a digit).
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic()) && chars.all(|c| c == '_' || c.is_alphanumeric())
}

fn bind_list(value: &Value, sys: &dyn System) -> Result<Vec<BindAddr>, Problem> {
    let items: Vec<(Option<usize>, &str)> = match value {
        Value::Str(s) | Value::Arg(s) => vec![(None, s.as_str())],
        Value::Args(list) => list.iter().map(|s| (None, s.as_str())).collect(),
        Value::List(list) => list
            .iter()
            .enumerate()
            .map(|(i, item)| match item.get_ref() {
                Value::Str(s) => Ok((Some(i), s.as_str())),
                other => Err(Problem {
                    message: format!("expected an address string, got {other}"),
                    item: Some(i),
                }),
            })
            .collect::<Result<_, _>>()?,
        other => {
            return Err(Problem::new(format!(
                "expected an address or a list of addresses, got {other}"
            )))
        }
    };
    if items.is_empty() {
        return Err(Problem::new("expected at least one address, got an empty list".into()));
    }
    let mut out: Vec<BindAddr> = Vec::with_capacity(items.len());
    for (item, text) in items {
        let addr = addr::parse(text, &|host, port| sys.resolve(host, port)).map_err(|why| Problem {
            message: format!("{text:?} is not a valid address ({why})"),
            item,
        })?;
        // Binding the same address twice fails at bind time anyway; saying so here names the
        // line. Port 0 is exempt: each asks the kernel for a different free port.
        let ephemeral = matches!(addr, BindAddr::Tcp(sa) if sa.port() == 0);
        if !ephemeral && out.contains(&addr) {
            return Err(Problem {
                message: format!("{text:?} repeats an address already listed"),
                item,
            });
        }
        out.push(addr);
    }
    Ok(out)
}

fn boolean(value: &Value) -> Result<bool, Problem> {
    match value {
        Value::Bool(b) => Ok(*b),
        other => Err(Problem::new(format!("expected true or false, got {other}"))),
    }
}

/// How a single string stands for a list.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Split {
    /// gunicorn's comma-separated string: pieces trimmed, empty ones skipped.
    Commas,
    /// The string is the one element.
    Whole,
}

/// The strings of a list setting, each with its index in a TOML list (so that an error names
/// the element's line): a TOML list of strings, a repeated flag, or one string split by `split`.
fn strings(value: &Value, split: Split, what: &str) -> Result<Vec<(Option<usize>, String)>, Problem> {
    match value {
        Value::Str(s) | Value::Arg(s) => Ok(match split {
            Split::Commas => s
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| (None, p.to_owned()))
                .collect(),
            Split::Whole => vec![(None, s.clone())],
        }),
        Value::Args(list) => Ok(list.iter().map(|s| (None, s.clone())).collect()),
        Value::List(list) => list
            .iter()
            .enumerate()
            .map(|(i, item)| match item.get_ref() {
                Value::Str(s) => Ok((Some(i), s.clone())),
                other => Err(Problem::at(Some(i), format!("expected a string, got {other}"))),
            })
            .collect(),
        other => Err(Problem::new(format!("expected {what}, got {other}"))),
    }
}

fn allow_ips(value: &Value, what: &str) -> Result<super::AllowIps, Problem> {
    let mut entries = Vec::new();
    for (item, text) in strings(value, Split::Commas, what)? {
        let entry =
            allow::entry(&text).map_err(|why| Problem::at(item, format!("{text:?} is not a valid entry ({why})")))?;
        entries.push(entry);
    }
    Ok(allow::collect(entries))
}

/// Header names as gunicorn compares them (upper case), each mapped to the value that means
/// https. The names must be tokens and the values printable, or they could never match a request.
fn scheme_headers(value: &Value) -> Result<Vec<(String, String)>, Problem> {
    let Value::Table(entries) = value else {
        return Err(Problem::new(format!(
            "expected a table of header names and values, such as {{ \"X-FORWARDED-PROTO\" = \"https\" }}, got {value}"
        )));
    };
    let mut out: Vec<(String, String)> = Vec::with_capacity(entries.len());
    for (i, (name, v)) in entries.iter().enumerate() {
        let refuse = |message: String| Err(Problem::at(Some(i), message));
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return refuse(format!("header name {name:?} is not a valid HTTP token"));
        }
        let upper = name.to_ascii_uppercase();
        if out.iter().any(|(n, _)| *n == upper) {
            return refuse(format!(
                "header {name:?} is listed twice (names are compared ignoring case)"
            ));
        }
        match v.get_ref() {
            Value::Str(s) if !s.is_empty() && is_printable(s) => out.push((upper, s.clone())),
            other => return refuse(format!("expected non-empty printable ASCII for {name:?}, got {other}")),
        }
    }
    Ok(out)
}

/// RFC 9110's `tchar`: the characters of a header name.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Printable ASCII and spaces: nothing that could end a header or a log line.
fn is_printable(s: &str) -> bool {
    s.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}

/// A path as text: not empty, and without NUL, which no system call could take.
fn path_text<'v>(value: &'v Value, what: &str) -> Result<&'v str, Problem> {
    let s = text(value, what)?;
    if s.is_empty() || s.contains('\0') {
        return Err(Problem::new(format!("expected {what}, got {value}")));
    }
    Ok(s)
}

/// Checked when the configuration is loaded, so that a typo stops the server before it binds
/// rather than when a worker first needs the directory. A relative path is taken from the
/// directory forkhorn was started in.
fn existing_dir(value: &Value, sys: &dyn System) -> Result<PathBuf, Problem> {
    const WHAT: &str = "an existing directory";
    let s = path_text(value, WHAT)?;
    if sys.is_dir(Path::new(s)) {
        Ok(PathBuf::from(s))
    } else {
        Err(Problem::new(format!("expected {WHAT}, got {value}")))
    }
}

/// Whether a file setting may also be `-` for stderr (or another name of the process's stdout or
/// stderr, such as `/dev/stdout`: see [`StdStream::named`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum FilePath {
    Only,
    OrStderr,
}

/// A file forkhorn will create or append to: its directory must exist (the file need not), and
/// it must not itself be a directory.
fn file_path(value: &Value, sys: &dyn System, kind: FilePath) -> Result<String, Problem> {
    let what = match kind {
        FilePath::Only => "a file path in an existing directory",
        FilePath::OrStderr => "\"-\" (stderr) or a file path in an existing directory",
    };
    let s = path_text(value, what)?;
    if kind == FilePath::OrStderr && StdStream::named(s).is_some() {
        return Ok(s.to_owned());
    }
    let path = Path::new(s);
    let dir = match path.parent() {
        Some(p) if p.as_os_str().is_empty() => Path::new("."),
        Some(p) => p,
        None => path,
    };
    if sys.is_dir(path) {
        return Err(Problem::new(format!(
            "expected {what}, got {value}, which is a directory"
        )));
    }
    if !sys.is_dir(dir) {
        return Err(Problem::new(format!(
            "expected {what}, got {value}, whose directory does not exist"
        )));
    }
    Ok(s.to_owned())
}

/// gunicorn's `pythonpath`: directories for `sys.path`, not checked for existence (neither does
/// gunicorn: a missing entry is harmless to Python).
fn path_list(value: &Value) -> Result<Vec<PathBuf>, Problem> {
    const WHAT: &str = "a comma-separated string or a list of directory paths";
    let mut out = Vec::new();
    for (item, s) in strings(value, Split::Commas, WHAT)? {
        if s.is_empty() || s.contains('\0') {
            return Err(Problem::at(item, format!("expected a directory path, got {s:?}")));
        }
        out.push(PathBuf::from(s));
    }
    Ok(out)
}

fn non_empty(value: &Value, what: &str) -> Result<String, Problem> {
    match text(value, what)? {
        "" => Err(Problem::new(format!("expected {what}, got {value}"))),
        s => Ok(s.to_owned()),
    }
}

/// A name that appears inside log lines and process titles: one line, not empty.
fn one_line_name(value: &Value) -> Result<String, Problem> {
    const WHAT: &str = "non-empty text without control characters";
    let s = non_empty(value, WHAT)?;
    if s.chars().any(char::is_control) {
        return Err(Problem::new(format!("expected {WHAT}, got {value}")));
    }
    Ok(s)
}

fn syslog_addr(value: &Value) -> Result<String, Problem> {
    let s = text(value, "a syslog address such as unix:///dev/log or udp://HOST:PORT")?;
    syslog::check_addr(s)
        .map(|()| s.to_owned())
        .map_err(|why| Problem::new(format!("{value} is not a valid syslog address ({why})")))
}

fn facility(value: &Value) -> Result<String, Problem> {
    let what = format!("one of {}", syslog::FACILITIES.join(", "));
    let name = text(value, &what)?;
    syslog::facility(name)
        .map(str::to_owned)
        .ok_or_else(|| Problem::new(format!("expected {what}, got {value}")))
}

/// Whose database a name is looked up in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Account {
    User,
    Group,
}

/// A user or group name, or a number as gunicorn takes it (not looked up: an id need not have a
/// name). A name that does not exist is refused now, not when the master drops privileges.
fn account(value: &Value, kind: Account, sys: &dyn System) -> Result<String, Problem> {
    let noun = match kind {
        Account::User => "user",
        Account::Group => "group",
    };
    let expected = || Problem::new(format!("expected an existing {noun} name or a number, got {value}"));
    let s = match value {
        Value::Str(s) | Value::Arg(s) => s.trim(),
        _ => return Err(expected()),
    };
    if s.is_empty() {
        return Err(expected());
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        // u32::MAX is (uid_t)-1, which setuid(2) does not take as an id.
        return match s.parse::<u32>() {
            Ok(id) if id != u32::MAX => Ok(s.to_owned()),
            _ => Err(expected()),
        };
    }
    let exists = match kind {
        Account::User => sys.user_exists(s),
        Account::Group => sys.group_exists(s),
    };
    match exists {
        Ok(true) => Ok(s.to_owned()),
        Ok(false) => Err(expected()),
        Err(why) => Err(Problem::new(format!("cannot look up {noun} {s:?}: {why}"))),
    }
}

/// A umask as gunicorn reads it (Python's `int(x, 0)`, plus a leading 0 meaning octal), or a
/// TOML integer such as `0o022`.
fn umask(value: &Value) -> Result<u32, Problem> {
    const WHAT: &str = "a umask from 0 to 0o777 (octal as 0o22 or 0022)";
    let n = match value {
        Value::Int(n) => *n,
        Value::Str(s) | Value::Arg(s) => {
            auto_int(s.trim()).ok_or_else(|| Problem::new(format!("expected {WHAT}, got {value}")))?
        }
        other => return Err(Problem::new(format!("expected {WHAT}, got {other}"))),
    };
    match u32::try_from(n) {
        Ok(mask) if mask <= 0o777 => Ok(mask),
        // Shown in octal: that is how the user thinks of a mode.
        Ok(mask) => Err(Problem::new(format!("expected {WHAT}, got 0o{mask:o}"))),
        Err(_) => Err(Problem::new(format!("expected {WHAT}, got {value}"))),
    }
}

/// `0o17`, `0x1f`, `0b101`, `017` (octal, gunicorn's rule) or decimal; no sign.
fn auto_int(s: &str) -> Option<i64> {
    let lower = s.to_ascii_lowercase();
    let (digits, radix) = if let Some(d) = lower.strip_prefix("0o") {
        (d, 8)
    } else if let Some(d) = lower.strip_prefix("0x") {
        (d, 16)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (d, 2)
    } else if let Some(d) = lower.strip_prefix('0').filter(|d| !d.is_empty()) {
        (d, 8)
    } else {
        (lower.as_str(), 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    i64::from_str_radix(digits, radix).ok()
}

/// `KEY=VALUE` strings, split at the first `=`. The key may not be empty, and neither part may
/// hold a NUL, which the environment cannot carry.
fn env_pairs(value: &Value) -> Result<Vec<(String, String)>, Problem> {
    const WHAT: &str = "a list of \"KEY=VALUE\" strings";
    let mut out = Vec::new();
    for (item, s) in strings(value, Split::Whole, WHAT)? {
        match s.split_once('=') {
            Some((key, val)) if !key.is_empty() && !s.contains('\0') => out.push((key.to_owned(), val.to_owned())),
            _ => {
                return Err(Problem::at(
                    item,
                    format!("expected KEY=VALUE with a non-empty KEY, got {s:?}"),
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::system::Fake;
    use super::super::AllowIps;
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
    fn keys_and_flags_are_unique() {
        for (i, a) in Setting::ALL.iter().enumerate() {
            for b in &Setting::ALL[i + 1..] {
                assert_ne!(a.key(), b.key());
                assert!(a.flag().is_none() || a.flag() != b.flag(), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn positive_counts() {
        for s in [Setting::Workers, Setting::Backlog, Setting::WorkerConnections] {
            assert!(try_set(s, Value::Int(1)).is_ok());
            assert!(try_set(s, arg("12")).is_ok());
            assert_eq!(refused(s, Value::Int(0)), "expected a positive integer, got 0");
            assert_eq!(refused(s, Value::Int(-3)), "expected a positive integer, got -3");
            assert_eq!(refused(s, str("two")), "expected a positive integer, got \"two\"");
            assert_eq!(refused(s, str("2")), "expected a positive integer, got \"2\"");
            assert_eq!(refused(s, arg("two")), "expected a positive integer, got \"two\"");
            assert_eq!(refused(s, Value::Float(2.0)), "expected a positive integer, got 2.0");
            assert_eq!(refused(s, Value::Bool(true)), "expected a positive integer, got true");
            assert_eq!(
                refused(s, Value::Table(vec![])),
                "expected a positive integer, got a table"
            );
            assert_eq!(
                refused(s, Value::List(vec![])),
                "expected a positive integer, got a list"
            );
        }
        assert_eq!(try_set(Setting::Workers, arg(" 5 ")).map(|c| c.workers), Ok(5));
        assert_eq!(
            try_set(Setting::Backlog, Value::Int(i32::MAX.into())).map(|c| c.backlog),
            Ok(i32::MAX)
        );
        assert_eq!(
            refused(Setting::Backlog, Value::Int(1 << 31)),
            "expected a positive integer, got 2147483648, which is too large"
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
        ];
        for (value, want) in cases {
            assert_eq!(try_set(t, value.clone()).map(|c| c.threads), Ok(want), "{value:?}");
        }
        let what = "expected an integer from 1 to 1024";
        let cases = [
            (Value::Int(0), "0"),
            (arg("0"), "0"),
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
        ];
        for (name, want) in cases {
            assert_eq!(try_set(w, str(name)).map(|c| c.worker_class), Ok(want), "{name}");
            assert_eq!(try_set(w, arg(name)).map(|c| c.worker_class), Ok(want), "{name}");
        }
        let what =
            "expected sync or gthread (forkhorn's worker classes; an app that waits on I/O should raise threads instead)";
        let bad = [
            "gevent",
            "eventlet",
            "tornado",
            "gevent_pywsgi",
            "egg:gunicorn#gevent",
            "gunicorn.workers.ggevent.GeventWorker",
            "uvicorn.workers.UvicornWorker",
            "SYNC",
            "threads",
            "",
        ];
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
        ];
        for (name, want) in cases {
            assert_eq!(try_set(Setting::Loglevel, str(name)).map(|c| c.loglevel), Ok(want));
            assert_eq!(try_set(Setting::Loglevel, arg(name)).map(|c| c.loglevel), Ok(want));
        }
        let what = "expected one of debug, info, warning, error, critical";
        assert_eq!(refused(Setting::Loglevel, str("warn")), format!("{what}, got \"warn\""));
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
        ];
        for s in bad {
            let want =
                format!("expected builtin:NAME or module[.sub]:callable, :factory() or :factory(args), got {s:?}");
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
            Setting::ProxyProtocol,
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
            let what = "expected \"-\" (stderr) or a file path in an existing directory";
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
}
