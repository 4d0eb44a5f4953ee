//! The sweep's settings: defaults < the `[bench]` table of the `-c` file < the command line,
//! validated into [`Settings`], or the one-line [`SettingsError`] that names the flag, or the
//! file, line and key, at fault (the same wording as the server's configuration errors).

use super::cli::BenchCli;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::{Spanned, Value};

/// How the load generator uses its connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Each connection sends its requests one after another, reusing the connection.
    KeepAlive,
    /// Each request opens a connection, asks with `Connection: close`, and waits for the close.
    NewConnection,
}

impl Mode {
    /// The name used on the command line and in the results.
    pub fn name(self) -> &'static str {
        match self {
            Mode::KeepAlive => "keep-alive",
            Mode::NewConnection => "new-connection",
        }
    }
}

/// Which load generator drives a measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// forkhorn's own generator ([`super::load`]).
    Builtin,
    /// The external `wrk` program ([`super::wrk`]).
    Wrk,
}

impl Engine {
    /// The name used on the command line and in the results.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Builtin => "builtin",
            Engine::Wrk => "wrk",
        }
    }
}

/// Everything one sweep needs, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// The app forkhorn serves.
    pub app: String,
    /// Worker counts, ascending, without repeats.
    pub workers: Vec<usize>,
    /// Connection counts, ascending, without repeats.
    pub connections: Vec<usize>,
    /// Measured time per point.
    pub duration: Duration,
    /// Unmeasured load before each point.
    pub warmup: Duration,
    /// Keep-alive or a new connection per request.
    pub mode: Mode,
    /// Load generator threads.
    pub threads: usize,
    /// The request target.
    pub path: String,
    /// A request unanswered for this long is a timeout error.
    pub timeout: Duration,
    /// The load generators each point is measured with, in order.
    pub engines: Vec<Engine>,
    /// The wrk program.
    pub wrk: String,
    /// Other servers' commands, with `{port}` and `{workers}` placeholders.
    pub against: Vec<String>,
    /// Extra arguments for the forkhorn server.
    pub server_args: Vec<String>,
    /// Where the result files go, if anywhere.
    pub out: Option<PathBuf>,
}

impl Settings {
    /// The defaults, with `cpus` load generator threads.
    pub fn defaults(cpus: usize) -> Settings {
        Settings {
            app: "builtin:hello".into(),
            workers: vec![1, 2, 4, 8],
            connections: vec![64, 256],
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
            mode: Mode::KeepAlive,
            threads: cpus.max(1),
            path: "/".into(),
            timeout: Duration::from_secs(5),
            engines: vec![Engine::Builtin],
            wrk: "wrk".into(),
            against: Vec::new(),
            server_args: Vec::new(),
            out: None,
        }
    }
}

/// Where a bad value came from, worded as the server words the origin of a configuration error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A key of the `[bench]` table.
    File {
        /// The file, as given with `-c`.
        path: PathBuf,
        /// 1-based line of the value.
        line: usize,
        /// The key as written.
        key: String,
    },
    /// A flag such as `--workers`.
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line, key } => {
                write!(
                    f,
                    "{}:{line}: key '{}'",
                    one_line(&path.display().to_string()),
                    one_line(key)
                )
            }
            Origin::Flag(flag) => f.write_str(flag),
        }
    }
}

/// Text as is, or Debug-escaped (quoted) if it holds a control character such as a newline, so
/// that a message stays on one line.
fn one_line(text: &str) -> String {
    if text.chars().any(char::is_control) {
        format!("{text:?}")
    } else {
        text.to_owned()
    }
}

