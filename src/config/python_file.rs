//! The Python config file (`gunicorn.conf.py`): running it in a short-lived evaluator process,
//! the report that process sends back ([`Report`]), and turning the report's module-level names
//! into settings through [`assign`], the same checks a TOML file goes through.
//!
//! The master never initialises CPython for its configuration (workers initialise their own
//! after fork): the file runs in a child, the `forkhorn` binary re-executed with
//! [`EVALUATE_ARG`], which prints the names and values as JSON on its standard output. Without
//! the `python` feature no evaluator exists and a `.py` file is one clear error.

use super::error::{ConfigError, Origin};
use super::setting::{Problem, Value};
use super::system::System;
use super::table::{assign, Setting};
use super::{suggest, CommandLine, Config};
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use toml::Spanned;

/// The hidden first argument that makes `forkhorn` evaluate a Python config file and print its
/// `Report` instead of serving: `forkhorn __evaluate-python-config FILE [--virtualenv DIR]
/// [--pythonpath DIR]... -- ARGV...` (ARGV: the parent's command line, for `sys.argv`).
pub const EVALUATE_ARG: &str = "__evaluate-python-config";

/// The program that evaluates Python config files, registered by the `forkhorn` command
/// ([`set_python_evaluator`]). A program that embeds forkhorn as a library has no evaluator
/// mode, so re-executing it would start that program again instead.
static EVALUATOR: OnceLock<PathBuf> = OnceLock::new();

/// Makes `program` (the running `forkhorn` binary, which handles [`EVALUATE_ARG`]) the evaluator
/// of Python config files. Until this is called, loading a `.py` file is an error.
pub fn set_python_evaluator(program: PathBuf) {
    let _ = EVALUATOR.set(program);
}

/// What the evaluator reports about one run of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Report {
    /// The file ran; its module-level names, in the order they were first defined.
    Names(Vec<Name>),
    /// The file raised (a syntax error included).
    Raised {
        /// The line of the file where it raised, when the traceback reaches the file.
        line: Option<usize>,
        /// The traceback's last line, e.g. `ZeroDivisionError: division by zero`.
        message: String,
    },
    /// The interpreter could not be started, or the evaluator failed before running the file.
    Failed(String),
}

/// One module-level name of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Name {
    /// The name.
    pub name: String,
    /// The line of its last assignment (or `def`) at module level, when one is found.
    pub line: Option<usize>,
    /// Its value.
    pub value: PyValue,
}

/// A Python value as the report carries it: TOML's types (which are what settings take), what
/// is skipped without a word (modules, classes, callables), and anything else by type name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PyValue {
    /// `None`: the setting keeps its default, as gunicorn takes `None` for "not set".
    None,
    /// `True` or `False`.
    Bool(bool),
    /// An integer that fits 64 bits.
    Int(i64),
    /// A finite float.
    Float(f64),
    /// A string.
    Str(String),
    /// A list or a tuple.
    List(Vec<PyValue>),
    /// A dict with string keys, in insertion order.
    Dict(Vec<(String, PyValue)>),
    /// A function or another callable (a server hook, or a helper).
    Callable,
    /// An imported module.
    Module,
    /// A class, by its dotted path (`mypkg.logging.HealthFilterLogger`): gunicorn's
    /// `logger_class` and `worker_class` take a class as well as its path.
    Class(String),
    /// Anything else, described (`"set"`, `"int too large for 64 bits"`).
    Other(String),
}

/// gunicorn's server hooks: a function of one of these names makes the file its own `hooks`
/// module (`ssl_context` is only warned about); other functions are helpers of the file and
/// pass without a word.
const HOOKS: [&str; 16] = [
    "on_starting",
    "on_reload",
    "when_ready",
    "pre_fork",
    "post_fork",
    "post_worker_init",
    "worker_int",
    "worker_abort",
    "pre_exec",
    "pre_request",
    "post_request",
    "child_exit",
    "worker_exit",
    "nworkers_changed",
    "on_exit",
    "ssl_context",
];

