//! The `forkhorn` command: arguments -> configuration -> master; errors -> exit status.

use forkhorn::unstable;
use forkhorn::{cli::Cli, config};
use std::io::Write;
use std::process::ExitCode;

/// Exit status for a configuration that cannot be used (clap uses it for usage errors too).
const EXIT_CONFIG: u8 = 2;

/// Exit status of `--check-config` when the application does not load (gunicorn's).
const EXIT_APP: u8 = 1;

fn main() -> ExitCode {
    // `forkhorn bench ...` is a command of its own with its own flags (the forkhorn-bench
    // crate); its sweep holds a socket per connection, as the server does.
    if std::env::args_os().nth(1).is_some_and(|a| a == "bench") {
        unstable::raise_nofile_limit();
        return forkhorn_bench::main(std::env::args_os().skip(1));
    }
    // `forkhorn ctl ...`: the control socket's client, with flags of its own.
    if std::env::args_os().nth(1).is_some_and(|a| a == "ctl") {
        return unstable::ctl_main(std::env::args_os().skip(1));
    }
    // The evaluator of Python config files: this binary re-executed by the configuration loader.
    #[cfg(feature = "python")]
    if std::env::args_os().nth(1).is_some_and(|a| a == unstable::EVALUATE_ARG) {
        return unstable::evaluator_main(std::env::args_os().skip(2));
    }
    if let Ok(program) = std::env::current_exe() {
        unstable::set_python_evaluator(program);
    }
    let mut cli = Cli::parse();
    let default_file = cli.settings.file.is_none().then(config::default_file).flatten();
    if default_file.is_some() {
        cli.settings.file = default_file.clone();
    }
    let (cfg, warnings) = match config::load_with_warnings(&cli.settings) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("forkhorn: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    // Both modes end before anything is bound; --check-config loads the app first.
    if cli.print_config || cli.check_config {
        for warning in warnings.iter().chain(&cfg.warnings()) {
            eprintln!("forkhorn: warning: {warning}");
        }
    }
    if cli.print_config {
        if let Err(e) = std::io::stdout().lock().write_all(cfg.to_toml().as_bytes()) {
            eprintln!("forkhorn: cannot write the configuration: {e}");
            return ExitCode::FAILURE;
        }
        if !cli.check_config {
            return ExitCode::SUCCESS;
        }
    }
    if cli.check_config {
        // The import's traceback, when Python gives one, goes to the error log, on stderr.
        unstable::init_logging(cfg.loglevel);
        return match unstable::check_app(&cfg) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("forkhorn: {e}");
                ExitCode::from(EXIT_APP)
            }
        };
    }
    // service: detach before anything is opened or bound (never under systemd: see README).
    if cfg.daemon {
        if let Err(e) = unstable::detach() {
            eprintln!("forkhorn: {e}");
            return ExitCode::FAILURE;
        }
    }
    unstable::init_logging(cfg.loglevel);
    if let Some(path) = default_file {
        log::info!(
            "Reading {} (no -c given: gunicorn's default config file)",
            path.display()
        );
    }
    // Names of a Python config file that forkhorn does not use; then gunicorn settings accepted
    // without effect, and an async worker class served threaded.
    for warning in warnings.iter().chain(&cfg.warnings()) {
        log::warn!("{warning}");
    }
    // HUP re-reads the same sources: the config file (-c, or the ./gunicorn.conf.py found at
    // startup), the environment and these flags.
    match unstable::run(cfg, &|| config::load(&cli.settings)) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            log::error!("{e}");
            ExitCode::from(1)
        }
    }
}
