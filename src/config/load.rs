//! Reading the sources and merging them: defaults < config file (TOML, or Python run by
//! `python_file`) < `WEB_CONCURRENCY` (workers only) < command line. The config module's I/O is
//! here and in `python_file`'s evaluator: reading the file, the environment, and (through
//! [`Machine`]) host-name lookups, directories, users and groups.

use super::error::{ConfigError, Origin};
use super::setting::Value;
use super::system::System;
use super::table::{assign, Setting};
use super::{file, python_file, CommandLine, Config};
use nix::unistd::{Group, User};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

/// The environment variable that sets the number of workers (as on Heroku and in gunicorn).
pub const WEB_CONCURRENCY: &str = "WEB_CONCURRENCY";

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

/// Builds the effective configuration for `cli`: reads the `-c` file if given and
/// `WEB_CONCURRENCY` from the environment. Has no other effects (a Python file runs in a child
/// process), so the master can call it again on HUP to re-read the file. What the file sets but
/// forkhorn does not use is logged as warnings.
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
    // A non-UTF-8 value cannot be a number; lossy conversion keeps it for the error message.
    let env = std::env::var_os(WEB_CONCURRENCY).map(|v| v.to_string_lossy().into_owned());
    load_sources(cli, env.as_deref())
}

/// [`load`] with the value of `WEB_CONCURRENCY` given rather than read from the environment, so
/// tests need not change the process environment. Unset and empty both mean "not set".
pub fn load_with_env(cli: &CommandLine, web_concurrency: Option<&str>) -> Result<Config, ConfigError> {
    let (cfg, warnings) = load_sources(cli, web_concurrency)?;
    for warning in warnings {
        log::warn!("{warning}");
    }
    Ok(cfg)
}

/// Whether `path` is a Python config rather than TOML: a file named `*.py`, as gunicorn's
/// files are, or gunicorn's `python:MODULE`.
fn is_python(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "py") || python_file::module_name(path).is_some()
}

fn load_sources(cli: &CommandLine, web_concurrency: Option<&str>) -> Result<(Config, Vec<String>), ConfigError> {
    let (base, warnings) = match &cli.file {
        Some(path) if is_python(path) => {
            let report = python_file::evaluate(path, cli, &Machine)?;
            python_file::apply(report, path, &Machine)?
        }
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
                path: path.clone(),
                source,
            })?;
            (file::parse(&text, path, &Machine)?, Vec::new())
        }
        None => (Config::default(), Vec::new()),
    };
    Ok((over(base, web_concurrency, cli, &Machine)?, warnings))
}

/// Merges the sources over the defaults; pure given `sys`. `file` is the path and text of the
/// config file.
#[cfg(test)]
pub(crate) fn merge(
    file: Option<(&Path, &str)>,
    web_concurrency: Option<&str>,
    cli: &CommandLine,
    sys: &dyn System,
) -> Result<Config, ConfigError> {
    let base = match file {
        Some((path, text)) => file::parse(text, path, sys)?,
        None => Config::default(),
    };
    over(base, web_concurrency, cli, sys)
}

/// Puts `WEB_CONCURRENCY` and then the command line over `cfg`, what the config file gave.
fn over(
    mut cfg: Config,
    web_concurrency: Option<&str>,
    cli: &CommandLine,
    sys: &dyn System,
) -> Result<Config, ConfigError> {
    if let Some(n) = web_concurrency.filter(|v| !v.trim().is_empty()) {
        assign(&mut cfg, Setting::Workers, &Value::Arg(n.to_owned()), sys).map_err(|p| ConfigError::InvalidValue {
            at: Origin::Env(WEB_CONCURRENCY),
            problem: p.message,
        })?;
    }
    for (setting, value) in &cli.values {
        let setting = *setting;
        assign(&mut cfg, setting, value, sys).map_err(|p| ConfigError::InvalidValue {
            // Every setting the command line can carry has a flag; the key is only a fallback.
            at: Origin::Flag(setting.flag().unwrap_or(setting.key())),
            problem: p.message,
        })?;
    }
    Ok(cfg)
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
            (file, Some("5"), &[][..], 5),
            (None, Some("5"), &[][..], 5),
            (file, Some("5"), &["-w", "7"][..], 7),
            (file, None, &["--workers", "7"][..], 7),
            (None, Some("5"), &["-w7"][..], 7),
            (file, Some(""), &[][..], 3),
            (file, Some("  "), &[][..], 3),
            (file, Some(" 4\n"), &[][..], 4),
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
        // `None`: a switch, which takes no value and means true.
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
            Setting::SyslogAddr => Some("udp://localhost:514"),
            Setting::SyslogFacility => Some("local0"),
            Setting::User | Setting::Group => Some("www-data"),
            Setting::Umask => Some("0022"),
            Setting::RawEnv => Some("A=1"),
            Setting::ProxyProtocol
            | Setting::ReusePort
            | Setting::BatchResponses
            | Setting::PreloadApp
            | Setting::Syslog
            | Setting::DisableRedirectAccessToSyslog
            | Setting::CaptureOutput
            | Setting::Daemon => None,
            // A setting unset by default has an example, valid on the fake machine.
            _ => Some(s.describe().example.map_or("7", |e| e.trim_matches('"'))),
        };
        let mut with_flags = 0;
        for s in Setting::ALL {
            let Some(flag) = s.flag() else { continue };
            with_flags += 1;
            let (args, as_value) = match (s, value(s)) {
                (Setting::App, Some(v)) => (vec![v], Value::Arg(v.into())),
                (Setting::RawEnv, Some(v)) => (vec![flag, v], Value::Args(vec![v.into()])),
                (_, Some(v)) => (vec![flag, v], Value::Arg(v.into())),
                // The one switch that turns a setting off.
                (Setting::BatchResponses, None) => (vec![flag], Value::Bool(false)),
                (_, None) => (vec![flag], Value::Bool(true)),
            };
            let cfg = merged(None, None, &args).expect("valid");
            assert_ne!(cfg, Config::default(), "{args:?} changed nothing");
            let mut expect = Config::default();
            assign(&mut expect, s, &as_value, &Fake::MACHINE).expect("valid");
            assert_eq!(cfg, expect, "{args:?}");
        }
        assert_eq!(
            with_flags,
            Setting::ALL.len() - 1,
            "only secure_scheme_headers has no flag"
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
                &["--threads", "0"],
                "--threads: expected an integer from 1 to 1024, got 0",
            ),
            (
                Some("worker_class = \"gthread\"\n"),
                None,
                &["-k", "gevent"],
                "--worker-class: expected sync or gthread (forkhorn's worker classes; an app that waits on I/O \
                 should raise threads instead), got \"gevent\"",
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
        assert_eq!((cfg.workers, cfg.config_file.as_deref()), (4, Some(path.as_path())));

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
}
