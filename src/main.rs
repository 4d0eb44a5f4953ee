//! The `forkhorn` command: arguments -> configuration -> master; errors -> exit status.

use clap::Parser;
use forkhorn::{cli::Cli, config, logging, master};
use std::io::Write;
use std::process::ExitCode;

/// Exit status for a configuration that cannot be used (clap uses it for usage errors too).
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cfg = match config::load(&cli) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("forkhorn: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    // Both modes end before logging starts or anything is bound.
    if cli.print_config {
        if let Err(e) = std::io::stdout().lock().write_all(cfg.to_toml().as_bytes()) {
            eprintln!("forkhorn: cannot write the configuration: {e}");
            return ExitCode::FAILURE;
        }
        return ExitCode::SUCCESS;
    }
    if cli.check_config {
        return ExitCode::SUCCESS;
    }
    logging::init(cfg.loglevel);
    // HUP re-reads the same sources: the file named by -c, WEB_CONCURRENCY and these flags.
    match master::run(cfg, &|| config::load(&cli)) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            log::error!("{e}");
            ExitCode::from(1)
        }
    }
}
