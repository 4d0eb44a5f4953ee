//! An application whose workers boot slowly and can fail to boot: a demonstration of how
//! forkhorn's master supervises them (rolling reloads wait for readiness; a crash-looping boot
//! is retried with exponential backoff instead of a fork storm).
//!
//!     cargo run --example supervised -- 127.0.0.1:8000 2 2.0 /tmp/fail-boot
//!
//! Arguments: address, workers, seconds each worker takes to boot, and a path: while a file
//! exists there, workers fail to boot. `kill -HUP` restarts the workers by rolling replacement.

use forkhorn::config::BindAddr;
use forkhorn::{AppError, Body, Config, Environ, StartResponse};
use std::path::PathBuf;
use std::time::Duration;

fn hello(_: &mut Environ, sr: &mut StartResponse<'_>) -> Result<Body, AppError> {
    sr.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
    Ok(Body::Static(b"supervised\n"))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || -> ! {
        eprintln!("usage: supervised ADDR WORKERS BOOT_SECONDS FAIL_MARKER");
        std::process::exit(2)
    };
    let [addr, workers, boot, marker] = args.as_slice() else {
        usage()
    };
    let cfg = Config {
        bind: vec![BindAddr::Tcp(addr.parse().unwrap_or_else(|_| usage()))],
        workers: workers.parse().unwrap_or_else(|_| usage()),
        ..Config::default()
    };
    let boot = Duration::from_secs_f64(boot.parse().unwrap_or_else(|_| usage()));
    let marker = PathBuf::from(marker);
    let make_app = move || {
        std::thread::sleep(boot);
        if marker.exists() {
            return Err(format!("refusing to boot while {} exists", marker.display()).into());
        }
        Ok(hello)
    };
    match forkhorn::serve(cfg, make_app) {
        Ok(status) => std::process::exit(status),
        Err(e) => {
            eprintln!("supervised: {e}");
            std::process::exit(1);
        }
    }
}
