//! The flags of `forkhorn bench`, parsed with clap. No I/O; values stay text until
//! [`super::settings`] judges them, so the file and the command line share one set of rules.

use clap::Parser;
use std::path::PathBuf;

/// `forkhorn bench [OPTIONS] [APP]`
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "forkhorn bench",
    bin_name = "forkhorn bench",
    about = "Sweep worker and connection counts: requests/s, latency, CPU and memory per setting",
    after_help = "Precedence: defaults < the [bench] table of the file given with -c < command line.\n\
                  Results: a table on stdout; with --out DIR also results.csv, results.json and plot.svg.\n\
                  --against \"CMD\" runs CMD through sh with {port} and {workers} replaced, e.g.\n\
                  --against \"gunicorn -w {workers} -b 127.0.0.1:{port} app:app\"."
)]
pub struct BenchCli {
    /// The app forkhorn serves, as for `forkhorn APP`. [default: builtin:hello]
    #[arg(value_name = "APP")]
    pub app: Option<String>,
    /// A TOML file whose [bench] table sets any of these options (keys use underscores).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Worker counts to sweep, comma-separated. [default: 1,2,4,8]
    #[arg(short = 'w', long = "workers", value_name = "LIST")]
    pub workers: Option<String>,
    /// Concurrent connections, comma-separated; one plotted line each. [default: 64,256]
    #[arg(long = "connections", value_name = "LIST")]
    pub connections: Option<String>,
    /// Measured time per point: 10s, 500ms, 1m. [default: 10s]
    #[arg(short = 'd', long = "duration", value_name = "TIME")]
    pub duration: Option<String>,
    /// Unmeasured load before each point. [default: 2s]
    #[arg(long = "warmup", value_name = "TIME")]
    pub warmup: Option<String>,
    /// keep-alive (requests reuse connections) or new-connection (one request per connection). [default: keep-alive]
    #[arg(long = "mode", value_name = "MODE")]
    pub mode: Option<String>,
    /// Load generator threads. [default: the number of CPUs]
    #[arg(long = "threads", value_name = "INT")]
    pub threads: Option<String>,
    /// The request target every request asks for. [default: /]
    #[arg(long = "path", value_name = "PATH")]
    pub path: Option<String>,
    /// A request with no complete response after this long counts as a timeout error. [default: 5s]
    #[arg(long = "timeout", value_name = "TIME")]
    pub timeout: Option<String>,
    /// Load generators, comma-separated: builtin, wrk (measures each point with each). [default: builtin]
    #[arg(long = "engine", value_name = "LIST")]
    pub engine: Option<String>,
    /// The wrk program for --engine wrk. [default: wrk]
    #[arg(long = "wrk", value_name = "PROGRAM")]
    pub wrk: Option<String>,
    /// Another server to measure the same way, repeatable; see below.
    #[arg(long = "against", value_name = "CMD")]
    pub against: Vec<String>,
    /// An extra argument for the forkhorn server, repeatable (e.g. --server-arg=--keep-alive=5).
    #[arg(long = "server-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub server_arg: Vec<String>,
    /// Write results.csv, results.json and plot.svg into this directory (created if missing).
    #[arg(long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        BenchCli::command().debug_assert();
    }

    #[test]
    fn acceptance_command_line() {
        let cli = BenchCli::try_parse_from([
            "bench",
            "builtin:hello",
            "--workers",
            "1,2",
            "--connections",
            "32",
            "--duration",
            "3s",
            "--out",
            "/tmp/x",
            "--server-arg",
            "--keep-alive=5",
            "--against",
            "gunicorn -w {workers} -b 127.0.0.1:{port} app:app",
        ])
        .expect("valid command line");
        assert_eq!(cli.app.as_deref(), Some("builtin:hello"));
        assert_eq!(cli.workers.as_deref(), Some("1,2"));
        assert_eq!(cli.connections.as_deref(), Some("32"));
        assert_eq!(cli.duration.as_deref(), Some("3s"));
        assert_eq!(cli.out, Some(PathBuf::from("/tmp/x")));
        assert_eq!(cli.server_arg, ["--keep-alive=5"]);
        assert_eq!(cli.against.len(), 1);
    }
}
