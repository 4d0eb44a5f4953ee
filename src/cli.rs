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
    after_help = "Precedence: defaults < config file (-c) < WEB_CONCURRENCY (workers) < command line.\n\
                  Without -c no config file is read."
)]
pub struct Cli {
    /// The application: builtin:NAME (hello, echo), or module.path:callable, module:factory(args).
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
    fn empty_server_header_is_a_value() {
        let cli = Cli::try_parse_from(["forkhorn", "--server-header", ""]).expect("valid command line");
        assert_eq!(cli.server_header.as_deref(), Some(""));
    }
}
