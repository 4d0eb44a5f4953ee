//! The settings: each one's key in the file and flag on the command line, and the one function,
//! [`assign`], that checks a value and stores it in a [`Config`]. Every source goes through it, so
//! a value is judged the same way wherever it was written.

use super::addr::{self, Resolve};
use super::{BindAddr, Config, LogLevel};
use std::fmt;
use std::time::Duration;
use toml::Spanned;

/// One configurable setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Setting {
    Bind,
    Workers,
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
}

impl Setting {
    /// Every setting, in the order `--print-config` and `etc/forkhorn.toml` list them.
    pub(crate) const ALL: [Setting; 16] = [
        Setting::Bind,
        Setting::Workers,
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
    ];

    /// The key in the TOML file (gunicorn's setting name).
    pub(crate) fn key(self) -> &'static str {
        match self {
            Setting::Bind => "bind",
            Setting::Workers => "workers",
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
        }
    }

    /// The command-line flag (gunicorn's spelling) that errors name; `APP` is the positional.
    pub(crate) fn flag(self) -> &'static str {
        match self {
            Setting::Bind => "--bind",
            Setting::Workers => "--workers",
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
        }
    }
}

/// A value as a source delivered it, before the setting that receives it has checked it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    /// A TOML integer.
    Int(i64),
    /// A TOML float.
    Float(f64),
    /// A TOML boolean.
    Bool(bool),
    /// A TOML string.
    Str(String),
    /// A TOML date or time.
    Datetime,
    /// A TOML table.
    Table,
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
            Value::Table => f.write_str("a table"),
            Value::List(_) | Value::Args(_) => f.write_str("a list"),
        }
    }
}

/// Why a value was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    /// What is wrong, e.g. `expected a positive integer, got "two"`.
    pub(crate) message: String,
    /// For a list, the index of the element at fault.
    pub(crate) item: Option<usize>,
}

impl Problem {
    fn new(message: String) -> Problem {
        Problem { message, item: None }
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

/// Checks `value` for `setting` and stores it in `cfg`; on error `cfg` is unchanged.
pub(crate) fn assign(cfg: &mut Config, setting: Setting, value: &Value, resolve: Resolve<'_>) -> Result<(), Problem> {
    const POSITIVE: Range = Range::new(1, u64::MAX, "a positive integer");
    const BYTES: Range = Range::new(0, u64::MAX, "a non-negative number of bytes");
    match setting {
        Setting::Bind => cfg.bind = bind_list(value, resolve)?,
        Setting::Workers => cfg.workers = integer(value, POSITIVE)?,
        Setting::Backlog => cfg.backlog = integer(value, POSITIVE)?,
        Setting::WorkerConnections => cfg.worker_connections = integer(value, POSITIVE)?,
        Setting::Timeout => cfg.timeout = seconds(value, Zero::Allowed)?,
        Setting::GracefulTimeout => cfg.graceful_timeout = seconds(value, Zero::Allowed)?,
        Setting::Keepalive => cfg.keepalive = seconds(value, Zero::Allowed)?,
        // gunicorn's bounds: a longer request line or more fields than this is never legitimate.
        Setting::LimitRequestLine => {
            cfg.limit_request_line = integer(value, Range::new(0, 8190, "an integer from 0 to 8190 (0 = unlimited)"))?
        }
        Setting::LimitRequestFields => {
            cfg.limit_request_fields = integer(value, Range::new(1, 32768, "an integer from 1 to 32768"))?
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

fn bind_list(value: &Value, resolve: Resolve<'_>) -> Result<Vec<BindAddr>, Problem> {
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
        let addr = addr::parse(text, resolve).map_err(|why| Problem {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn no_dns(host: &str, _port: u16) -> Result<SocketAddr, String> {
        Err(format!("no DNS in tests ({host})"))
    }

    fn arg(s: &str) -> Value {
        Value::Arg(s.into())
    }

    fn str(s: &str) -> Value {
        Value::Str(s.into())
    }

    /// Assigns one value to a default config; the config, or the message.
    fn try_set(setting: Setting, value: Value) -> Result<Config, String> {
        let mut cfg = Config::default();
        assign(&mut cfg, setting, &value, &no_dns)
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
                assert_ne!(a.flag(), b.flag());
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
            assert_eq!(refused(s, Value::Table), "expected a positive integer, got a table");
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
    fn request_limits() {
        let line = Setting::LimitRequestLine;
        assert_eq!(try_set(line, Value::Int(0)).map(|c| c.limit_request_line), Ok(0));
        assert_eq!(try_set(line, Value::Int(8190)).map(|c| c.limit_request_line), Ok(8190));
        let want = "expected an integer from 0 to 8190 (0 = unlimited), got 8191";
        assert_eq!(refused(line, Value::Int(8191)), want);
        assert_eq!(
            refused(line, arg("-1")),
            "expected an integer from 0 to 8190 (0 = unlimited), got -1"
        );

        let fields = Setting::LimitRequestFields;
        assert_eq!(try_set(fields, Value::Int(1)).map(|c| c.limit_request_fields), Ok(1));
        assert_eq!(
            try_set(fields, Value::Int(32768)).map(|c| c.limit_request_fields),
            Ok(32768)
        );
        assert_eq!(
            refused(fields, Value::Int(0)),
            "expected an integer from 1 to 32768, got 0"
        );
        assert_eq!(
            refused(fields, Value::Int(32769)),
            "expected an integer from 1 to 32768, got 32769"
        );

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
            assign(&mut cfg, Setting::Bind, &v, &no_dns).map(|()| cfg.bind)
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
    fn refused_value_leaves_config_alone() {
        let mut cfg = Config::default();
        assert!(assign(&mut cfg, Setting::Workers, &Value::Int(0), &no_dns).is_err());
        assert_eq!(cfg, Config::default());
    }
}
