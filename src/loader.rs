//! Making the configured application: a built-in app or a Python one (through the bridge),
//! in each worker or, with `preload_app`, once in the master; and the server hooks the `hooks`
//! setting names, in the master. Above `app`, `hooks` and `python`, so that none of them
//! imports the others' loading.

use crate::app::static_files::Static;
use crate::app::{AppError, Application, ForkHooks};
use crate::hooks::ServerHooks;
use std::path::PathBuf;

/// Why `--check-config` found the application unusable.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The application's directory (`chdir`) cannot be entered.
    #[error("cannot change directory to {}: {source}", path.display())]
    ChangeDirectory {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The application did not load: the error a worker would log before it exits.
    #[error("cannot load the application: {0}")]
    LoadApp(AppError),
    /// The server hooks did not load: the error the master would log before it exits.
    #[error("{0}")]
    LoadHooks(AppError),
}

/// The loader the `forkhorn` command uses: the app the `app` setting names (a Python app when
/// the spec is not `builtin:NAME`).
pub fn load_configured(cfg: &crate::config::Config) -> Result<Box<dyn Application>, AppError> {
    if cfg.app == "builtin:static" {
        return Ok(Box::new(Static::new(cfg.static_root.as_deref())?));
    }
    if cfg.app.starts_with("builtin:") {
        return crate::app::load(&cfg.app).map_err(Into::into);
    }
    python::load(cfg)
}

/// `--check-config`: loads the configured app as a worker would, then drops it. Like a worker,
/// it sets `raw_env` and enters `chdir`; a Python app is imported with the configured
/// `pythonpath` and virtualenv, and a factory (`module:create_app()`) is called. It runs in
/// this process, so a Python app leaves CPython started here: only a process that exits next
/// may call it (a master that forks workers must not have an interpreter of its own).
/// The server hooks (`hooks`) are loaded first, as the master loads them, none called.
pub fn check_configured(cfg: &crate::config::Config) -> Result<(), CheckError> {
    // No thread of this process yet (the hooks and the app, loaded below, may start some); set
    // before either starts the interpreter, which copies the environment.
    crate::sys::process::set_env(&cfg.raw_env);
    load_hooks(cfg).map(drop).map_err(CheckError::LoadHooks)?;
    crate::sys::process::start_dir(); // remembered before it is left
    if let Some(dir) = &cfg.chdir {
        std::env::set_current_dir(dir).map_err(|source| CheckError::ChangeDirectory {
            path: dir.clone(),
            source,
        })?;
    }
    load_configured(cfg).map(drop).map_err(CheckError::LoadApp)
}

/// `preload_app`: loads the configured app in the master, before the workers are forked, and
/// returns the hooks to run around each fork; `None` when the app has nothing to preload (the
/// built-in apps are made in each worker).
pub fn preload_configured(cfg: &crate::config::Config) -> Result<Option<Box<dyn ForkHooks>>, AppError> {
    if cfg.app.starts_with("builtin:") {
        return Ok(None);
    }
    python::preload(cfg).map(Some)
}

/// The server hooks the `hooks` setting names (a `gunicorn.conf.py` that defines hooks names
/// itself), loaded in the master; `None` without the setting. The master's interpreter is
/// started for them if `preload_app` did not start it.
pub fn load_hooks(cfg: &crate::config::Config) -> Result<Option<Box<dyn ServerHooks>>, AppError> {
    match &cfg.hooks {
        Some(location) => python::load_hooks(cfg, location).map(Some),
        None => Ok(None),
    }
}

/// Python apps through the bridge, or the reason this build cannot run them.
mod python {
    use crate::app::{AppError, Application, ForkHooks};
    use crate::config::Config;
    use crate::hooks::ServerHooks;

    #[cfg(feature = "python")]
    pub(super) fn load(cfg: &Config) -> Result<Box<dyn Application>, AppError> {
        Ok(Box::new(crate::python::load(cfg)?))
    }

    #[cfg(feature = "python")]
    pub(super) fn preload(cfg: &Config) -> Result<Box<dyn ForkHooks>, AppError> {
        Ok(crate::python::preload(cfg)?)
    }

    #[cfg(feature = "python")]
    pub(super) fn load_hooks(cfg: &Config, location: &str) -> Result<Box<dyn ServerHooks>, AppError> {
        Ok(Box::new(crate::python::load_hooks(cfg, location)?))
    }

    #[cfg(not(feature = "python"))]
    pub(super) fn load_hooks(_: &Config, location: &str) -> Result<Box<dyn ServerHooks>, AppError> {
        Err(
            format!("server hooks ({location}) are Python, but this forkhorn was built without the \"python\" feature")
                .into(),
        )
    }

    #[cfg(not(feature = "python"))]
    pub(super) fn load(cfg: &Config) -> Result<Box<dyn Application>, AppError> {
        Err(crate::app::SpecError::PythonUnavailable(cfg.app.clone()).into())
    }

    #[cfg(not(feature = "python"))]
    pub(super) fn preload(cfg: &Config) -> Result<Box<dyn ForkHooks>, AppError> {
        Err(crate::app::SpecError::PythonUnavailable(cfg.app.clone()).into())
    }
}
