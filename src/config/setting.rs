//! What a setting is, apart from which one: the [`settings!`] macro that turns the table of
//! settings (`table.rs`) into the `Setting` enum, [`Config`], its defaults, [`assign`] and
//! `Config::value_toml`; the description each entry carries ([`Descriptor`], [`Cli`]); and the
//! checks that turn a source's [`Value`] into a setting's type. Every source goes through
//! [`assign`], so a value is judged the same way wherever it was written.

use super::system::System;
use super::table::Setting;
use super::StdStream;
use super::{addr, allow, syslog};
use super::{BindAddr, LogLevel, WorkerClass};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// Generates, from one entry per setting, everything that lists the settings:
///
/// - `Setting`, one variant per entry, with `ALL` and `KEYS` in table order (the order of
///   `--print-config` and `etc/forkhorn.toml`) and `describe()`, the entry's [`Descriptor`];
/// - `Config`, one public field per entry (the field's name is the file's key), and its
///   `Default`;
/// - `assign`, which checks a value with the entry's `parse` and stores it;
/// - `Config::value_toml`, which prints a field with the entry's `show`.
///
/// An entry reads `Variant field: Type = default, { cli, help, doc, [example,] [section,]
/// [ignored,] parse, show }`; `parse` is a `fn(&Value, &dyn System) -> Result<Type, Problem>` and `show` a
/// `fn(&Type) -> Option<String>` (`None`: not set), closures included.
macro_rules! settings {
    ($(
        $(#[$attr:meta])*
        $variant:ident $field:ident: $ty:ty = $default:expr, {
            $(alias: $alias:expr,)?
            cli: $cli:expr,
            help: $help:expr,
            doc: $doc:expr,
            $(example: $example:expr,)?
            $(section: $section:expr,)?
            $(ignored: $ignored:expr,)?
            parse: $parse:expr,
            show: $show:expr $(,)?
        }
    )*) => {
        /// One configurable setting.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Setting {
            $($variant,)*
        }

        impl Setting {
            /// Every setting, in the order `--print-config` and `etc/forkhorn.toml` list them.
            pub(crate) const ALL: [Setting; Setting::COUNT] = [$(Setting::$variant,)*];

            /// The keys of the file, in the order of [`Setting::ALL`].
            pub(crate) const KEYS: [&'static str; Setting::COUNT] = [$(stringify!($field),)*];

            const COUNT: usize = [$(stringify!($variant),)*].len();

            /// What the table says about the setting.
            pub(crate) fn describe(self) -> &'static Descriptor {
                match self {
                    $(Setting::$variant => {
                        const D: Descriptor = Descriptor {
                            key: stringify!($field),
                            alias: settings!(@optional $($alias)?),
                            cli: $cli,
                            help: $help,
                            doc: $doc,
                            example: settings!(@optional $($example)?),
                            section: settings!(@optional $($section)?),
                            ignored: settings!(@optional $($ignored)?),
                        };
                        &D
                    })*
                }
            }
        }

        /// The effective configuration. Every value has been validated.
        #[derive(Clone, Debug, PartialEq)]
        pub struct Config {
            /// The config file this came from, if any (re-read on HUP).
            pub config_file: Option<std::path::PathBuf>,
            /// The TLS configuration `certfile` and the other TLS settings give, read and checked
            /// when the configuration is loaded (or by the master, for one built in code); None
            /// without `certfile`. Internal: set by forkhorn, never by a caller.
            #[doc(hidden)]
            pub tls: Option<crate::tls::Acceptor>,
            $($(#[$attr])* pub $field: $ty,)*
        }

        impl Default for Config {
            fn default() -> Self {
                Config {
                    config_file: None,
                    tls: None,
                    $($field: $default,)*
                }
            }
        }

        /// Checks `value` for `setting` and stores it in `cfg`; on error `cfg` is unchanged.
        /// `sys` answers what a check must ask the machine (host names, directories, users).
        pub(crate) fn assign(
            cfg: &mut Config,
            setting: Setting,
            value: &Value,
            sys: &dyn System,
        ) -> Result<(), Problem> {
            match setting {
                $(Setting::$variant => {
                    let parse: fn(&Value, &dyn System) -> Result<$ty, Problem> = $parse;
                    cfg.$field = parse(value, sys)?;
                })*
            }
            Ok(())
        }

        impl Config {
            /// The value as TOML, or `None` for an optional setting that is not set.
            pub(crate) fn value_toml(&self, setting: Setting) -> Option<String> {
                match setting {
                    $(Setting::$variant => {
                        let show: fn(&$ty) -> Option<String> = $show;
                        show(&self.$field)
                    })*
                }
            }
        }
    };
    (@optional) => { None };
    (@optional $value:expr) => { Some($value) };
}
pub(super) use settings;

/// A setting as the table describes it, apart from its type, default, check and printing.
#[derive(Debug)]
pub(crate) struct Descriptor {
    /// The key in the TOML file (gunicorn's setting name).
    pub(crate) key: &'static str,
    /// Another name the files (TOML and `gunicorn.conf.py`) accept for it: gunicorn's, where
    /// forkhorn's key differs. `--print-config` writes the key.
    pub(crate) alias: Option<&'static str>,
    /// How the command line sets it.
    pub(crate) cli: Cli,
    /// Its line in `--help` and the man page.
    pub(crate) help: &'static str,
    /// The paragraph above it in `etc/forkhorn.toml` (wrapped when printed).
    pub(crate) doc: &'static str,
    /// For a setting that is not set by default, the value `etc/forkhorn.toml` shows it with,
    /// commented out.
    pub(crate) example: Option<&'static str>,
    /// The heading of the part of `etc/forkhorn.toml` that this setting opens.
    pub(crate) section: Option<&'static str>,
    /// For a gunicorn setting that forkhorn accepts without acting on it, the rest of the
    /// warning that follows the key at start-up when it is set ("is not supported by forkhorn yet
    /// and is ignored"). Such a setting's type is an `Option` whose `None` means gunicorn's
    /// default, so that being set and needing the warning are the same thing.
    pub(crate) ignored: Option<&'static str>,
}

impl Setting {
    /// The key in the TOML file (gunicorn's setting name).
    pub(crate) fn key(self) -> &'static str {
        self.describe().key
    }

    /// The setting a file's `name` sets (its key or its alias), and that name.
    pub(crate) fn named(name: &str) -> Option<(Setting, &'static str)> {
        Setting::ALL.into_iter().find_map(|s| {
            let d = s.describe();
            [Some(d.key), d.alias]
                .into_iter()
                .flatten()
                .find(|k| *k == name)
                .map(|k| (s, k))
        })
    }

    /// Every name a file may use: the keys, then the aliases.
    pub(crate) fn names() -> impl Iterator<Item = &'static str> {
        let aliases = Setting::ALL.into_iter().filter_map(|s| s.describe().alias);
        Setting::KEYS.into_iter().chain(aliases)
    }

    /// The command-line flag (gunicorn's spelling) that errors name; `APP` is the positional.
    /// `None` for a setting only the file can set, as in gunicorn.
    pub(crate) fn flag(self) -> Option<&'static str> {
        match self.describe().cli {
            Cli::FileOnly => None,
            Cli::Positional(name) => Some(name),
            Cli::Flag(flag) => Some(flag.long),
        }
    }
}

