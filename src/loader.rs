//! Making the configured application: a built-in app or a Python one (through the bridge),
//! in each worker or, with `preload_app`, once in the master. Above both `app` and `python`,
//! so that neither imports the other's loading.

use crate::app::static_files::Static;
use crate::app::{AppError, Application, ForkHooks};

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

/// `preload_app`: loads the configured app in the master, before the workers are forked, and
/// returns the hooks to run around each fork; `None` when the app has nothing to preload (the
/// built-in apps are made in each worker).
pub fn preload_configured(cfg: &crate::config::Config) -> Result<Option<Box<dyn ForkHooks>>, AppError> {
    if cfg.app.starts_with("builtin:") {
        return Ok(None);
    }
    python::preload(cfg).map(Some)
}

/// Python apps through the bridge, or the reason this build cannot run them.
mod python {
    use crate::app::{AppError, Application, ForkHooks};
    use crate::config::Config;

    #[cfg(feature = "python")]
    pub(super) fn load(cfg: &Config) -> Result<Box<dyn Application>, AppError> {
        Ok(Box::new(crate::python::load(cfg)?))
    }

    #[cfg(feature = "python")]
    pub(super) fn preload(cfg: &Config) -> Result<Box<dyn ForkHooks>, AppError> {
        Ok(crate::python::preload(cfg)?)
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
