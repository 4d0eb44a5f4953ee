//! The command line (gunicorn's flags), parsed with clap. No I/O.
//!
//! The settings' flags come from the config module's table of settings ([`config::add_args`]);
//! this adds the modes (`--check-config`, `--print-config`) and the program's description.
//! Setting values are kept as the text the user typed: the config module checks them with the
//! same rules as the file's values and reports errors as `--flag: what is wrong`, on one line.

use crate::config::{self, optional_values_spelt_out, CommandLine};
use clap::{Arg, ArgAction, ArgMatches, Command};
use std::ffi::OsString;

/// `forkhorn [OPTIONS] [APP]`
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cli {
    /// The config file and the settings given: what [`config::load`] reads.
    pub settings: CommandLine,
    /// Check the configuration and exit.
    pub check_config: bool,
    /// Print the effective configuration as TOML and exit.
    pub print_config: bool,
}

impl Cli {
    /// The clap definition: `--help`, the man page and the parser.
    pub fn command() -> Command {
        let cmd = Command::new("forkhorn")
            .version(env!("CARGO_PKG_VERSION"))
            .about("A pre-fork HTTP server for WSGI-style apps")
            .after_help(
                "Precedence: defaults (with WEB_CONCURRENCY for workers, PORT for bind and FORWARDED_ALLOW_IPS for \
                 forwarded_allow_ips) < config file \
                 (-c) < GUNICORN_CMD_ARGS < FORKHORN_CMD_ARGS < command line.\n\
                 Without -c no config file is read.\n\n\
                 forkhorn bench [APP] ... measures throughput and latency against worker counts \
                 (forkhorn bench --help).\n\
                 forkhorn ctl COMMAND shows and steers a running master through its control socket \
                 (forkhorn ctl --help).",
            );
        // gunicorn spells it -v; -V is clap's, kept for those who know that one.
        let version = Arg::new("version")
            .short('v')
            .short_alias('V')
            .long("version")
            .action(ArgAction::Version)
            .help("Print the version and exit");
        config::add_args(cmd.disable_version_flag(true))
            .arg(version)
            .arg(
                Arg::new("check_config")
                    .long("check-config")
                    .action(ArgAction::SetTrue)
                    .help(
                        "Check the configuration and load the app as a worker would, then exit: status 0 if \
                         both are fine, 2 (with the error) for a bad configuration, 1 for an app that does not load",
                    ),
            )
            .arg(
                Arg::new("print_config")
                    .long("print-config")
                    .action(ArgAction::SetTrue)
                    .help("Print the effective configuration as TOML (a valid config file) and exit"),
            )
    }

    /// Parses the process's arguments; on a usage error, `--help` or `--version`, prints and
    /// exits as clap does (status 2 for an error).
    pub fn parse() -> Cli {
        Cli::from_matches(&Cli::command().get_matches_from(optional_values_spelt_out(std::env::args_os())))
    }

    /// Parses `args` (the program name first).
    pub fn try_parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        Cli::command()
            .try_get_matches_from(optional_values_spelt_out(args))
            .map(|m| Cli::from_matches(&m))
    }

    fn from_matches(matches: &ArgMatches) -> Cli {
        Cli {
            settings: CommandLine::from_matches(matches),
            check_config: matches.get_flag("check_config"),
            print_config: matches.get_flag("print_config"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// The one value the command line gave the setting `key`.
    fn one(cli: &Cli, key: &str) -> Option<String> {
        let mut values = cli.settings.given(key)?;
        assert_eq!(values.len(), 1, "{key}");
        values.pop()
    }

    fn on(cli: &Cli, key: &str) -> bool {
        one(cli, key).as_deref() == Some("true")
    }

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
        assert_eq!(cli.settings.file, Some(PathBuf::from("f.toml")));
        assert_eq!(cli.settings.given("bind"), Some(vec!["a:1".into(), "b:2".into()]));
        assert_eq!(one(&cli, "workers").as_deref(), Some("3"));
        assert_eq!(one(&cli, "timeout").as_deref(), Some("4"));
        assert_eq!(one(&cli, "keepalive").as_deref(), Some("5"));
        assert_eq!(one(&cli, "limit_request_field_size").as_deref(), Some("6"));
        assert_eq!(one(&cli, "loglevel").as_deref(), Some("debug"));
        assert!(cli.check_config && cli.print_config);
        assert_eq!(one(&cli, "app").as_deref(), Some("pkg:app"));
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
            "--no-batch-responses",
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
        assert!(on(&cli, "daemon") && on(&cli, "preload_app") && on(&cli, "reuse_port"));
        // gunicorn's `--proxy-protocol [MODE]`: alone, it is "auto".
        assert_eq!(one(&cli, "proxy_protocol").as_deref(), Some("auto"));
        assert!(on(&cli, "syslog") && on(&cli, "capture_output") && on(&cli, "disable_redirect_access_to_syslog"));
        assert_eq!(one(&cli, "batch_responses").as_deref(), Some("false"));
        assert_eq!(one(&cli, "pidfile").as_deref(), Some("/run/f.pid"));
        assert_eq!(
            (one(&cli, "user").as_deref(), one(&cli, "group").as_deref()),
            (Some("www-data"), Some("33"))
        );
        assert_eq!(
            (one(&cli, "umask").as_deref(), one(&cli, "proc_name").as_deref()),
            (Some("0022"), Some("shop"))
        );
        assert_eq!(cli.settings.given("raw_env"), Some(vec!["A=1".into(), "B=2=3".into()]));
        assert_eq!(one(&cli, "errorlog").as_deref(), Some("/var/log/f.log"));
        assert_eq!(one(&cli, "proxy_allow_ips").as_deref(), Some("*"));
    }

    #[test]
    fn absent_settings_are_not_given() {
        let cli = Cli::try_parse_from(["forkhorn"]).expect("valid command line");
        assert_eq!(cli, Cli::default());
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
        assert_eq!(one(&cli, "threads").as_deref(), Some("3"));
        assert_eq!(one(&cli, "worker_class").as_deref(), Some("gthread"));
        assert_eq!(one(&cli, "workers").as_deref(), Some("6"));
        assert!(on(&cli, "daemon"));
        assert_eq!(
            cli.settings.given("bind"),
            Some(vec!["a:1".into(), "b:2".into()]),
            "a repeatable flag keeps every value"
        );
    }

    #[test]
    fn switches_take_no_value() {
        assert!(Cli::try_parse_from(["forkhorn", "--daemon=true"]).is_err());
        let cli = Cli::try_parse_from(["forkhorn", "--preload", "false"]).expect("valid command line");
        assert!(on(&cli, "preload_app"));
        assert_eq!(
            one(&cli, "app").as_deref(),
            Some("false"),
            "the word after a switch is the APP"
        );
    }

    #[test]
    fn empty_server_header_is_a_value() {
        let cli = Cli::try_parse_from(["forkhorn", "--server-header", ""]).expect("valid command line");
        assert_eq!(one(&cli, "server_header").as_deref(), Some(""));
    }

    #[test]
    fn secure_scheme_headers_has_no_flag() {
        let err = Cli::try_parse_from(["forkhorn", "--secure-scheme-headers", "X=y"]).expect_err("no such flag");
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
    }
}