/// Settings that cannot be used. `Display` is the whole message, one line.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The `-c` file could not be read.
    #[error("{}: cannot read config file: {source}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The `-c` file is not valid TOML.
    #[error("{}{}: invalid TOML: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    ParseToml {
        /// The file.
        path: PathBuf,
        /// 1-based line of the fault, when known.
        line: Option<usize>,
        /// The parser's description, on one line.
        message: String,
    },
    /// The file has a key this command does not know.
    #[error("{at}: unknown setting ({hint})")]
    RecognizeKey {
        /// File, line and key.
        at: Origin,
        /// Where the valid keys are, or which they are.
        hint: &'static str,
    },
    /// A value is of the wrong kind or out of range.
    #[error("{at}: {problem}")]
    AcceptValue {
        /// The flag, or file, line and key.
        at: Origin,
        /// What is wrong.
        problem: String,
    },
}

/// The keys of the `[bench]` table, in the order the help lists them.
const KEYS: &str = "valid: app, workers, connections, duration, warmup, mode, threads, path, timeout, engine, wrk, \
                    against, server_args, out";

/// The `[bench]` table's keys; values stay untyped so each is judged by the same function as
/// its flag, and every error can name its key.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BenchTable {
    app: Option<Spanned<Value>>,
    workers: Option<Spanned<Value>>,
    connections: Option<Spanned<Value>>,
    duration: Option<Spanned<Value>>,
    warmup: Option<Spanned<Value>>,
    mode: Option<Spanned<Value>>,
    threads: Option<Spanned<Value>>,
    path: Option<Spanned<Value>>,
    timeout: Option<Spanned<Value>>,
    engine: Option<Spanned<Value>>,
    wrk: Option<Spanned<Value>>,
    against: Option<Spanned<Value>>,
    server_args: Option<Spanned<Value>>,
    out: Option<Spanned<Value>>,
}

/// A value from either source.
#[derive(Clone, Copy)]
enum Raw<'a> {
    Flag(&'a str),
    File(&'a Value),
}

impl<'a> Raw<'a> {
    /// The text of a flag or of a TOML string.
    fn as_text(self) -> Option<&'a str> {
        match self {
            Raw::Flag(t) => Some(t),
            Raw::File(Value::String(t)) => Some(t),
            Raw::File(_) => None,
        }
    }
}

impl fmt::Display for Raw<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Raw::Flag(text) => write!(f, "{text:?}"),
            Raw::File(Value::String(text)) => write!(f, "{text:?}"),
            Raw::File(value) => write!(f, "{}", value.to_string().replace('\n', " ")),
        }
    }
}

/// Reads the `-c` file if given and merges it with the flags. The only I/O here.
pub fn resolve(cli: &BenchCli, cpus: usize) -> Result<Settings, SettingsError> {
    let text = match &cli.config {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|source| SettingsError::ReadFile {
            path: path.clone(),
            source,
        })?),
        None => None,
    };
    merge(cli.config.as_deref().zip(text.as_deref()), cli, cpus)
}