/// gunicorn's settings (as of gunicorn 23), so that a warning can tell "a gunicorn setting
/// forkhorn does not have" from a name that is no setting at all. Those forkhorn has are found
/// in its table first.
const GUNICORN_SETTINGS: [&str; 62] = [
    "config",
    "reload",
    "reload_engine",
    "reload_extra_files",
    "spew",
    "check_config",
    "print_config",
    "sendfile",
    "initgroups",
    "tmp_upload_dir",
    "logger_class",
    "logconfig",
    "logconfig_dict",
    "logconfig_json",
    "enable_stdio_inheritance",
    "statsd_host",
    "dogstatsd_tags",
    "statsd_prefix",
    "default_proc_name",
    "paste",
    "raw_paste_global_conf",
    "keyfile",
    "certfile",
    "ssl_version",
    "cert_reqs",
    "ca_certs",
    "suppress_ragged_eofs",
    "do_handshake_on_connect",
    "ciphers",
    "permit_obsolete_folding",
    "strip_header_spaces",
    "permit_unconventional_http_method",
    "permit_unconventional_http_version",
    "casefold_http_method",
    "forwarder_headers",
    "header_map",
    "bind",
    "backlog",
    "workers",
    "worker_class",
    "threads",
    "worker_connections",
    "max_requests",
    "max_requests_jitter",
    "timeout",
    "graceful_timeout",
    "keepalive",
    "limit_request_line",
    "limit_request_fields",
    "limit_request_field_size",
    "preload_app",
    "reuse_port",
    "chdir",
    "daemon",
    "raw_env",
    "pidfile",
    "worker_tmp_dir",
    "user",
    "group",
    "umask",
    "proc_name",
    "pythonpath",
];

/// Runs the Python config file `path` (or gunicorn's `python:MODULE`, imported by name from the
/// working directory, `pythonpath` or the virtualenv) in the evaluator and returns its report.
/// The evaluator's
/// interpreter uses the virtualenv and `pythonpath` given on the command line (or
/// `$VIRTUAL_ENV`): the file's own `virtualenv` cannot apply to the run that reads it.
pub(crate) fn evaluate(path: &Path, cli: &CommandLine, sys: &dyn System) -> Result<Report, ConfigError> {
    let failed = |reason: String| ConfigError::EvaluatePython {
        path: path.to_owned(),
        reason,
    };
    if !cfg!(feature = "python") {
        return Err(failed(
            "this forkhorn was built without Python support (the `python` feature); write the settings as TOML".into(),
        ));
    }
    // Unreadable is said as for a TOML file, before a process is started for it.
    if module_name(path).is_none() {
        std::fs::File::open(path).map_err(|source| ConfigError::ReadFile {
            path: path.to_owned(),
            source,
        })?;
    }
    let Some(program) = EVALUATOR.get() else {
        return Err(failed("only the forkhorn command reads Python config files".into()));
    };
    let mut cmd = std::process::Command::new(program);
    cmd.arg(EVALUATE_ARG).arg(path);
    // Checked again with everything else when the sources are merged; a bad value here only
    // leaves the evaluator without it.
    let mut interp = Config::default();
    for (setting, value) in &cli.values {
        if matches!(setting, Setting::Virtualenv | Setting::Pythonpath) {
            let _ = assign(&mut interp, *setting, value, sys);
        }
    }
    if let Some(venv) = &interp.virtualenv {
        cmd.arg("--virtualenv").arg(venv);
    }
    for dir in &interp.pythonpath {
        cmd.arg("--pythonpath").arg(dir);
    }
    cmd.arg("--").args(std::env::args_os());
    // The file's own output (print) goes to stderr in the evaluator; stdout carries the report.
    let out = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| failed(format!("cannot start {}: {e}", program.display())))?;
    if !out.status.success() {
        return Err(failed(format!("the evaluator failed ({})", out.status)));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| failed(format!("the evaluator's report is unreadable: {e}")))
}

/// The module of gunicorn's `-c python:MODULE` (a config imported by name rather than read
/// from a file), or `None` for a file.
pub(crate) fn module_name(location: &Path) -> Option<&str> {
    location.to_str()?.strip_prefix("python:").filter(|m| !m.is_empty())
}

