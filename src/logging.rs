//! The error log: `log` records formatted as gunicorn's lines,
//! `[2026-11-20 10:00:00 +0000] [1234] [INFO] message`, written to stderr.

use crate::clock::Civil;
use crate::config::LogLevel;
use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write;

struct ErrorLog;

static LOGGER: ErrorLog = ErrorLog;

impl Log for ErrorLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            Level::Error => "ERROR",
            Level::Warn => "WARNING",
            Level::Info => "INFO",
            Level::Debug | Level::Trace => "DEBUG",
        };
        // One write per line, so lines from master and workers never interleave mid-line.
        let line = format!(
            "[{}] [{}] [{}] {}\n",
            Civil::now().log_stamp(),
            std::process::id(),
            level,
            record.args()
        );
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Installs the error log (once per process; later calls only change the level).
pub fn init(level: LogLevel) {
    let _ = log::set_logger(&LOGGER);
    set_level(level);
}

/// Changes the threshold.
pub fn set_level(level: LogLevel) {
    log::set_max_level(match level {
        LogLevel::Debug => LevelFilter::Debug,
        LogLevel::Info => LevelFilter::Info,
        LogLevel::Warning => LevelFilter::Warn,
        LogLevel::Error | LogLevel::Critical => LevelFilter::Error,
    });
}