/// Merges the file (path and text) and the flags over the defaults. Pure.
pub(crate) fn merge(file: Option<(&Path, &str)>, cli: &BenchCli, cpus: usize) -> Result<Settings, SettingsError> {
    let mut s = Settings::defaults(cpus);
    if let Some((path, text)) = file {
        apply_file(&mut s, path, text)?;
    }
    let flags: [(&'static str, Option<&String>, Key); 12] = [
        ("APP", cli.app.as_ref(), Key::App),
        ("--workers", cli.workers.as_ref(), Key::Workers),
        ("--connections", cli.connections.as_ref(), Key::Connections),
        ("--duration", cli.duration.as_ref(), Key::Duration),
        ("--warmup", cli.warmup.as_ref(), Key::Warmup),
        ("--mode", cli.mode.as_ref(), Key::Mode),
        ("--threads", cli.threads.as_ref(), Key::Threads),
        ("--path", cli.path.as_ref(), Key::Path),
        ("--timeout", cli.timeout.as_ref(), Key::Timeout),
        ("--engine", cli.engine.as_ref(), Key::Engine),
        ("--wrk", cli.wrk.as_ref(), Key::Wrk),
        ("--out", None, Key::Out),
    ];
    for (flag, value, key) in flags {
        if let Some(text) = value {
            assign(&mut s, key, Raw::Flag(text)).map_err(|problem| SettingsError::AcceptValue {
                at: Origin::Flag(flag),
                problem,
            })?;
        }
    }
    if let Some(out) = &cli.out {
        s.out = Some(out.clone());
    }
    if !cli.against.is_empty() {
        for cmd in &cli.against {
            check_against(cmd).map_err(|problem| SettingsError::AcceptValue {
                at: Origin::Flag("--against"),
                problem,
            })?;
        }
        s.against = cli.against.clone();
    }
    if !cli.server_arg.is_empty() {
        s.server_args = cli.server_arg.clone();
    }
    Ok(s)
}

/// The settings a value can be assigned to.
#[derive(Clone, Copy)]
enum Key {
    App,
    Workers,
    Connections,
    Duration,
    Warmup,
    Mode,
    Threads,
    Path,
    Timeout,
    Engine,
    Wrk,
    Against,
    ServerArgs,
    Out,
}

fn apply_file(s: &mut Settings, path: &Path, text: &str) -> Result<(), SettingsError> {
    let file: BenchFile = toml::from_str(text).map_err(|e| toml_error(&e, path, text))?;
    let Some(bench) = file.bench else {
        return Ok(());
    };
    let at = |span: std::ops::Range<usize>, key: &str| Origin::File {
        path: path.to_owned(),
        line: line_of(text, span.start),
        key: key.to_owned(),
    };
    let entries = [
        ("app", bench.app, Key::App),
        ("workers", bench.workers, Key::Workers),
        ("connections", bench.connections, Key::Connections),
        ("duration", bench.duration, Key::Duration),
        ("warmup", bench.warmup, Key::Warmup),
        ("mode", bench.mode, Key::Mode),
        ("threads", bench.threads, Key::Threads),
        ("path", bench.path, Key::Path),
        ("timeout", bench.timeout, Key::Timeout),
        ("engine", bench.engine, Key::Engine),
        ("wrk", bench.wrk, Key::Wrk),
        ("against", bench.against, Key::Against),
        ("server_args", bench.server_args, Key::ServerArgs),
        ("out", bench.out, Key::Out),
    ];
    let mut set: Vec<_> = entries
        .into_iter()
        .filter_map(|(name, v, key)| Some((name, v?, key)))
        .collect();
    // In file order, so that of several mistakes the first is reported.
    set.sort_by_key(|(_, v, _)| v.span().start);
    for (name, value, key) in set {
        assign(s, key, Raw::File(value.get_ref())).map_err(|problem| SettingsError::AcceptValue {
            at: at(value.span(), name),
            problem,
        })?;
    }
    Ok(())
}

/// The file: one `[bench]` table, so that a bench file is never mistaken for a server one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BenchFile {
    bench: Option<BenchTable>,
}

/// Judges `raw` for `key` and stores it; the error is the problem, without the origin.
fn assign(s: &mut Settings, key: Key, raw: Raw<'_>) -> Result<(), String> {
    match key {
        Key::App => s.app = app(raw)?,
        Key::Workers => s.workers = counts(raw)?,
        Key::Connections => s.connections = counts(raw)?,
        Key::Duration => s.duration = duration(raw, false)?,
        Key::Warmup => s.warmup = duration(raw, true)?,
        Key::Mode => {
            s.mode = match text(raw)?.as_str() {
                "keep-alive" => Mode::KeepAlive,
                "new-connection" => Mode::NewConnection,
                _ => return Err(format!("expected keep-alive or new-connection, got {raw}")),
            }
        }
        Key::Threads => s.threads = positive(raw)?,
        Key::Path => s.path = request_target(raw)?,
        Key::Timeout => s.timeout = duration(raw, false)?,
        Key::Engine => s.engines = engines(raw)?,
        Key::Wrk => s.wrk = nonempty(raw)?,
        Key::Against => {
            let cmds = strings(raw)?;
            for cmd in &cmds {
                check_against(cmd)?;
            }
            s.against = cmds;
        }
        Key::ServerArgs => s.server_args = strings(raw)?,
        Key::Out => s.out = Some(PathBuf::from(nonempty(raw)?)),
    }
    Ok(())
}