/// The arguments of the evaluator mode, after [`EVALUATE_ARG`].
#[cfg_attr(not(feature = "python"), allow(dead_code))] // the evaluator runs Python
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluatorArgs {
    /// The Python config file.
    pub file: PathBuf,
    /// The virtualenv from the command line.
    pub virtualenv: Option<PathBuf>,
    /// The `pythonpath` directories from the command line.
    pub pythonpath: Vec<PathBuf>,
    /// The command line of the process that loads the configuration, for `sys.argv`.
    pub argv: Vec<OsString>,
}

#[cfg_attr(not(feature = "python"), allow(dead_code))]
impl EvaluatorArgs {
    /// Reads what [`evaluate`] passes; `None` if the arguments are not of that form.
    pub fn parse(args: impl IntoIterator<Item = OsString>) -> Option<EvaluatorArgs> {
        let mut args = args.into_iter();
        let file = PathBuf::from(args.next()?);
        let mut parsed = EvaluatorArgs {
            file,
            virtualenv: None,
            pythonpath: Vec::new(),
            argv: Vec::new(),
        };
        loop {
            let arg = args.next()?;
            match arg.to_str() {
                Some("--virtualenv") => parsed.virtualenv = Some(args.next()?.into()),
                Some("--pythonpath") => parsed.pythonpath.push(args.next()?.into()),
                Some("--") => break,
                _ => return None,
            }
        }
        parsed.argv = args.collect();
        Some(parsed)
    }
}

/// Turns the report on `path` into a configuration over `base` (the defaults, with what `PORT`
/// and `WEB_CONCURRENCY` changed in them), plus one warning line for each name that is not used. `sys` answers what the checks ask the machine.
pub(crate) fn apply(
    base: Config,
    report: Report,
    path: &Path,
    sys: &dyn System,
) -> Result<(Config, Vec<String>), ConfigError> {
    let names = match report {
        Report::Names(names) => names,
        Report::Raised { line, message } => {
            return Err(ConfigError::RunPython {
                path: path.to_owned(),
                line,
                message,
            })
        }
        Report::Failed(reason) => {
            return Err(ConfigError::EvaluatePython {
                path: path.to_owned(),
                reason,
            })
        }
    };
    let mut cfg = Config {
        config_file: Some(path.to_owned()),
        ..base
    };
    let mut warnings = Vec::new();
    let mut defines_hooks = false;
    // logconfig_dict's level counts only where the file does not set loglevel itself.
    let sets_loglevel = names.iter().any(|n| n.name == "loglevel" && n.value != PyValue::None);
    for Name { name, line, value } in names {
        // Private names and dunders (`__file__`, `_helper`) are never settings.
        if name.starts_with('_') {
            continue;
        }
        let at = || Origin::Python {
            path: path.to_owned(),
            line,
            name: name.clone(),
        };
        let place = match line {
            Some(line) => format!("{}:{line}", path.display()),
            None => path.display().to_string(),
        };
        match setting_named(&name) {
            Some(setting) => {
                if value == PyValue::None {
                    continue;
                }
                let value = setting_value(&value).map_err(|got| ConfigError::InvalidValue {
                    at: at(),
                    problem: format!("expected a str, int, float, bool, list or dict, got {got}"),
                })?;
                assign_as_gunicorn(&mut cfg, setting, &value, sys).map_err(|p| ConfigError::InvalidValue {
                    at: at(),
                    problem: p.message,
                })?;
            }
            None => match value {
                PyValue::Module | PyValue::Class(_) => {}
                PyValue::Callable if name == "ssl_context" => warnings.push(format!(
                    "{place}: 'ssl_context' is a gunicorn server hook that forkhorn never calls: its TLS is \
                     rustls, set up from certfile, keyfile, ca_certs, cert_reqs and ciphers (docs/TLS.md)"
                )),
                PyValue::Callable if HOOKS.contains(&name.as_str()) => defines_hooks = true,
                PyValue::Dict(entries) if name == "logconfig_dict" => {
                    warnings.push(logconfig_dict(&mut cfg, &entries, sets_loglevel, &place, sys))
                }
                PyValue::Callable => {
                    // A helper of the file passes without a word, unless it looks like a
                    // misspelt hook, which gunicorn too would never call.
                    if let Some(hook) = suggest::nearest(&name, HOOKS) {
                        warnings.push(format!(
                            "{place}: '{name}' is not a gunicorn server hook (did you mean '{hook}'?): ignored"
                        ));
                    }
                }
                _ if GUNICORN_SETTINGS.contains(&name.as_str()) => warnings.push(format!(
                    "{place}: '{name}' is a gunicorn setting that forkhorn does not support: ignored"
                )),
                _ => {
                    let hint = suggest::nearest(&name, Setting::names())
                        .map(|s| format!(" (did you mean '{s}'?)"))
                        .unwrap_or_default();
                    warnings.push(format!("{place}: '{name}' is not a forkhorn setting: ignored{hint}"));
                }
            },
        }
    }
    // The file is its own hooks module, as gunicorn's hooks live in its config file, unless
    // it names another one.
    if defines_hooks && cfg.hooks.is_none() {
        cfg.hooks = Some(match module_name(path) {
            Some(module) => module.to_owned(),
            // The `hooks` setting reads a lone name without `.py` (`gunicorn.conf`) as a module.
            None if path.extension().is_none_or(|e| e != "py") && path.components().count() == 1 => {
                format!("./{}", path.display())
            }
            None => path.display().to_string(),
        });
    }
    Ok((cfg, warnings))
}

