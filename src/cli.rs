//! The command line (gunicorn-compatible flags), parsed with clap. No I/O.
//!
//! OWNER NOTE (skeleton): minimal; the config helper completes it.

use clap::Parser;
use std::path::PathBuf;

/// `forkhorn [OPTIONS] [APP]`
#[derive(Debug, Clone, Default, Parser)]
#[command(name = "forkhorn", version, about = "A pre-fork HTTP server for WSGI-style apps")]
pub struct Cli {
    /// The application: builtin:hello, builtin:echo, or module.path:callable.
    pub app: Option<String>,
    /// The TOML config file.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on (repeatable): HOST:PORT, [V6]:PORT, unix:PATH, fd://N.
    #[arg(short = 'b', long = "bind", value_name = "ADDR")]
    pub bind: Vec<String>,
    /// Number of worker processes.
    #[arg(short = 'w', long = "workers", value_name = "N")]
    pub workers: Option<usize>,
}