fn text(raw: Raw<'_>) -> Result<String, String> {
    raw.as_text()
        .map(str::to_owned)
        .ok_or_else(|| format!("expected a string, got {raw}"))
}

fn nonempty(raw: Raw<'_>) -> Result<String, String> {
    let t = text(raw)?;
    if t.trim().is_empty() {
        return Err("expected a non-empty string".into());
    }
    Ok(t)
}

fn app(raw: Raw<'_>) -> Result<String, String> {
    let t = nonempty(raw)?;
    if t.starts_with('-') {
        return Err(format!("expected an app such as builtin:hello, got {raw}"));
    }
    Ok(t)
}

fn strings(raw: Raw<'_>) -> Result<Vec<String>, String> {
    match raw {
        Raw::File(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| format!("expected a list of strings, got {raw}")),
        _ => Err(format!("expected a list of strings, got {raw}")),
    }
}

fn positive(raw: Raw<'_>) -> Result<usize, String> {
    let n = match raw {
        Raw::Flag(t) => t.trim().parse::<i64>().ok(),
        Raw::File(Value::Integer(n)) => Some(*n),
        Raw::File(_) => None,
    };
    n.filter(|n| *n > 0)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("expected a positive integer, got {raw}"))
}

/// A comma-separated list (`1,2,4`) or a TOML array of positive integers; sorted, deduplicated.
fn counts(raw: Raw<'_>) -> Result<Vec<usize>, String> {
    let bad = || format!("expected positive integers such as 1,2,4, got {raw}");
    let mut list: Vec<usize> = match (raw.as_text(), raw) {
        (Some(t), _) => t
            .split(',')
            .map(|item| positive(Raw::Flag(item)))
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?,
        (None, Raw::File(Value::Integer(_))) => vec![positive(raw)?],
        (None, Raw::File(Value::Array(items))) => items
            .iter()
            .map(|v| positive(Raw::File(v)))
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?,
        (None, _) => return Err(bad()),
    };
    if list.is_empty() {
        return Err(bad());
    }
    list.sort_unstable();
    list.dedup();
    Ok(list)
}

fn engines(raw: Raw<'_>) -> Result<Vec<Engine>, String> {
    let names: Vec<String> = match (raw.as_text(), raw) {
        (Some(t), _) => t.split(',').map(|n| n.trim().to_owned()).collect(),
        (None, Raw::File(Value::Array(_))) => strings(raw)?,
        (None, _) => return Err(format!("expected builtin, wrk or both, got {raw}")),
    };
    let mut out = Vec::new();
    for name in names {
        let engine = match name.as_str() {
            "builtin" => Engine::Builtin,
            "wrk" => Engine::Wrk,
            _ => return Err(format!("expected builtin, wrk or both, got {raw}")),
        };
        if !out.contains(&engine) {
            out.push(engine);
        }
    }
    if out.is_empty() {
        return Err(format!("expected builtin, wrk or both, got {raw}"));
    }
    Ok(out)
}

/// `10s`, `500ms`, `1.5m`, or a bare number of seconds (a TOML number is seconds too).
fn duration(raw: Raw<'_>, zero_ok: bool) -> Result<Duration, String> {
    let what = if zero_ok { "a duration" } else { "a positive duration" };
    let bad = || format!("expected {what} such as 10s, 500ms or 1m, got {raw}");
    let seconds = match (raw.as_text(), raw) {
        (Some(t), _) => parse_seconds(t),
        (None, Raw::File(Value::Integer(n))) => Some(*n as f64),
        (None, Raw::File(Value::Float(x))) => Some(*x),
        (None, _) => None,
    };
    match seconds {
        Some(s) if s.is_finite() && (s > 0.0 || (zero_ok && s == 0.0)) && s < 1e9 => Ok(Duration::from_secs_f64(s)),
        _ => Err(bad()),
    }
}