/// gunicorn's `logconfig_dict` (Python logging's dictConfig): the level of its
/// `gunicorn.error` logger, else of its root logger, becomes `loglevel` unless the file sets
/// that; the rest (handlers, formatters, other loggers) has no counterpart in forkhorn's log.
/// Returns the warning that says what was taken and what was not.
fn logconfig_dict(
    cfg: &mut Config,
    entries: &[(String, PyValue)],
    sets_loglevel: bool,
    place: &str,
    sys: &dyn System,
) -> String {
    let get = |entries: &[(String, PyValue)], key: &str| -> Option<PyValue> {
        entries.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    };
    let level_of = |logger: Option<PyValue>| match logger {
        Some(PyValue::Dict(l)) => match get(&l, "level") {
            Some(PyValue::Str(level)) => Some(level),
            _ => None,
        },
        _ => None,
    };
    let error_logger = match get(entries, "loggers") {
        Some(PyValue::Dict(loggers)) => {
            level_of(get(&loggers, "gunicorn.error")).map(|l| (l, "the 'gunicorn.error' logger"))
        }
        _ => None,
    };
    let found = error_logger.or_else(|| level_of(get(entries, "root")).map(|l| (l, "the root logger")));
    let rest = "its handlers, formatters and other loggers are ignored (forkhorn logs to errorlog, or syslog)";
    match found {
        Some((level, whose)) if sets_loglevel => {
            format!(
                "{place}: 'logconfig_dict': the level of {whose} ({level}) is not used, the file sets loglevel; {rest}"
            )
        }
        Some((level, whose)) => match assign(cfg, Setting::Loglevel, &Value::Arg(level.clone()), sys) {
            Ok(()) => format!("{place}: 'logconfig_dict': the level of {whose} ({level}) is taken as loglevel; {rest}"),
            Err(p) => format!(
                "{place}: 'logconfig_dict': the level of {whose} is not one forkhorn has ({}); {rest}",
                p.message
            ),
        },
        None => format!(
            "{place}: 'logconfig_dict': no level of the 'gunicorn.error' or root logger to take as loglevel; {rest}"
        ),
    }
}

/// [`assign`], and where text is refused, the text `"true"` or `"false"` (any case) as the
/// boolean, as gunicorn's boolean settings take it (`preload_app = os.environ.get("PRELOAD",
/// "false")`). Text a setting takes as text stays text. The first refusal is the one reported.
fn assign_as_gunicorn(cfg: &mut Config, setting: Setting, value: &Value, sys: &dyn System) -> Result<(), Problem> {
    let refused = match assign(cfg, setting, value, sys) {
        Ok(()) => return Ok(()),
        Err(problem) => problem,
    };
    let boolean = match value {
        Value::Arg(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(refused),
        },
        _ => return Err(refused),
    };
    assign(cfg, setting, &boolean, sys).map_err(|_| refused)
}

