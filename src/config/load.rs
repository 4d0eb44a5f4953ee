//! Reading the sources and merging them, in gunicorn's order of precedence: defaults <
//! `PORT` (bind), `WEB_CONCURRENCY` (workers) and `FORWARDED_ALLOW_IPS`, which only change the
//! defaults < config file
//! (TOML, or Python run by `python_file`) < `GUNICORN_CMD_ARGS` < `FORKHORN_CMD_ARGS` < command
//! line. The config module's I/O is here and in `python_file`'s evaluator: reading the file, the
//! environment, and (through [`Machine`]) host-name lookups, directories, users and groups.

use super::error::{ConfigError, Origin};
use super::setting::Value;
use super::system::System;
use super::table::{assign, Setting};
use super::{file, python_file, CommandLine, Config};
use nix::unistd::{Group, User};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

/// The environment variable that sets the default number of workers (as on Heroku and in
/// gunicorn).
pub const WEB_CONCURRENCY: &str = "WEB_CONCURRENCY";

/// The environment variable whose port the default bind listens on, on every IPv4 interface
/// (as on Heroku and in gunicorn).
pub const PORT: &str = "PORT";

/// The environment variable that sets the default of `forwarded_allow_ips` (as in gunicorn).
pub const FORWARDED_ALLOW_IPS: &str = "FORWARDED_ALLOW_IPS";

/// The environment variables that hold flags, lowest precedence first: gunicorn's, then
/// forkhorn's own, which a deployment can use to override a shared `GUNICORN_CMD_ARGS`.
pub const CMD_ARGS: [&str; 2] = ["GUNICORN_CMD_ARGS", "FORKHORN_CMD_ARGS"];

/// The config file gunicorn reads when no `-c` is given, and so does forkhorn (as a Python
/// file). There is no such default for forkhorn's own TOML: a `forkhorn.toml` in the working
/// directory is not read unless `-c` names it, so that a server's behaviour does not depend on
/// the directory it happens to start in beyond what gunicorn users already rely on.
pub const GUNICORN_CONF: &str = "gunicorn.conf.py";

/// The config file to read when the command line names none: `./gunicorn.conf.py` if it exists
/// (as in gunicorn), else none. Called once at startup, so that a HUP re-reads the same file even
/// after the master has changed directory.
pub fn default_file() -> Option<PathBuf> {
    let path = Path::new(GUNICORN_CONF);
    path.exists().then(|| path.to_owned())
}

/// What the environment gives the configuration. Unset and empty both mean "not set", except
/// for `FORWARDED_ALLOW_IPS`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Environment {
    /// `WEB_CONCURRENCY`.
    pub web_concurrency: Option<String>,
    /// `PORT`.
    pub port: Option<String>,
    /// `FORWARDED_ALLOW_IPS`. Set and empty means that no peer is trusted, as in gunicorn
    /// (which takes the variable's value whenever it is set).
    pub forwarded_allow_ips: Option<String>,
    /// The variables of [`CMD_ARGS`] that are set, with their values, in that order.
    pub cmd_args: Vec<(&'static str, String)>,
}

impl Environment {
    /// Reads the process environment. A non-UTF-8 value is converted lossily: it cannot be valid,
    /// and the conversion keeps it for the error message.
    pub fn read() -> Environment {
        let var = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
        Environment {
            web_concurrency: var(WEB_CONCURRENCY),
            port: var(PORT),
            forwarded_allow_ips: var(FORWARDED_ALLOW_IPS),
            cmd_args: CMD_ARGS
                .into_iter()
                .filter_map(|name| Some((name, var(name)?)))
                .collect(),
        }
    }
}

/// Builds the effective configuration for `cli`: reads the `-c` file if given and the
/// environment. Has no other effects (a Python file runs in a child
/// process), so the master can call it again on HUP to re-read the file. What a Python file sets
/// but forkhorn does not use is logged as warnings.
pub fn load(cli: &CommandLine) -> Result<Config, ConfigError> {
    let (cfg, warnings) = load_with_warnings(cli)?;
    for warning in warnings {
        log::warn!("{warning}");
    }
    Ok(cfg)
}