/// How a setting appears on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cli {
    /// It does not: only the file sets it, as in gunicorn.
    FileOnly,
    /// As the positional argument, with this name in help and errors.
    Positional(&'static str),
    /// As a flag.
    Flag(Flag),
}

/// A flag: built with [`Cli::long`] and finished by what it takes, e.g.
/// `Cli::long("--bind").short('b').values("ADDR")`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Flag {
    /// gunicorn's spelling, with its dashes: the name errors use.
    pub(crate) long: &'static str,
    pub(crate) short: Option<char>,
    /// A second spelling, shown in help (with its dashes).
    pub(crate) alias: Option<&'static str>,
    pub(crate) takes: Takes,
}

/// What a flag takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Takes {
    /// One value, named so in help; given twice, the last one wins (as with gunicorn's argparse).
    One(&'static str),
    /// One value each time it is given, every one kept (`-b A -b B`).
    Many(&'static str),
    /// One value, named so in help, that may be left out: the flag alone stands for `missing`
    /// (argparse's `nargs="?"` with a `const`, as gunicorn's `--proxy-protocol [MODE]`). The
    /// next argument is its value only when it is one of `values` (any case); anything else is
    /// left for what follows, so that a command line written for the plain switch
    /// (`--proxy-protocol app:app`, before gunicorn 24) still names its app.
    Optional {
        name: &'static str,
        missing: &'static str,
        values: &'static [&'static str],
    },
    /// No value: given, it sets the setting to this boolean. Absent, it leaves the file's value,
    /// so a switch can only change a setting one way, as in gunicorn.
    Switch(bool),
}