/// The setting a module-level name sets: forkhorn's key, or gunicorn's name for it.
fn setting_named(name: &str) -> Option<Setting> {
    Setting::named(name).map(|(setting, _)| setting)
}

/// The value as a source's [`Value`], or what it is when no setting can take it. A string at
/// the top is text as gunicorn reads it (`workers = "4"` is 4, as with `-w 4`), which is what
/// `os.environ.get(...)` gives; inside a list or dict it is a string as in TOML.
fn setting_value(value: &PyValue) -> Result<Value, String> {
    match value {
        // A class is named by its path, as the setting's string form names it.
        PyValue::Str(s) | PyValue::Class(s) => Ok(Value::Arg(s.clone())),
        other => nested_value(other),
    }
}

fn nested_value(value: &PyValue) -> Result<Value, String> {
    // Spans locate TOML text; a Python value has none, and errors name the line of the name.
    let spanned = |v| Spanned::new(0..0, v);
    Ok(match value {
        PyValue::Bool(b) => Value::Bool(*b),
        PyValue::Int(n) => Value::Int(*n),
        PyValue::Float(x) => Value::Float(*x),
        PyValue::Str(s) => Value::Str(s.clone()),
        PyValue::List(items) => Value::List(
            items
                .iter()
                .map(|v| nested_value(v).map(spanned))
                .collect::<Result<_, _>>()?,
        ),
        PyValue::Dict(entries) => Value::Table(
            entries
                .iter()
                .map(|(k, v)| Ok((k.clone(), spanned(nested_value(v)?))))
                .collect::<Result<_, String>>()?,
        ),
        PyValue::None => return Err("None".into()),
        PyValue::Callable => return Err("a function".into()),
        PyValue::Module => return Err("a module".into()),
        PyValue::Class(path) => Value::Str(path.clone()),
        PyValue::Other(what) => return Err(format!("a Python {what}")),
    })
}

#[cfg(test)]
mod tests {
    use super::super::system::Fake;
    use super::*;
    use crate::config::{BindAddr, LogLevel, WorkerClass};
    use std::time::Duration;

    fn name(name: &str, line: usize, value: PyValue) -> Name {
        Name {
            name: name.into(),
            line: Some(line),
            value,
        }
    }

    fn apply_names(names: Vec<Name>) -> Result<(Config, Vec<String>), String> {
        apply(
            Config::default(),
            Report::Names(names),
            Path::new("g.conf.py"),
            &Fake::MACHINE,
        )
        .map_err(|e| e.to_string())
    }

    fn s(text: &str) -> PyValue {
        PyValue::Str(text.into())
    }