fn parse_seconds(text: &str) -> Option<f64> {
    let t = text.trim();
    let (number, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}

/// An origin-form target: `/` then visible ASCII only, so it cannot break the request line.
fn request_target(raw: Raw<'_>) -> Result<String, String> {
    let t = text(raw)?;
    if !t.starts_with('/') || !t.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!("expected a path such as /index.html (no spaces), got {raw}"));
    }
    Ok(t)
}

/// An `--against` command must say where to listen and how many workers to run.
fn check_against(cmd: &str) -> Result<(), String> {
    for placeholder in ["{port}", "{workers}"] {
        if !cmd.contains(placeholder) {
            return Err(format!(
                "the command must contain {placeholder} (replaced for each point), got {cmd:?}"
            ));
        }
    }
    Ok(())
}

/// Sorts a TOML error into an unknown key (serde's `deny_unknown_fields`) or a syntax error.
fn toml_error(e: &toml::de::Error, path: &Path, text: &str) -> SettingsError {
    let line = e.span().map(|s| line_of(text, s.start));
    let message = e.message();
    if let (Some(rest), Some(line)) = (message.strip_prefix("unknown field `"), line) {
        let key = rest.split('`').next().unwrap_or(rest).to_owned();
        let hint = if rest.contains("expected `bench`") {
            "this file's settings go in a [bench] table"
        } else {
            KEYS
        };
        return SettingsError::RecognizeKey {
            at: Origin::File {
                path: path.to_owned(),
                line,
                key,
            },
            hint,
        };
    }
    SettingsError::ParseToml {
        path: path.to_owned(),
        line,
        message: message.replace('\n', " "),
    }
}

