//! [`ConfigError`]: why a configuration cannot be used, as the one line a user reads.
//!
//! Every message names where the bad input came from ([`Origin`]) so the user can go straight to
//! it; values are quoted with escapes so that a message never spans more than one line.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Where a setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A key in the config file.
    File {
        /// The file, as given with `-c`.
        path: PathBuf,
        /// 1-based line of the value (of the list element, for a bad element of a list).
        line: usize,
        /// The key as written.
        key: String,
    },
    /// A module-level name in a Python config file.
    Python {
        /// The file, as given with `-c` (or `gunicorn.conf.py`).
        path: PathBuf,
        /// 1-based line of the name's last assignment, when it was found.
        line: Option<usize>,
        /// The name.
        name: String,
    },
    /// A command-line flag such as `--workers`, or `APP` for the positional argument.
    Flag(&'static str),
    /// An environment variable.
    Env(&'static str),
    /// A flag in an environment variable that holds flags (`GUNICORN_CMD_ARGS`).
    EnvFlag {
        /// The variable.
        var: &'static str,
        /// The flag, as for [`Origin::Flag`].
        flag: &'static str,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line, key } => write!(f, "{}:{line}: key '{}'", show_path(path), one_line(key)),
            Origin::Python { path, line, name } => write!(f, "{}: name '{}'", at_line(path, *line), one_line(name)),
            Origin::Flag(flag) => f.write_str(flag),
            Origin::Env(var) => f.write_str(var),
            Origin::EnvFlag { var, flag } => write!(f, "{var}: {flag}"),
        }
    }
}

/// A configuration that cannot be used. `Display` is the whole message, one line, without the
/// program name (main adds `forkhorn: `).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TLS files or settings cannot be used (the message names the setting and the file).
    #[error("{0}")]
    Tls(#[from] crate::tls::TlsError),
    /// No app is given where the configuration names one forkhorn cannot load (`paste`
    /// without `wsgi_app` or APP: the built-in page would be a silent wrong app).
    #[error("no application given: {0}")]
    FindApp(String),
    /// The config file could not be read.
    #[error("{}: cannot read config file: {source}", show_path(path))]
    ReadFile {
        /// The file, as given with `-c`.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The config file is not valid TOML.
    #[error("{}: invalid TOML: {}", at_line(path, *line), one_line(message))]
    Syntax {
        /// The file, as given with `-c`.
        path: PathBuf,
        /// 1-based line of the fault, when the parser knows it.
        line: Option<usize>,
        /// The parser's description.
        message: String,
    },
    /// The Python config file raised, or is not valid Python.
    #[error("{}: cannot run the Python config file: {}", at_line(path, *line), one_line(message))]
    RunPython {
        /// The file.
        path: PathBuf,
        /// 1-based line where it raised, when the traceback reaches the file.
        line: Option<usize>,
        /// The traceback's last line.
        message: String,
    },
    /// The Python config file could not be run at all: no Python support, or no interpreter.
    #[error("{}: cannot evaluate the Python config file: {}", show_path(path), one_line(reason))]
    EvaluatePython {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The config file sets something forkhorn does not know.
    #[error("{at}: unknown setting{}", suggestion.map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default())]
    UnknownKey {
        /// The file, line and key.
        at: Origin,
        /// The valid setting nearest to the key, if one is near enough to be a likely typo.
        suggestion: Option<&'static str>,
    },
    /// An environment variable that holds flags (`GUNICORN_CMD_ARGS`) does not parse as flags.
    #[error("{var}: {}", one_line(message))]
    ParseEnvArgs {
        /// The variable.
        var: &'static str,
        /// What is wrong, e.g. `unexpected argument '--frobnicate' found`.
        message: String,
    },
    /// A setting's value is of the wrong type or out of range.
    #[error("{at}: {problem}")]
    InvalidValue {
        /// The file line and key, the flag, or the environment variable.
        at: Origin,
        /// What is wrong, e.g. `expected a positive integer, got "two"`.
        problem: String,
    },
}

/// `path:line`, or just `path` when the line is unknown.
fn at_line(path: &Path, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{}:{line}", show_path(path)),
        None => show_path(path),
    }
}

/// A path as the user typed it, unless it holds control characters that would break the line.
fn show_path(path: &Path) -> String {
    one_line(&path.display().to_string())
}

/// Text as is, or Debug-escaped (quoted) if it holds a control character such as a newline.
fn one_line(text: &str) -> String {
    if text.chars().any(char::is_control) {
        format!("{text:?}")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(line: usize, key: &str) -> Origin {
        Origin::File {
            path: PathBuf::from("/etc/forkhorn.toml"),
            line,
            key: key.into(),
        }
    }

    #[test]
    fn messages() {
        let cases: [(ConfigError, &str); 7] = [
            (
                ConfigError::UnknownKey {
                    at: file(3, "workres"),
                    suggestion: Some("workers"),
                },
                "/etc/forkhorn.toml:3: key 'workres': unknown setting (did you mean 'workers'?)",
            ),
            (
                ConfigError::UnknownKey {
                    at: file(1, "zzz"),
                    suggestion: None,
                },
                "/etc/forkhorn.toml:1: key 'zzz': unknown setting",
            ),
            (
                ConfigError::InvalidValue {
                    at: file(2, "workers"),
                    problem: "expected a positive integer, got \"two\"".into(),
                },
                "/etc/forkhorn.toml:2: key 'workers': expected a positive integer, got \"two\"",
            ),
            (
                ConfigError::InvalidValue {
                    at: Origin::Flag("--workers"),
                    problem: "expected a positive integer, got 0".into(),
                },
                "--workers: expected a positive integer, got 0",
            ),
            (
                ConfigError::InvalidValue {
                    at: Origin::Env("WEB_CONCURRENCY"),
                    problem: "expected a positive integer, got \"x\"".into(),
                },
                "WEB_CONCURRENCY: expected a positive integer, got \"x\"",
            ),
            (
                ConfigError::Syntax {
                    path: "f.toml".into(),
                    line: Some(4),
                    message: "duplicate key 'workers'".into(),
                },
                "f.toml:4: invalid TOML: duplicate key 'workers'",
            ),
            (
                ConfigError::ReadFile {
                    path: "no\nfile".into(),
                    source: io::Error::from(io::ErrorKind::NotFound),
                },
                "\"no\\nfile\": cannot read config file: entity not found",
            ),
        ];
        for (err, want) in cases {
            assert_eq!(err.to_string(), want);
        }
    }
}