    #[test]
    fn settings_warnings_and_silence() {
        let (cfg, warnings) = apply_names(vec![
            name("__file__", 1, s("g.conf.py")),
            name("multiprocessing", 1, PyValue::Module),
            name(
                "bind",
                3,
                PyValue::List(vec![s("127.0.0.1:9000"), s("unix:/tmp/g.sock")]),
            ),
            name("workers", 4, s("5")),
            name("threads", 5, PyValue::Int(4)),
            name("worker_class", 6, s("gthread")),
            name("timeout", 7, PyValue::Float(2.5)),
            name("loglevel", 8, s("DEBUG")),
            name("accesslog", 9, s("-")),
            name("errorlog", 10, s("-")),
            name("preload_app", 11, s(" True")),
            name("daemon", 11, PyValue::Bool(false)),
            name("raw_env", 12, PyValue::List(vec![s("A=1"), s("B=x=y")])),
            name("wsgi_app", 13, s("shop.wsgi:application")),
            name("pidfile", 14, PyValue::None),
            name("umask", 15, PyValue::Int(0o22)),
            name(
                "secure_scheme_headers",
                16,
                PyValue::Dict(vec![("X-Forwarded-Proto".into(), s("https"))]),
            ),
            name("post_fork", 18, PyValue::Callable),
            name("cpu_count", 20, PyValue::Callable),
            name("postfork", 21, PyValue::Callable),
            name("Path", 21, PyValue::Class("pathlib.Path".into())),
            name(
                "logconfig_dict",
                22,
                PyValue::Dict(vec![("version".into(), PyValue::Int(1))]),
            ),
            name("WORKERS", 23, PyValue::Int(3)),
            name("environ", 24, PyValue::Other("_Environ".into())),
            name(
                "logger_class",
                26,
                PyValue::Class("deploy.logs.HealthFilterLogger".into()),
            ),
        ])
        .expect("valid");
        let want = Config {
            config_file: Some("g.conf.py".into()),
            bind: vec![
                BindAddr::Tcp("127.0.0.1:9000".parse().expect("addr")),
                BindAddr::Unix("/tmp/g.sock".into()),
            ],
            workers: 5,
            threads: 4,
            worker_class: WorkerClass::Gthread,
            timeout: Duration::from_millis(2500),
            loglevel: LogLevel::Debug,
            accesslog: Some("-".into()),
            errorlog: "-".into(),
            preload_app: true,
            raw_env: vec![("A".into(), "1".into()), ("B".into(), "x=y".into())],
            app: "shop.wsgi:application".into(),
            umask: 0o22,
            secure_scheme_headers: vec![("X-FORWARDED-PROTO".into(), "https".into())],
            hooks: Some("g.conf.py".into()),
            logger_class: Some("deploy.logs.HealthFilterLogger".into()),
            ..Config::default()
        };
        assert_eq!(cfg, want);
        assert_eq!(
            warnings,
            [
                "g.conf.py:21: 'postfork' is not a gunicorn server hook (did you mean 'post_fork'?): ignored",
                "g.conf.py:22: 'logconfig_dict': no level of the 'gunicorn.error' or root logger to take as loglevel; its handlers, formatters and other loggers are ignored (forkhorn logs to errorlog, or syslog)",
                "g.conf.py:23: 'WORKERS' is not a forkhorn setting: ignored (did you mean 'workers'?)",
                "g.conf.py:24: 'environ' is not a forkhorn setting: ignored",
            ]
        );
    }

