//! An application that shows what the operations settings did to the worker it runs in, for the
//! operations tests: `/print` writes a line to stdout and one to stderr (`capture_output`),
//! `/env/KEY` answers the process environment's `KEY` (`raw_env`), `/cwd` the working directory
//! (`chdir`), `/id` the real/effective/saved user ids (`user`). Anything else: `ops_app`.
//!
//! It takes forkhorn's own command line and config file: `ops_app [FLAGS]`.

use forkhorn::{AppError, Body, Environ, StartResponse};
use std::process::ExitCode;

fn app(environ: &mut Environ, sr: &mut StartResponse<'_>) -> Result<Body, AppError> {
    let path = environ.get("PATH_INFO").unwrap_or("/").to_owned();
    let text = if path == "/print" {
        println!("ops_app stdout line");
        eprintln!("ops_app stderr line");
        "printed".to_owned()
    } else if let Some(key) = path.strip_prefix("/env/") {
        std::env::var(key).unwrap_or_else(|_| "(unset)".to_owned())
    } else if path == "/cwd" {
        std::env::current_dir()?.display().to_string()
    } else if path == "/id" {
        let u = nix::unistd::getresuid()?;
        format!("{} {} {}", u.real, u.effective, u.saved)
    } else {
        "ops_app".to_owned()
    };
    sr.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
    Ok(Body::Bytes(text.into_bytes()))
}

fn main() -> ExitCode {
    let cli = forkhorn::cli::Cli::parse();
    let cfg = match forkhorn::config::load(&cli.settings) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("ops_app: {e}");
            return ExitCode::from(2);
        }
    };
    match forkhorn::serve(cfg, || Ok(app)) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("ops_app: {e}");
            ExitCode::FAILURE
        }
    }
}
