//! Reading and merging the configuration sources (skeleton).

use super::{BindAddr, Config};
use crate::cli::Cli;

/// A configuration that cannot be used; the message names the source, key and problem.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value is invalid.
    #[error("{source_name}: key `{key}`: {problem}")]
    Invalid {
        /// The file, `WEB_CONCURRENCY` or the flag the value came from.
        source_name: String,
        /// The setting.
        key: String,
        /// What is wrong.
        problem: String,
    },
}

/// Builds the effective configuration from defaults and the command line.
pub fn load(cli: &Cli) -> Result<Config, ConfigError> {
    let mut cfg = Config::default();
    if let Some(app) = &cli.app {
        cfg.app = app.clone();
    }
    if let Some(w) = cli.workers {
        cfg.workers = w;
    }
    if !cli.bind.is_empty() {
        cfg.bind = cli
            .bind
            .iter()
            .map(|b| {
                b.parse().map(BindAddr::Tcp).map_err(|e| ConfigError::Invalid {
                    source_name: "--bind".into(),
                    key: "bind".into(),
                    problem: format!("{b:?}: {e}"),
                })
            })
            .collect::<Result<_, _>>()?;
    }
    Ok(cfg)
}