    #[test]
    fn logconfig_dict_gives_its_level_unless_the_file_sets_loglevel() {
        let logger = |level: &str| PyValue::Dict(vec![("level".into(), s(level))]);
        let dict = |entries: Vec<(&str, PyValue)>| {
            PyValue::Dict(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
        };
        let root_only = dict(vec![("version", PyValue::Int(1)), ("root", logger("WARNING"))]);
        let both = dict(vec![
            ("root", logger("DEBUG")),
            ("loggers", dict(vec![("gunicorn.error", logger("ERROR"))])),
        ]);
        let rest = "its handlers, formatters and other loggers are ignored (forkhorn logs to errorlog, or syslog)";
        let (cfg, warnings) = apply_names(vec![name("logconfig_dict", 3, root_only.clone())]).expect("valid");
        assert_eq!(cfg.loglevel, LogLevel::Warning);
        assert_eq!(
            warnings,
            [format!(
                "g.conf.py:3: 'logconfig_dict': the level of the root logger (WARNING) is taken as loglevel; {rest}"
            )]
        );
        let (cfg, _) = apply_names(vec![name("logconfig_dict", 3, both)]).expect("valid");
        assert_eq!(cfg.loglevel, LogLevel::Error);
        // The file's own loglevel wins, before or after the dict.
        let (cfg, warnings) = apply_names(vec![
            name("logconfig_dict", 3, root_only),
            name("loglevel", 9, s("debug")),
        ])
        .expect("valid");
        assert_eq!(cfg.loglevel, LogLevel::Debug);
        assert_eq!(
            warnings,
            [format!("g.conf.py:3: 'logconfig_dict': the level of the root logger (WARNING) is not used, the file sets loglevel; {rest}")]
        );
        let (cfg, warnings) =
            apply_names(vec![name("logconfig_dict", 3, dict(vec![("root", logger("LOUD"))]))]).expect("valid");
        assert_eq!(cfg.loglevel, LogLevel::Info);
        assert!(warnings[0].contains("is not one forkhorn has"), "{warnings:?}");
    }

    #[test]
    fn errors_name_the_file_line_and_name() {
        let cases = [
            (
                name("workers", 3, s("two")),
                "g.conf.py:3: name 'workers': expected a positive integer, got \"two\"",
            ),
            (
                name("preload_app", 7, PyValue::Int(1)),
                "g.conf.py:7: name 'preload_app': expected true or false, got 1",
            ),
            (
                name("preload_app", 7, s("yes")),
                "g.conf.py:7: name 'preload_app': expected true or false, got \"yes\"",
            ),
            (
                name("workers", 2, s("true")),
                "g.conf.py:2: name 'workers': expected a positive integer, got \"true\"",
            ),
            (
                name("bind", 2, PyValue::List(vec![s("127.0.0.1:1"), PyValue::Int(80)])),
                "g.conf.py:2: name 'bind': expected an address string, got 80",
            ),
            (
                name("timeout", 4, PyValue::Callable),
                "g.conf.py:4: name 'timeout': expected a str, int, float, bool, list or dict, got a function",
            ),
            (
                name("raw_env", 5, PyValue::List(vec![PyValue::Other("set".into())])),
                "g.conf.py:5: name 'raw_env': expected a str, int, float, bool, list or dict, got a Python set",
            ),
            (
                Name {
                    name: "loglevel".into(),
                    line: None,
                    value: s("loud"),
                },
                "g.conf.py: name 'loglevel': expected one of debug, info, warning, error, critical, got \"loud\"",
            ),
        ];
        for (n, want) in cases {
            assert_eq!(apply_names(vec![n]).map(|_| ()), Err(want.to_string()));
        }
    }

    #[test]
    fn raised_and_failed_reports() {
        let path = Path::new("g.conf.py");
        let raised = Report::Raised {
            line: Some(7),
            message: "ZeroDivisionError: division by zero".into(),
        };
        assert_eq!(
            apply(Config::default(), raised, path, &Fake::MACHINE)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err("g.conf.py:7: cannot run the Python config file: ZeroDivisionError: division by zero".into())
        );
        let failed = Report::Failed("cannot initialise Python: x".into());
        assert_eq!(
            apply(Config::default(), failed, path, &Fake::MACHINE)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err("g.conf.py: cannot evaluate the Python config file: cannot initialise Python: x".into())
        );
    }

    #[test]
    fn report_wire_format() {
        // The evaluator's Python side writes this JSON by hand: the shapes must stay serde's.
        let json = r#"{"Names": [
            {"name": "a", "line": 1, "value": "None"},
            {"name": "b", "line": null, "value": {"List": [{"Int": 1}, {"Str": "x"}, {"Bool": true}]}},
            {"name": "c", "line": 3, "value": {"Dict": [["k", {"Float": 0.5}]]}},
            {"name": "d", "line": 4, "value": "Callable"},
            {"name": "e", "line": 5, "value": {"Other": "set"}}
        ]}"#;
        let report: Report = serde_json::from_str(json).expect("valid report");
        let Report::Names(names) = report else {
            panic!("{report:?}")
        };
        assert_eq!(names.len(), 5);
        assert_eq!(names[2].value, PyValue::Dict(vec![("k".into(), PyValue::Float(0.5))]));
        let raised: Report = serde_json::from_str(r#"{"Raised": {"line": null, "message": "E"}}"#).expect("valid");
        assert_eq!(
            raised,
            Report::Raised {
                line: None,
                message: "E".into()
            }
        );
        let failed: Report = serde_json::from_str(r#"{"Failed": "why"}"#).expect("valid");
        assert_eq!(failed, Report::Failed("why".into()));
    }

    #[test]
    fn evaluator_args() {
        let args = |v: &[&str]| EvaluatorArgs::parse(v.iter().map(OsString::from));
        assert_eq!(
            args(&[
                "f.py",
                "--virtualenv",
                "/v",
                "--pythonpath",
                "a",
                "--pythonpath",
                "b",
                "--",
                "forkhorn",
                "-c"
            ]),
            Some(EvaluatorArgs {
                file: "f.py".into(),
                virtualenv: Some("/v".into()),
                pythonpath: vec!["a".into(), "b".into()],
                argv: vec!["forkhorn".into(), "-c".into()],
            })
        );
        assert_eq!(args(&["f.py"]), None);
        assert_eq!(args(&["f.py", "--what", "--"]), None);
    }
}