/// [`load`], returning the warnings (one line each) rather than logging them: for a caller that
/// loads the configuration before logging starts.
pub fn load_with_warnings(cli: &CommandLine) -> Result<(Config, Vec<String>), ConfigError> {
    load_from(cli, &Environment::read())
}

/// [`load`] with only `WEB_CONCURRENCY` from the environment, given rather than read, so tests
/// need not change the process environment.
#[cfg(test)]
pub fn load_with_env(cli: &CommandLine, web_concurrency: Option<&str>) -> Result<Config, ConfigError> {
    let env = Environment {
        web_concurrency: web_concurrency.map(str::to_owned),
        ..Environment::default()
    };
    load_from(cli, &env).map(|(cfg, _)| cfg)
}

/// Whether `path` is a Python config rather than TOML: a file named `*.py`, as gunicorn's
/// files are, or gunicorn's `python:MODULE`.
fn is_python(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "py") || python_file::module_name(path).is_some()
}

/// A config file, read: TOML text, or what running a Python file reported.
pub(crate) enum FileSource<'a> {
    /// A TOML file's path and text.
    Toml(&'a Path, &'a str),
    /// A Python file's path and the names its evaluation reported.
    Python(&'a Path, python_file::Report),
}

/// [`load`] with the environment given, and the warnings returned. The config file is the one `-c` names on the command
/// line, else in a variable of [`CMD_ARGS`] (the later one first), as in gunicorn.
pub fn load_from(cli: &CommandLine, env: &Environment) -> Result<(Config, Vec<String>), ConfigError> {
    let env_args = env_command_lines(env)?;
    let path = cli
        .file
        .as_ref()
        .or_else(|| env_args.iter().rev().find_map(|(_, c)| c.file.as_ref()));
    let text;
    let file = match path {
        Some(path) if is_python(path) => Some(FileSource::Python(path, python_file::evaluate(path, cli, &Machine)?)),
        Some(path) => {
            text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
                path: path.clone(),
                source,
            })?;
            Some(toml_or_python(path, &text, cli)?)
        }
        None => None,
    };
    let (mut cfg, warnings) = merge_all(file, env, &env_args, cli, &Machine)?;
    // Last: the TLS files are read and checked only for a configuration that is otherwise good.
    cfg.load_tls()?;
    Ok((cfg, warnings))
}

/// A config file named neither `*.py` nor `python:MODULE`: TOML when it is TOML, or named
/// `*.toml`. gunicorn runs every `-c` file as Python whatever its name (`-c gunicorn.conf` is
/// common), so a file that is not TOML is run as Python; when it is not Python either (a syntax
/// error), the TOML error is the one reported, as the likelier intent.
fn toml_or_python<'a>(path: &'a Path, text: &'a str, cli: &CommandLine) -> Result<FileSource<'a>, ConfigError> {
    if path.extension().is_some_and(|e| e == "toml") || text.parse::<toml::Table>().is_ok() {
        return Ok(FileSource::Toml(path, text));
    }
    Ok(match python_file::evaluate(path, cli, &Machine)? {
        python_file::Report::Raised { message, .. } if message.starts_with("SyntaxError") => {
            FileSource::Toml(path, text)
        }
        report => FileSource::Python(path, report),
    })
}

/// The flags of each variable of [`CMD_ARGS`] that is set and not blank.
fn env_command_lines(env: &Environment) -> Result<Vec<(&'static str, CommandLine)>, ConfigError> {
    env.cmd_args
        .iter()
        .filter(|(_, text)| !text.trim().is_empty())
        .map(|(var, text)| Ok((*var, CommandLine::from_env_args(var, text)?)))
        .collect()
}