/// The 1-based line holding byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn cli(args: &[&str]) -> BenchCli {
        BenchCli::try_parse_from(std::iter::once("bench").chain(args.iter().copied())).expect("valid flags")
    }

    fn from_file(text: &str) -> Result<Settings, String> {
        merge(Some((Path::new("b.toml"), text)), &cli(&[]), 2).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults() {
        let s = merge(None, &cli(&[]), 3).unwrap();
        assert_eq!(s, Settings::defaults(3));
        assert_eq!(s.workers, [1, 2, 4, 8]);
        assert_eq!(s.connections, [64, 256]);
        assert_eq!(
            (s.duration, s.warmup, s.threads),
            (Duration::from_secs(10), Duration::from_secs(2), 3)
        );
    }

    #[test]
    fn flags() {
        let s = merge(
            None,
            &cli(&[
                "echo:app",
                "-w",
                "4,1,2,2",
                "--connections",
                "32",
                "-d",
                "500ms",
                "--warmup",
                "0",
                "--mode",
                "new-connection",
                "--threads",
                "3",
                "--path",
                "/a?b=c",
                "--timeout",
                "1.5s",
                "--engine",
                "wrk,builtin",
                "--out",
                "o",
                "--against",
                "x -p {port} -w {workers}",
            ]),
            2,
        )
        .unwrap();
        assert_eq!(s.app, "echo:app");
        assert_eq!(s.workers, [1, 2, 4]);
        assert_eq!(s.connections, [32]);
        assert_eq!(s.duration, Duration::from_millis(500));
        assert_eq!(s.warmup, Duration::ZERO);
        assert_eq!(s.mode, Mode::NewConnection);
        assert_eq!(s.threads, 3);
        assert_eq!(s.path, "/a?b=c");
        assert_eq!(s.timeout, Duration::from_millis(1500));
        assert_eq!(s.engines, [Engine::Wrk, Engine::Builtin]);
        assert_eq!(s.out, Some(PathBuf::from("o")));
        assert_eq!(s.against, ["x -p {port} -w {workers}"]);
    }

    #[test]
    fn file_then_flags() {
        let text = "[bench]\nworkers = [2, 1]\nconnections = \"8,16\"\nduration = 3\nwarmup = 0.5\nmode = \"new-connection\"\n\
                    engine = [\"builtin\", \"wrk\"]\nagainst = [\"srv {port} {workers}\"]\nserver_args = [\"--keep-alive\", \"5\"]\n";
        let s = from_file(text).unwrap();
        assert_eq!(s.workers, [1, 2]);
        assert_eq!(s.connections, [8, 16]);
        assert_eq!(s.duration, Duration::from_secs(3));
        assert_eq!(s.warmup, Duration::from_millis(500));
        assert_eq!(s.mode, Mode::NewConnection);
        assert_eq!(s.engines, [Engine::Builtin, Engine::Wrk]);
        assert_eq!(s.server_args, ["--keep-alive", "5"]);
        // The command line wins.
        let s = merge(Some((Path::new("b.toml"), text)), &cli(&["-w", "8"]), 2).unwrap();
        assert_eq!(s.workers, [8]);
        assert_eq!(s.connections, [8, 16]);
    }

    #[test]
    fn errors_are_one_line_and_name_their_origin() {
        let cases = [
            ("[bench]\nworkers = [1, 0]\n", "b.toml:2: key 'workers': expected positive integers such as 1,2,4, got [1, 0]"),
            ("[bench]\nduration = \"soon\"\n", "b.toml:2: key 'duration': expected a positive duration such as 10s, 500ms or 1m, got \"soon\""),
            ("[bench]\n\nwrokers = 1\n", "b.toml:3: key 'wrokers': unknown setting (valid: app, workers, connections, duration, warmup, mode, threads, path, timeout, engine, wrk, against, server_args, out)"),
            ("workers = 1\n", "b.toml:1: key 'workers': unknown setting (this file's settings go in a [bench] table)"),
            ("[bench]\nmode = \"pipelined\"\n", "b.toml:2: key 'mode': expected keep-alive or new-connection, got \"pipelined\""),
            ("[bench]\npath = \"/a b\"\n", "b.toml:2: key 'path': expected a path such as /index.html (no spaces), got \"/a b\""),
            ("[bench]\nagainst = [\"gunicorn app:app\"]\n", "b.toml:2: key 'against': the command must contain {port} (replaced for each point), got \"gunicorn app:app\""),
        ];
        for (text, want) in cases {
            assert_eq!(from_file(text).unwrap_err(), want, "{text:?}");
        }
        for text in ["[bench]\nworkers = [1,\n", "bench = 3\n"] {
            let e = from_file(text).unwrap_err();
            assert!(
                e.starts_with("b.toml:1: invalid TOML: ") || e.starts_with("b.toml:2: invalid TOML: "),
                "{e}"
            );
            assert!(!e.contains('\n'), "{e}");
        }
        let flag = merge(None, &cli(&["--engine", "ab"]), 2).unwrap_err().to_string();
        assert_eq!(flag, "--engine: expected builtin, wrk or both, got \"ab\"");
        let flag = merge(None, &cli(&["--threads", "0"]), 2).unwrap_err().to_string();
        assert_eq!(flag, "--threads: expected a positive integer, got \"0\"");
    }

    #[test]
    fn durations() {
        for (text, ms) in [
            ("10s", 10_000),
            ("500ms", 500),
            ("1m", 60_000),
            ("2", 2_000),
            ("0.25s", 250),
        ] {
            assert_eq!(
                duration(Raw::Flag(text), false),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
        for text in ["", "s", "-1s", "0", "1h", "nan"] {
            assert!(duration(Raw::Flag(text), false).is_err(), "{text}");
        }
        assert_eq!(duration(Raw::Flag("0"), true), Ok(Duration::ZERO));
    }
}