impl Cli {
    /// A flag, to be finished by [`Flag::value`], [`Flag::values`] or a switch.
    pub(crate) const fn long(long: &'static str) -> Flag {
        Flag {
            long,
            short: None,
            alias: None,
            takes: Takes::Switch(true),
        }
    }
}

impl Flag {
    pub(crate) const fn short(self, short: char) -> Flag {
        Flag {
            short: Some(short),
            ..self
        }
    }

    pub(crate) const fn alias(self, alias: &'static str) -> Flag {
        Flag {
            alias: Some(alias),
            ..self
        }
    }

    /// Takes one value, named `name` in help.
    pub(crate) const fn value(self, name: &'static str) -> Cli {
        Cli::Flag(Flag {
            takes: Takes::One(name),
            ..self
        })
    }

    /// Takes one of `values`, named `name` in help, or none: given alone, it stands for
    /// `missing` (see [`Takes::Optional`]).
    pub(crate) const fn optional(
        self,
        name: &'static str,
        missing: &'static str,
        values: &'static [&'static str],
    ) -> Cli {
        Cli::Flag(Flag {
            takes: Takes::Optional { name, missing, values },
            ..self
        })
    }

    /// Takes a value each time it is given.
    pub(crate) const fn values(self, name: &'static str) -> Cli {
        Cli::Flag(Flag {
            takes: Takes::Many(name),
            ..self
        })
    }

    /// Turns the setting on.
    pub(crate) const fn switch(self) -> Cli {
        Cli::Flag(Flag {
            takes: Takes::Switch(true),
            ..self
        })
    }

    /// Turns the setting off (`--no-...`).
    pub(crate) const fn switch_off(self) -> Cli {
        Cli::Flag(Flag {
            takes: Takes::Switch(false),
            ..self
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

/// Counts that must be at least 1.
pub(super) const POSITIVE: Range = Range::new(1, u64::MAX, "a positive integer");

/// Counts where gunicorn takes 0 too (its `validate_pos_int` admits it).
pub(super) const NON_NEGATIVE: Range = Range::new(0, u64::MAX, "a non-negative integer");

/// Sizes in bytes.
pub(super) const BYTES: Range = Range::new(0, u64::MAX, "a non-negative number of bytes");

/// What the lists of peers (`forwarded_allow_ips`, `proxy_allow_ips`) admit.
pub(super) const ALLOW: &str = "a comma-separated string or a list of IP addresses, CIDR networks or *";

/// The `%(atom)s` grammar is in `access_format`; a bad atom is a configuration error.
pub(super) fn access_format(value: &Value) -> Result<String, Problem> {
    let format = non_empty(value, "a non-empty access log format")?;
    super::access_format::AccessFormat::parse(&format)
        .map_err(|why| Problem::new(format!("{value} is not a valid access log format: {why}")))?;
    Ok(format)
}

/// The integers a setting admits, and how a message describes them.
#[derive(Clone, Copy)]
pub(super) struct Range {
    min: u64,
    max: u64,
    what: &'static str,
}

impl Range {
    pub(super) const fn new(min: u64, max: u64, what: &'static str) -> Range {
        Range { min, max, what }
    }
}

/// An integer within `range` that also fits `T` (e.g. the `i32` of listen(2)'s backlog).
pub(super) fn integer<T: TryFrom<u64>>(value: &Value, range: Range) -> Result<T, Problem> {
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
pub(super) enum Zero {
    Allowed,
    Refused,
}

/// A duration in seconds, integer or (for fractions) float.
pub(super) fn seconds(value: &Value, zero: Zero) -> Result<Duration, Problem> {
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

/// gunicorn's worker classes, by every name gunicorn knows them by: the short name, the `egg:`
/// entry point and the class path.
const WORKER_CLASSES: [(&str, WorkerClass); 22] = [
    ("sync", WorkerClass::Sync),
    ("egg:gunicorn#sync", WorkerClass::Sync),
    ("gunicorn.workers.sync.SyncWorker", WorkerClass::Sync),
    ("gthread", WorkerClass::Gthread),
    ("egg:gunicorn#gthread", WorkerClass::Gthread),
    ("gunicorn.workers.gthread.ThreadWorker", WorkerClass::Gthread),
    ("gevent", WorkerClass::Gevent),
    ("gevent_wsgi", WorkerClass::Gevent),
    ("gevent_pywsgi", WorkerClass::Gevent),
    ("egg:gunicorn#gevent", WorkerClass::Gevent),
    ("egg:gunicorn#gevent_wsgi", WorkerClass::Gevent),
    ("egg:gunicorn#gevent_pywsgi", WorkerClass::Gevent),
    ("gunicorn.workers.ggevent.GeventWorker", WorkerClass::Gevent),
    ("gunicorn.workers.ggevent.GeventPyWSGIWorker", WorkerClass::Gevent),
    ("eventlet", WorkerClass::Eventlet),
    ("egg:gunicorn#eventlet", WorkerClass::Eventlet),
    ("gunicorn.workers.geventlet.EventletWorker", WorkerClass::Eventlet),
    ("tornado", WorkerClass::Tornado),
    ("egg:gunicorn#tornado", WorkerClass::Tornado),
    ("gunicorn.workers.gtornado.TornadoWorker", WorkerClass::Tornado),
    // The gevent worker classes that other packages ship under their own paths.
    (
        "geventwebsocket.gunicorn.workers.GeventWebSocketWorker",
        WorkerClass::Gevent,
    ),
    ("flask_sockets.worker", WorkerClass::Gevent),
];

/// The async classes (gevent, eventlet, tornado) are served by the threaded worker (see
/// [`WorkerClass::is_async`]); an ASGI class (uvicorn's, gunicorn's own `asgi`) cannot be: its app
/// is a coroutine, not a WSGI callable, so it gets its own message rather than the list of names.
pub(super) fn worker_class(value: &Value) -> Result<WorkerClass, Problem> {
    const WHAT: &str = "sync, gthread, gevent, eventlet or tornado (gunicorn's names, egg:gunicorn#NAME or \
                        class paths)";
    let name = text(value, WHAT)?.trim();
    if let Some((_, class)) = WORKER_CLASSES.into_iter().find(|(n, _)| *n == name) {
        return Ok(class);
    }
    let lower = name.to_ascii_lowercase();
    if lower.contains("asgi") || lower.contains("uvicorn") {
        return Err(Problem::new(format!(
            "{value} is an ASGI worker class, and forkhorn serves WSGI apps only (run an ASGI app with \
             uvicorn or another ASGI server)"
        )));
    }
    Err(Problem::new(format!("expected {WHAT}, got {value}")))
}

/// A gunicorn switch forkhorn does not act on, as an `Option`: `None` for gunicorn's default
/// (which is what forkhorn does), `Some` for the other value, which deserves the warning.
pub(super) fn switch_unless(value: &Value, gunicorn_default: bool) -> Result<Option<bool>, Problem> {
    let b = boolean(value)?;
    Ok((b != gunicorn_default).then_some(b))
}

/// One of `names` (any case), as an `Option`: `None` for `gunicorn_default`, the first name.
pub(super) fn choice(value: &Value, names: &[&str]) -> Result<Option<String>, Problem> {
    let what = format!("one of {}", names.join(", "));
    let s = text(value, &what)?.trim();
    match names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        Some(0) => Ok(None),
        Some(i) => Ok(Some(names[i].to_owned())),
        None => Err(Problem::new(format!("expected {what}, got {value}"))),
    }
}

/// Text for a setting forkhorn does not act on: one line, not empty (a path, a class name, a
/// list of tags); only its shape is checked.
pub(super) fn some_text(value: &Value) -> Result<Option<String>, Problem> {
    one_line_name(value).map(Some)
}

/// A path that gunicorn treats as unset when empty (`--certfile=`, as a script with an unset
/// variable writes it): `None` for empty text, else one line.
pub(super) fn path_or_empty(value: &Value) -> Result<Option<String>, Problem> {
    match value {
        Value::Str(s) | Value::Arg(s) if s.is_empty() => Ok(None),
        _ => some_text(value),
    }
}

/// Strings of a repeatable gunicorn flag forkhorn does not act on; `None` when there are none.
pub(super) fn some_strings(value: &Value) -> Result<Option<Vec<String>>, Problem> {
    const WHAT: &str = "a string or a list of strings";
    let list: Vec<String> = strings(value, Split::Whole, WHAT)?
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    Ok((!list.is_empty()).then_some(list))
}

/// `forwarder_headers`: header names as gunicorn compares them (upper case), from a list or
/// gunicorn's comma-separated string. Each must be a token, or no request could carry it.
pub(super) fn forwarder_headers(value: &Value) -> Result<Vec<String>, Problem> {
    let mut names = Vec::new();
    for (item, name) in strings(
        value,
        Split::Commas,
        "a comma-separated string or a list of header names",
    )? {
        if !name.bytes().all(crate::http::chars::is_tchar) {
            return Err(Problem::at(item, format!("{name:?} is not a header name")));
        }
        names.push(name.to_ascii_uppercase());
    }
    Ok(names)
}

/// gunicorn's statsd address: `HOST:PORT`, `HOST` (port 8125) or `unix:PATH`.
pub(super) fn statsd_addr(value: &Value) -> Result<Option<String>, Problem> {
    const WHAT: &str = "HOST:PORT, HOST or unix:PATH";
    let s = text(value, WHAT)?.trim();
    let ok = match s.strip_prefix("unix:") {
        Some(path) => !path.is_empty(),
        None => match s.rsplit_once(':') {
            // An IPv6 address is in brackets, so a colon inside them is not the port's.
            Some((host, port)) if !host.is_empty() && !port.contains(']') => port.parse::<u16>().is_ok(),
            _ => !s.is_empty(),
        },
    };
    if ok && !s.chars().any(char::is_control) {
        Ok(Some(s.to_owned()))
    } else {
        Err(Problem::new(format!("expected {WHAT}, got {value}")))
    }
}

/// `IP:PORT` or `[IPv6]:PORT`.
pub(super) fn socket_addr(value: &Value) -> Result<std::net::SocketAddr, Problem> {
    const WHAT: &str = "IP:PORT or [IPv6]:PORT";
    text(value, WHAT)?
        .trim()
        .parse()
        .map_err(|_| Problem::new(format!("expected {WHAT}, got {value}")))
}

/// A file mode from 0 to 0o777, written as a umask is.
pub(super) fn file_mode(value: &Value) -> Result<u32, Problem> {
    umask(value).map_err(|_| {
        // Shown in octal when it is a number: that is how the user thinks of a mode.
        let got = match value {
            Value::Int(n) if *n >= 0 => format!("0o{n:o}"),
            other => other.to_string(),
        };
        Problem::new(format!(
            "expected a file mode from 0 to 0o777 (octal as 0o600 or 0600), got {got}"
        ))
    })
}

pub(super) fn loglevel(value: &Value) -> Result<LogLevel, Problem> {
    let names = LEVELS.map(LogLevel::as_str).join(", ");
    let what = format!("one of {names}");
    let name = text(value, &what)?.trim();
    // Other spellings that deployments pass (`--log-level WARN`, from other tools' habits):
    // gunicorn logs those at info, where the name's meaning is the nearer guess.
    let alias = match name.to_ascii_lowercase().as_str() {
        "warn" => Some(LogLevel::Warning),
        "fatal" => Some(LogLevel::Critical),
        "trace" => Some(LogLevel::Debug),
        _ => None,
    };
    alias
        .or_else(|| LEVELS.into_iter().find(|l| l.as_str().eq_ignore_ascii_case(name)))
        .ok_or_else(|| Problem::new(format!("expected {what}, got {value}")))
}

/// A header value must not be able to end the header or start another: printable ASCII and
/// spaces only.
pub(super) fn server_header(value: &Value) -> Result<String, Problem> {
    const WHAT: &str = "printable ASCII text (or \"\" for no Server header)";
    let s = text(value, WHAT)?;
    if s.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        Ok(s.to_owned())
    } else {
        Err(Problem::new(format!("expected {WHAT}, got {value}")))
    }
}

/// The application's syntax only; which apps exist is the worker's business.
pub(super) fn app(value: &Value) -> Result<String, Problem> {
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
    if !module.split('.').all(is_module_name) {
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

/// A module name as the import system takes it: an identifier, or with dashes after its first
/// character (`helloworld-test`: gunicorn's `importlib.import_module` imports such a file).
fn is_module_name(s: &str) -> bool {
    is_identifier(&s.replace('-', "_")) && !s.starts_with('-')
}

/// A Python identifier (approximately: Unicode letters and digits, not starting with a digit).
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic()) && chars.all(|c| c == '_' || c.is_alphanumeric())
}

pub(super) fn bind_list(value: &Value, sys: &dyn System) -> Result<Vec<BindAddr>, Problem> {
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

pub(super) fn boolean(value: &Value) -> Result<bool, Problem> {
    match value {
        Value::Bool(b) => Ok(*b),
        other => Err(Problem::new(format!("expected true or false, got {other}"))),
    }
}

/// `proxy_protocol`: a boolean, or one of gunicorn's modes (gunicorn 24 made it `off`, `auto`,
/// `v1` or `v2`): `off` is false, the others true (forkhorn's PROXY reader takes either
/// version whatever the mode).
pub(super) fn proxy_mode(value: &Value) -> Result<bool, Problem> {
    if let Value::Str(s) | Value::Arg(s) = value {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" => return Ok(false),
            "auto" | "v1" | "v2" => return Ok(true),
            _ => {}
        }
    }
    boolean(value).map_err(|_| {
        Problem::new(format!(
            "expected true, false, \"off\", \"auto\", \"v1\" or \"v2\", got {value}"
        ))
    })
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

pub(super) fn allow_ips(value: &Value, what: &str) -> Result<super::AllowIps, Problem> {
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
pub(super) fn scheme_headers(value: &Value) -> Result<Vec<(String, String)>, Problem> {
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
pub(super) fn existing_dir(value: &Value, sys: &dyn System) -> Result<PathBuf, Problem> {
    const WHAT: &str = "an existing directory";
    let s = path_text(value, WHAT)?;
    if sys.is_dir(Path::new(s)) {
        Ok(PathBuf::from(s))
    } else {
        Err(Problem::new(format!("expected {WHAT}, got {value}")))
    }
}

/// Whether a file setting may also be `-` (or another name of the process's stdout or stderr,
/// such as `/dev/stdout`: see [`StdStream::named`]), and which stream `-` is: stderr for the
/// error log, stdout for the access log, as in gunicorn.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum FilePath {
    Only,
    OrStderr,
    OrStdout,
}

/// A file forkhorn will create or append to: its directory must exist (the file need not), and
/// it must not itself be a directory.
pub(super) fn file_path(value: &Value, sys: &dyn System, kind: FilePath) -> Result<String, Problem> {
    let what = match kind {
        FilePath::Only => "a file path in an existing directory",
        FilePath::OrStderr => "\"-\" (stderr) or a file path in an existing directory",
        FilePath::OrStdout => "\"-\" (stdout) or a file path in an existing directory",
    };
    let s = path_text(value, what)?;
    if kind != FilePath::Only && StdStream::named(s).is_some() {
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
pub(super) fn path_list(value: &Value) -> Result<Vec<PathBuf>, Problem> {
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
pub(super) fn one_line_name(value: &Value) -> Result<String, Problem> {
    const WHAT: &str = "non-empty text without control characters";
    let s = non_empty(value, WHAT)?;
    if s.chars().any(char::is_control) {
        return Err(Problem::new(format!("expected {WHAT}, got {value}")));
    }
    Ok(s)
}

pub(super) fn syslog_addr(value: &Value) -> Result<String, Problem> {
    let s = text(value, "a syslog address such as unix:///dev/log or udp://HOST:PORT")?;
    syslog::check_addr(s)
        .map(|()| s.to_owned())
        .map_err(|why| Problem::new(format!("{value} is not a valid syslog address ({why})")))
}

pub(super) fn facility(value: &Value) -> Result<String, Problem> {
    let what = format!("one of {}", syslog::FACILITIES.join(", "));
    let name = text(value, &what)?;
    syslog::facility(name)
        .map(str::to_owned)
        .ok_or_else(|| Problem::new(format!("expected {what}, got {value}")))
}

/// Whose database a name is looked up in.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Account {
    User,
    Group,
}

/// A user or group name, or a number as gunicorn takes it (not looked up: an id need not have a
/// name). A name that does not exist is refused now, not when the master drops privileges.
pub(super) fn account(value: &Value, kind: Account, sys: &dyn System) -> Result<String, Problem> {
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
pub(super) fn umask(value: &Value) -> Result<u32, Problem> {
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
pub(super) fn env_pairs(value: &Value) -> Result<Vec<(String, String)>, Problem> {
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
mod tests;