/// Merges the config file, `WEB_CONCURRENCY` and the command line over the defaults; pure given
/// `sys`. `file` is the path and text of the config file.
#[cfg(test)]
pub(crate) fn merge(
    file: Option<(&Path, &str)>,
    web_concurrency: Option<&str>,
    cli: &CommandLine,
    sys: &dyn System,
) -> Result<Config, ConfigError> {
    let env = Environment {
        web_concurrency: web_concurrency.map(str::to_owned),
        ..Environment::default()
    };
    merge_all(
        file.map(|(path, text)| FileSource::Toml(path, text)),
        &env,
        &[],
        cli,
        sys,
    )
    .map(|(cfg, _)| cfg)
}

/// Merges every source over the defaults, lowest precedence first (see the module's
/// documentation); pure given `sys`. `env_args` are the command lines of [`CMD_ARGS`]. Returns
/// the configuration and the warnings of a Python file.
pub(crate) fn merge_all(
    file: Option<FileSource<'_>>,
    env: &Environment,
    env_args: &[(&'static str, CommandLine)],
    cli: &CommandLine,
    sys: &dyn System,
) -> Result<(Config, Vec<String>), ConfigError> {
    let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let mut base = Config::default();
    // gunicorn takes PORT as it is and fails at bind; checking it names the variable. A bad PORT
    // is an error only where it would be used: when no other source sets bind.
    let mut bad_port = None;
    if let Some(port) = given(&env.port) {
        let problem = ConfigError::InvalidValue {
            at: Origin::Env(PORT),
            problem: format!("expected a port number, got {port:?}"),
        };
        let bind = Value::Arg(format!("0.0.0.0:{port}"));
        if port.parse::<u16>().is_err() || assign(&mut base, Setting::Bind, &bind, sys).is_err() {
            bad_port = Some(problem);
        }
    }
    if let Some(n) = given(&env.web_concurrency) {
        assign(&mut base, Setting::Workers, &Value::Arg(n), sys).map_err(|p| ConfigError::InvalidValue {
            at: Origin::Env(WEB_CONCURRENCY),
            problem: p.message,
        })?;
    }
    if let Some(ips) = &env.forwarded_allow_ips {
        let ips = Value::Arg(ips.clone());
        assign(&mut base, Setting::ForwardedAllowIps, &ips, sys).map_err(|p| ConfigError::InvalidValue {
            at: Origin::Env(FORWARDED_ALLOW_IPS),
            problem: p.message,
        })?;
    }
    let mut python_file = None;
    let (mut cfg, mut warnings) = match file {
        Some(FileSource::Toml(path, text)) => (file::parse_over(base, text, path, sys)?, Vec::new()),
        Some(FileSource::Python(path, report)) => {
            python_file = Some(path);
            python_file::apply(base, report, path, sys)?
        }
        None => (base, Vec::new()),
    };
    for (var, args) in env_args {
        apply(&mut cfg, args, sys, |flag| Origin::EnvFlag { var, flag })?;
    }
    apply(&mut cfg, cli, sys, Origin::Flag)?;
    if let Some(e) = bad_port.filter(|_| cfg.bind == Config::default().bind) {
        return Err(e);
    }
    cfg.settle_async_threads();
    // The built-in page serves a bare `forkhorn`. Where gunicorn would stop for want of an app
    // (its "No application module specified"), paste names one forkhorn cannot load, so it
    // stops too; a gunicorn config file without one is said in a warning.
    if cfg.app == Config::default().app {
        if cfg.paste.is_some() {
            return Err(ConfigError::FindApp(
                "forkhorn cannot load a PasteDeploy app (paste): give the app as module:callable (APP, or wsgi_app)"
                    .into(),
            ));
        }
        if let Some(path) = python_file {
            warnings.push(format!(
                "{} sets no wsgi_app and no APP was given: serving the built-in page {} (gunicorn stops here: \
                 \"No application module specified\")",
                path.display(),
                cfg.app
            ));
        }
    }
    Ok((cfg, warnings))
}

/// Assigns the settings `args` gives; `origin` names a flag's source in an error.
fn apply(
    cfg: &mut Config,
    args: &CommandLine,
    sys: &dyn System,
    origin: impl Fn(&'static str) -> Origin,
) -> Result<(), ConfigError> {
    for (setting, value) in &args.values {
        let setting = *setting;
        assign(cfg, setting, value, sys).map_err(|p| ConfigError::InvalidValue {
            // Every setting the command line can carry has a flag; the key is only a fallback.
            at: origin(setting.flag().unwrap_or(setting.key())),
            problem: p.message,
        })?;
    }
    Ok(())
}

/// The machine forkhorn runs on: the system resolver, the file system, the user and group
/// databases.
struct Machine;

impl System for Machine {
    /// Binding every address the resolver returns could bind the same port twice (IPv4 and IPv6
    /// `localhost`), so the first one is taken.
    fn resolve(&self, host: &str, port: u16) -> Result<SocketAddr, String> {
        let mut addrs = (host, port).to_socket_addrs().map_err(|e| e.to_string())?;
        addrs.next().ok_or_else(|| "no addresses found".to_owned())
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn user_exists(&self, name: &str) -> Result<bool, String> {
        User::from_name(name).map(|u| u.is_some()).map_err(|e| e.to_string())
    }

    fn group_exists(&self, name: &str) -> Result<bool, String> {
        Group::from_name(name).map(|g| g.is_some()).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::super::setting::{Cli, Takes};
    use super::super::system::Fake;
    use super::*;
    use crate::config::{add_args, BindAddr, LogLevel};
    use std::time::Duration;

    fn cli(args: &[&str]) -> CommandLine {
        let argv = std::iter::once("forkhorn").chain(args.iter().copied());
        let matches = add_args(clap::Command::new("forkhorn"))
            .try_get_matches_from(argv)
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        CommandLine::from_matches(&matches)
    }

    fn merged(file: Option<&str>, env: Option<&str>, args: &[&str]) -> Result<Config, String> {
        let file = file.map(|text| (Path::new("f.toml"), text));
        merge(file, env, &cli(args), &Fake::MACHINE).map_err(|e| e.to_string())
    }

    fn workers(file: Option<&str>, env: Option<&str>, args: &[&str]) -> usize {
        merged(file, env, args).map(|c| c.workers).expect("valid")
    }

    #[test]
    fn precedence_of_workers() {
        let file = Some("workers = 3\n");
        let cases = [
            (None, None, &[][..], 1),
            (file, None, &[][..], 3),
            // WEB_CONCURRENCY is only the default, as in gunicorn: the file wins.
            (file, Some("5"), &[][..], 3),
            (None, Some("5"), &[][..], 5),
            (file, Some("5"), &["-w", "7"][..], 7),
            (file, None, &["--workers", "7"][..], 7),
            (None, Some("5"), &["-w7"][..], 7),
            (file, Some(""), &[][..], 3),
            (file, Some("  "), &[][..], 3),
            (None, Some(" 4\n"), &[][..], 4),
        ];
        for (file, env, args, want) in cases {
            assert_eq!(workers(file, env, args), want, "{file:?} {env:?} {args:?}");
        }
    }

    #[test]
    fn command_line_beats_file() {
        let file = "bind = \"127.0.0.1:1\"\ntimeout = 5\napp = \"a:b\"\nloglevel = \"debug\"\n";
        let cfg = merged(
            Some(file),
            None,
            &["-b", "127.0.0.1:2", "-b", "unix:/tmp/x.sock", "-t", "9", "builtin:echo"],
        )
        .expect("valid");
        assert_eq!(
            cfg.bind,
            vec![
                BindAddr::Tcp(SocketAddr::from(([127, 0, 0, 1], 2))),
                BindAddr::Unix("/tmp/x.sock".into())
            ]
        );
        assert_eq!(cfg.timeout, Duration::from_secs(9));
        assert_eq!(cfg.app, "builtin:echo");
        assert_eq!(
            cfg.loglevel,
            LogLevel::Debug,
            "the file's value stands where the command line is silent"
        );
        assert_eq!(cfg.config_file, Some("f.toml".into()));
    }

    #[test]
    fn every_flag_reaches_its_setting() {
        // Each setting's flag, with a value differing from the default, must change exactly
        // that setting: this checks the table's flags and the reading of them back.
        // A switch takes no value: its table entry says what it sets.
        let value = |s: Setting| match s {
            Setting::Bind => Some("127.0.0.1:1"),
            Setting::ServerHeader | Setting::ProcName | Setting::SyslogPrefix => Some("other"),
            Setting::App => Some("builtin:echo"),
            Setting::WorkerClass => Some("gthread"),
            Setting::Loglevel => Some("debug"),
            Setting::ForwardedAllowIps | Setting::ProxyAllowIps => Some("10.0.0.0/8,*"),
            Setting::StaticRoot | Setting::Chdir | Setting::Virtualenv => Some("/srv/www"),
            Setting::Pidfile | Setting::Errorlog | Setting::Accesslog => Some("/tmp/f.log"),
            Setting::Pythonpath => Some("/srv,lib"),
            Setting::AccessLogFormat => Some("%(h)s"),
            Setting::SyslogAddr => Some("unix:///dev/log"),
            Setting::SyslogFacility => Some("local0"),
            Setting::User | Setting::Group => Some("www-data"),
            Setting::Umask => Some("0022"),
            Setting::RawEnv | Setting::ReloadExtraFiles | Setting::RawPasteGlobalConf | Setting::DirtyApps => {
                Some("A=1")
            }
            Setting::UwsgiAllowIps => Some("10.0.0.0/8"),
            Setting::ProxyProtocol => Some("v2"),
            // A setting unset by default has an example, valid on the fake machine.
            _ => Some(s.describe().example.map_or("7", |e| e.trim_matches('"'))),
        };
        let mut with_flags = 0;
        for s in Setting::ALL {
            let Some(flag) = s.flag() else { continue };
            with_flags += 1;
            let Cli::Flag(f) = s.describe().cli else {
                let v = value(s).expect("the positional takes a value");
                let cfg = merged(None, None, &[v]).expect("valid");
                assert_eq!(cfg.app, v);
                continue;
            };
            let (args, as_value) = match (f.takes, value(s)) {
                (Takes::Switch(on), _) => (vec![flag], Value::Bool(on)),
                (Takes::Many(_), Some(v)) => (vec![flag, v], Value::Args(vec![v.into()])),
                (_, Some(v)) => (vec![flag, v], Value::Arg(v.into())),
                (_, None) => unreachable!("{flag} takes a value"),
            };
            let mut args = args;
            let mut expect = Config::default();
            // paste without an app is refused: it would serve the built-in page.
            if s == Setting::Paste {
                args.push("pkg:app");
                assign(&mut expect, Setting::App, &Value::Arg("pkg:app".into()), &Fake::MACHINE).expect("valid");
            }
            let cfg = merged(None, None, &args).expect("valid");
            // gunicorn's --suppress-ragged-eofs sets what is already its default.
            if s != Setting::SuppressRaggedEofs {
                assert_ne!(cfg, Config::default(), "{args:?} changed nothing");
            }
            assign(&mut expect, s, &as_value, &Fake::MACHINE).expect("valid");
            assert_eq!(cfg, expect, "{args:?}");
        }
        assert_eq!(
            with_flags,
            Setting::ALL.len() - 3,
            "only secure_scheme_headers, tmp_upload_dir and default_proc_name have no flag, as in gunicorn"
        );
    }

    #[test]
    fn switches_turn_on_what_the_file_left_off() {
        let file = Some("daemon = false\npreload_app = true\n");
        let cfg = merged(file, None, &["-D"]).expect("valid");
        assert!(cfg.daemon && cfg.preload_app);
        let cfg = merged(file, None, &[]).expect("valid");
        assert!(
            !cfg.daemon && cfg.preload_app,
            "an absent switch leaves the file's value"
        );
    }

    #[test]
    fn threads_and_worker_class() {
        use crate::config::WorkerClass;
        let file = Some("threads = 8\nworker_class = \"gthread\"\n");
        let get = |file, args: &[&str]| {
            let cfg = merged(file, None, args).expect("valid");
            (cfg.worker_class, cfg.threads, cfg.threaded())
        };
        /// File text, arguments, and the worker class, thread count and `threaded()` they give.
        type Case<'a> = (Option<&'a str>, &'a [&'a str], (WorkerClass, usize, bool));
        let cases: [Case<'_>; 7] = [
            (None, &[], (WorkerClass::Sync, 1, false)),
            (file, &[], (WorkerClass::Gthread, 8, true)),
            (file, &["-k", "sync", "--threads", "1"], (WorkerClass::Sync, 1, false)),
            (None, &["--threads", "4"], (WorkerClass::Sync, 4, true)),
            (None, &["-k", "gthread"], (WorkerClass::Gthread, 1, true)),
            (
                None,
                &["--worker-class=gunicorn.workers.gthread.ThreadWorker", "--threads=2"],
                (WorkerClass::Gthread, 2, true),
            ),
            // A repeated flag: the last one wins, as with gunicorn's argparse.
            (
                file,
                &["--threads", "2", "--threads", "3", "-k", "gthread", "-k", "sync"],
                (WorkerClass::Sync, 3, true),
            ),
        ];
        for (file, args, want) in cases {
            assert_eq!(get(file, args), want, "{file:?} {args:?}");
        }
    }

    #[test]
    fn repeated_env_flags_replace_the_file_list() {
        let file = Some("raw_env = [\"A=file\", \"B=file\"]\n");
        let cfg = merged(file, None, &["-e", "A=1", "--env", "C=x=y"]).expect("valid");
        assert_eq!(cfg.raw_env, [("A".into(), "1".into()), ("C".into(), "x=y".into())]);
    }

    #[test]
    fn flag_aliases() {
        let pairs: [(&[&str], &[&str]); 3] = [
            (
                &["--limit-request-field_size", "10"],
                &["--limit-request-field-size", "10"],
            ),
            (&["--proxy-allow-from", "10.0.0.1"], &["--proxy-allow-ips", "10.0.0.1"]),
            (&["--error-logfile", "/tmp/e.log"], &["--log-file", "/tmp/e.log"]),
        ];
        for (a, b) in pairs {
            let (a, b) = (
                merged(None, None, a).expect("valid"),
                merged(None, None, b).expect("valid"),
            );
            assert_ne!(a, Config::default());
            assert_eq!(a, b);
        }
    }

    #[test]
    fn errors_name_their_source() {
        /// File text, WEB_CONCURRENCY, arguments, the error line.
        type Case<'a> = (Option<&'a str>, Option<&'a str>, &'a [&'a str], &'a str);
        let cases: [Case<'_>; 14] = [
            (
                None,
                None,
                &["-w", "two"],
                "--workers: expected a positive integer, got \"two\"",
            ),
            (
                None,
                None,
                &["--workers=0"],
                "--workers: expected a positive integer, got 0",
            ),
            (
                None,
                None,
                &["-b", "127.0.0.1:1", "-b", "127.0.0.1:99999"],
                "--bind: \"127.0.0.1:99999\" is not a valid address (port out of range)",
            ),
            (
                None,
                None,
                &["--log-level", "loud"],
                "--log-level: expected one of debug, info, warning, error, critical, got \"loud\"",
            ),
            (
                None,
                None,
                &["not an app"],
                "APP: expected builtin:NAME or module[.sub]:callable, :factory() or :factory(args), got \"not an app\"",
            ),
            (
                None,
                None,
                &["--threads", "2000"],
                "--threads: expected an integer from 0 to 1024, got 2000",
            ),
            (
                Some("worker_class = \"gthread\"\n"),
                None,
                &["-k", "meinheld"],
                "--worker-class: expected sync, gthread, gevent, eventlet or tornado (gunicorn's names, \
                 egg:gunicorn#NAME or class paths), got \"meinheld\"",
            ),
            (
                None,
                Some("many"),
                &[],
                "WEB_CONCURRENCY: expected a positive integer, got \"many\"",
            ),
            (
                None,
                None,
                &["-u", "no-such-user-xyz"],
                "--user: expected an existing user name or a number, got \"no-such-user-xyz\"",
            ),
            (
                None,
                None,
                &["--umask", "0999"],
                "--umask: expected a umask from 0 to 0o777 (octal as 0o22 or 0022), got \"0999\"",
            ),
            (
                None,
                None,
                &["-e", "A=1", "-e", "=2"],
                "--env: expected KEY=VALUE with a non-empty KEY, got \"=2\"",
            ),
            (
                None,
                None,
                &["--proxy-allow-ips", "10.0.0.1,nope"],
                "--proxy-allow-from: \"nope\" is not a valid entry (not an IP address, CIDR network or *)",
            ),
            (
                Some("static_root = \"/srv/www\"\n"),
                None,
                &["--static-root", "/nope"],
                "--static-root: expected an existing directory, got \"/nope\"",
            ),
            (
                Some("workers = 2\nworkers_connections = 5\n"),
                None,
                &["-w", "3"],
                "f.toml:2: key 'workers_connections': unknown setting (did you mean 'worker_connections'?)",
            ),
        ];
        for (file, env, args, want) in cases {
            assert_eq!(merged(file, env, args).map(|_| ()), Err(want.to_string()), "{args:?}");
        }
    }

    #[test]
    fn a_bad_environment_is_an_error_even_under_dash_w() {
        // WEB_CONCURRENCY is checked even when -w overrides it: a broken environment is a
        // mistake worth hearing about before it bites in a deployment without -w.
        let err = merged(None, Some("0"), &["-w", "2"]).map(|_| ());
        assert_eq!(
            err,
            Err("WEB_CONCURRENCY: expected a positive integer, got 0".to_string())
        );
    }

    #[test]
    fn load_reads_the_file_named_by_dash_c() {
        let dir = std::env::temp_dir().join(format!("forkhorn-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("load.toml");
        std::fs::write(&path, "workers = 3\n").expect("write");
        let path_str = path.to_str().expect("utf-8 temp path");
        let cfg = load_with_env(&cli(&["-c", path_str]), Some("4")).expect("valid");
        assert_eq!((cfg.workers, cfg.config_file.as_deref()), (3, Some(path.as_path())));

        let missing = dir.join("missing.toml");
        let missing_str = missing.to_str().expect("utf-8 temp path");
        let err = load_with_env(&cli(&["-c", missing_str]), None).expect_err("no such file");
        assert!(matches!(err, ConfigError::ReadFile { .. }));
        assert!(
            err.to_string()
                .starts_with(&format!("{missing_str}: cannot read config file: ")),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn forwarded_allow_ips_from_the_environment_is_the_default() {
        let shown = |file: Option<&str>, var: Option<&str>, args: &[&str]| {
            let env = Environment {
                forwarded_allow_ips: var.map(str::to_owned),
                ..Environment::default()
            };
            let file = file.map(|text| FileSource::Toml(Path::new("f.toml"), text));
            merge_all(file, &env, &[], &cli(args), &Fake::MACHINE)
                .map(|(cfg, _)| crate::config::allow::show(&cfg.forwarded_allow_ips))
                .map_err(|e| e.to_string())
        };
        let ips = |list: &[&str]| Ok(list.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(shown(None, None, &[]), ips(&["127.0.0.1", "::1"]));
        assert_eq!(
            shown(None, Some("10.0.0.1, 10.1.0.0/16"), &[]),
            ips(&["10.0.0.1", "10.1.0.0/16"])
        );
        // Set and empty trusts no peer, as in gunicorn.
        assert_eq!(shown(None, Some(""), &[]), ips(&[]));
        // Only the default: the file and the command line win.
        let file = Some("forwarded_allow_ips = [\"10.0.0.2\"]\n");
        assert_eq!(shown(file, Some("*"), &[]), ips(&["10.0.0.2"]));
        assert_eq!(
            shown(file, Some("*"), &["--forwarded-allow-ips", "10.0.0.3"]),
            ips(&["10.0.0.3"])
        );
        assert_eq!(
            shown(None, Some("nope"), &[]).map(|_| ()),
            Err("FORWARDED_ALLOW_IPS: \"nope\" is not a valid entry (not an IP address, CIDR network or *)".to_owned())
        );
    }
}
