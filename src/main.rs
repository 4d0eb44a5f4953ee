//! The `forkhorn` command: arguments -> configuration -> master; errors -> exit status.

use clap::Parser;
use forkhorn::{cli::Cli, config, logging, master};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cfg = match config::load(&cli) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("forkhorn: {e}");
            return ExitCode::from(2);
        }
    };
    logging::init(cfg.loglevel);
    match master::run(cfg) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            log::error!("{e}");
            ExitCode::from(1)
        }
    }
}
