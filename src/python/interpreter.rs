//! Starting CPython inside a forkhorn process: PyConfig (the virtualenv's interpreter as program
//! name, Python's signal handlers off), the working directory and `sys.path`, after checking
//! that this process's user can read the standard library at all.
//!
//! Runs once per process: in each worker after fork, or in the master when it preloads the app
//! (the workers then inherit the initialised interpreter).

use crate::config::Config;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyList;
use std::ffi::{CStr, CString};
use std::io::ErrorKind;
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Why the interpreter could not be started.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The `virtualenv` setting (or `$VIRTUAL_ENV`) names no usable virtualenv.
    #[error("cannot use virtualenv {path}: no {path}/bin/python")]
    FindVirtualenv {
        /// The directory given.
        path: PathBuf,
    },
    /// `chdir` failed.
    #[error("cannot change directory to {path}: {source}")]
    ChangeDirectory {
        /// The directory given.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The user the process runs as cannot read the interpreter's files (a worker dropped to
    /// `user = "nobody"` while the interpreter lives under a private home). Said in one line
    /// here, because CPython's own report is a page about its path configuration.
    #[error(
        "cannot start Python: {path} is not readable by user {user} (uid {uid}){}",
        blocked_note(.path, .blocked_at)
    )]
    ReadInterpreter {
        /// The directory CPython needs (its standard library, or the virtualenv).
        path: PathBuf,
        /// The user's name (its uid if it has none).
        user: String,
        /// The effective uid.
        uid: u32,
        /// The directory that refuses the user: `path` itself or one above it.
        blocked_at: PathBuf,
    },
    /// A path or argument holds a NUL byte, which C strings cannot carry.
    #[error("cannot pass {0:?} to Python: it contains a NUL byte")]
    PassString(String),
    /// CPython refused to start.
    #[error("cannot initialise Python: {0}")]
    Initialize(String),
    /// Python's SIGINT handler could not be taken out again.
    #[error("cannot reset Python's SIGINT handler: {0}")]
    ResetSignals(PyErr),
    /// `sys.path` could not be extended.
    #[error("cannot set up sys.path: {0}")]
    SetPath(PyErr),
}

/// The parts of the configuration that shape the interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    /// The virtualenv whose packages the app sees (the setting, else `$VIRTUAL_ENV`).
    pub virtualenv: Option<PathBuf>,
    /// Directory to change to first.
    pub chdir: Option<PathBuf>,
    /// Directories put first on `sys.path`, in order.
    pub pythonpath: Vec<PathBuf>,
    /// Whether imports may write `__pycache__` (not under `reload`).
    pub write_bytecode: bool,
}

impl Setup {
    /// The setup `cfg` asks for, with [`ambient_virtualenv`] as the virtualenv when the
    /// setting is unset.
    pub fn from_config(cfg: &Config) -> Setup {
        Setup {
            virtualenv: cfg.virtualenv.clone().or_else(|| {
                let path = std::env::var_os("PATH").unwrap_or_default();
                ambient_virtualenv(std::env::var_os("VIRTUAL_ENV"), &path, |p| p.exists())
            }),
            chdir: cfg.chdir.clone(),
            pythonpath: cfg.pythonpath.clone(),
            // A module rewritten within the same second at the same size (v1 -> v2) matches the
            // cache's mtime and size check; under `reload` a stale cache would undo the reload.
            write_bytecode: !cfg.reload,
        }
    }
}

/// The virtualenv forkhorn runs in when none is configured: `$VIRTUAL_ENV` (an activated
/// one), else the first directory of `path` (`$PATH`) with a Python that belongs to a
/// virtualenv (`DIR/python3` or `DIR/python`, and `DIR/../pyvenv.cfg`). gunicorn, a script of
/// the virtualenv's own interpreter, is in it whenever its command is found through PATH
/// (`ENV PATH=/venv/bin:$PATH` in a Dockerfile) or by its path (`/srv/app/venv/bin/gunicorn`
/// in a unit, where the unit's PATH is then what decides here).
pub fn ambient_virtualenv(
    virtual_env: Option<std::ffi::OsString>,
    path: &std::ffi::OsStr,
    exists: impl Fn(&Path) -> bool,
) -> Option<PathBuf> {
    if let Some(v) = virtual_env.filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(v));
    }
    std::env::split_paths(path)
        .filter(|dir| dir.is_absolute())
        .find(|dir| {
            (exists(&dir.join("python3")) || exists(&dir.join("python")))
                && dir.parent().is_some_and(|root| exists(&root.join("pyvenv.cfg")))
        })
        .and_then(|dir| dir.parent().map(Path::to_path_buf))
}

/// Whether the interpreter runs in this process.
pub fn started() -> bool {
    // SAFETY: Py_IsInitialized only reads a flag.
    unsafe { ffi::Py_IsInitialized() != 0 }
}

/// Starts the interpreter in this process if it is not running yet, then releases the GIL:
/// callers attach with `Python::attach` for each piece of Python work.
pub fn ensure_started(setup: &Setup) -> Result<(), InitError> {
    if started() {
        return Ok(());
    }
    // Where forkhorn started: it stays on sys.path after chdir, as in gunicorn, whose loader
    // puts the starting directory there before it enters `chdir`.
    let started_in = crate::sys::process::start_dir().map(Path::to_path_buf);
    // A relative `chdir` is relative to where forkhorn started: a worker has entered it already.
    let chdir = setup.chdir.as_ref().map(|dir| match &started_in {
        Some(start) => start.join(dir),
        None => dir.clone(),
    });
    if let Some(dir) = &chdir {
        std::env::set_current_dir(dir).map_err(|source| InitError::ChangeDirectory {
            path: dir.clone(),
            source,
        })?;
    }
    let program = program_name(setup.virtualenv.as_deref())?;
    if let Some(stdlib) = stdlib_dir(&program, setup.virtualenv.as_deref()) {
        check_readable(&stdlib)?;
    }
    start(&program, setup.write_bytecode)?;
    Python::attach(|py| {
        keep_default_sigint(py).map_err(InitError::ResetSignals)?;
        extend_sys_path(py, &setup.pythonpath, started_in).map_err(InitError::SetPath)
    })
}

/// Importing `signal` makes CPython catch SIGINT (to raise KeyboardInterrupt) even with its
/// signal handlers off. Importing it now and putting SIGINT back to its default means a later
/// import by the app changes nothing: SIGINT stays forkhorn's (fast stop).
fn keep_default_sigint(py: Python<'_>) -> PyResult<()> {
    let signal = py.import("signal")?;
    signal.call_method1("signal", (signal.getattr("SIGINT")?, signal.getattr("SIG_DFL")?))?;
    Ok(())
}

/// The interpreter CPython should take itself to be: it finds its prefix, standard library and
/// (through `pyvenv.cfg`) a virtualenv's site-packages from this path.
fn program_name(virtualenv: Option<&Path>) -> Result<PathBuf, InitError> {
    match virtualenv {
        Some(venv) => {
            let venv = std::path::absolute(venv).unwrap_or_else(|_| venv.to_path_buf());
            let python = venv.join("bin").join("python");
            match python.try_exists() {
                Ok(true) => Ok(python),
                // A virtualenv's python links to its base interpreter, which is what lies
                // where the user may not go (a pyenv in a private home): name that.
                Err(e) if e.kind() == ErrorKind::PermissionDenied => Err(unreadable(&link_target(&python))),
                _ => Err(InitError::FindVirtualenv { path: venv }),
            }
        }
        // The interpreter of the build: the libpython forkhorn is linked against belongs to it.
        None => Ok(PathBuf::from(env!("FORKHORN_PYTHON"))),
    }
}

/// Where CPython will look for its standard library, found as it does: `lib/pythonX.Y` beside
/// the directory of the interpreter (for a virtualenv, of the base interpreter its `pyvenv.cfg`
/// names as `home`). `None` if a virtualenv's `pyvenv.cfg` cannot be read: CPython then says why.
fn stdlib_dir(program: &Path, virtualenv: Option<&Path>) -> Option<PathBuf> {
    let bin_dir = match virtualenv {
        Some(venv) => {
            let cfg = std::fs::read_to_string(venv.join("pyvenv.cfg")).ok()?;
            cfg.lines().find_map(|line| {
                let (key, value) = line.split_once('=')?;
                (key.trim() == "home").then(|| PathBuf::from(value.trim()))
            })?
        }
        None => program.parent()?.to_path_buf(),
    };
    Some(
        bin_dir
            .parent()?
            .join("lib")
            .join(concat!("python", env!("FORKHORN_PYTHON_VERSION"))),
    )
}

/// Fails with [`InitError::ReadInterpreter`] if this process may not read `stdlib` (opening
/// `os.py`, the file CPython looks for there). A missing standard library is left to CPython.
fn check_readable(stdlib: &Path) -> Result<(), InitError> {
    match std::fs::File::open(stdlib.join("os.py")) {
        Err(e) if e.kind() == ErrorKind::PermissionDenied => Err(unreadable(stdlib)),
        _ => Ok(()),
    }
}

/// Where `path` leads through its chain of symbolic links, as far as this process may follow
/// it (at most 40 links, the kernel's own limit).
fn link_target(path: &Path) -> PathBuf {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::read_link(&current) {
            // A relative target is relative to the link's directory.
            Ok(target) => current = current.parent().map_or_else(|| target.clone(), |dir| dir.join(&target)),
            Err(_) => break,
        }
    }
    current
}

/// The error for `path` being unreadable by this process's effective user, naming the first
/// directory on the way that refuses it.
fn unreadable(path: &Path) -> InitError {
    let uid = nix::unistd::geteuid();
    let user = match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => user.name,
        _ => uid.to_string(),
    };
    // A path that cannot even be looked up lies in a directory the user may not search.
    let ancestors: Vec<&Path> = path.ancestors().collect();
    let blocked_at = ancestors
        .iter()
        .rev()
        .find(|dir| matches!(std::fs::symlink_metadata(dir), Err(e) if e.kind() == ErrorKind::PermissionDenied))
        .and_then(|dir| dir.parent())
        .unwrap_or(path);
    InitError::ReadInterpreter {
        path: path.to_path_buf(),
        user,
        uid: uid.as_raw(),
        blocked_at: blocked_at.to_path_buf(),
    }
}

/// The tail of [`InitError::ReadInterpreter`]'s message: the refusing directory, when it is not
/// the path itself.
fn blocked_note(path: &Path, blocked_at: &Path) -> String {
    if blocked_at == path {
        String::new()
    } else {
        format!(": {} is closed to it", blocked_at.display())
    }
}

/// Initialises CPython through PyConfig and releases the GIL.
fn start(program: &Path, write_bytecode: bool) -> Result<(), InitError> {
    let program = c_string(program.as_os_str().as_bytes())?;
    let argv: Vec<CString> = match super::ARGV.get() {
        Some(args) => args.iter().map(|a| c_string(a.as_bytes())).collect::<Result<_, _>>()?,
        None => vec![c_string(b"forkhorn")?],
    };
    let mut argv_ptrs: Vec<*const std::ffi::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    let mut config = MaybeUninit::<ffi::PyConfig>::uninit();
    let config = config.as_mut_ptr();
    // SAFETY: PyConfig_InitPythonConfig fully initialises the struct before any field is
    // touched; every later call gets that pointer and NUL-terminated strings that outlive the
    // call (CPython copies them); PyConfig_Clear frees what CPython allocated, on every path.
    unsafe {
        ffi::PyConfig_InitPythonConfig(config);
        // The master's and the worker's signals stay forkhorn's (SIGINT, SIGPIPE, ...).
        (*config).install_signal_handlers = 0;
        // sys.argv is forkhorn's command line, as gunicorn's is; Python must not parse it.
        (*config).parse_argv = 0;
        // Leave the process's C stdio as it is: it belongs to forkhorn's logging.
        (*config).configure_c_stdio = 0;
        (*config).write_bytecode = i32::from(write_bytecode);
        let mut status =
            ffi::PyConfig_SetBytesString(config, std::ptr::addr_of_mut!((*config).program_name), program.as_ptr());
        if ffi::PyStatus_Exception(status) == 0 {
            status = ffi::PyConfig_SetBytesArgv(config, argv_ptrs.len() as ffi::Py_ssize_t, argv_ptrs.as_mut_ptr());
        }
        if ffi::PyStatus_Exception(status) == 0 {
            status = ffi::Py_InitializeFromConfig(config);
        }
        ffi::PyConfig_Clear(config);
        if ffi::PyStatus_Exception(status) != 0 {
            let msg = if status.err_msg.is_null() {
                format!("exit status {}", status.exitcode)
            } else {
                CStr::from_ptr(status.err_msg).to_string_lossy().into_owned()
            };
            return Err(InitError::Initialize(msg));
        }
        // Initialisation leaves this thread holding the GIL; Python::attach takes it per call,
        // and app threads run while the worker waits in poll.
        ffi::PyEval_SaveThread();
    }
    Ok(())
}

/// Puts the `pythonpath` directories, the working directory, then the directory forkhorn
/// started in (when `chdir` left it) first on `sys.path`, as gunicorn does, so that
/// `module:app` finds modules next to where forkhorn runs.
fn extend_sys_path(py: Python<'_>, pythonpath: &[PathBuf], started_in: Option<PathBuf>) -> PyResult<()> {
    let sys_path = py.import("sys")?.getattr("path")?.cast_into::<PyList>()?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let mut front: Vec<PathBuf> = pythonpath.iter().map(|p| cwd.join(p)).collect();
    front.push(cwd.clone());
    front.extend(started_in.filter(|d| *d != cwd));
    for dir in front.iter().rev() {
        let dir = dir.to_string_lossy();
        // An entry already present moves to the front rather than appearing twice.
        while let Ok(i) = sys_path.index(&*dir) {
            sys_path.del_item(i)?;
        }
        sys_path.insert(0, &*dir)?;
    }
    Ok(())
}

fn c_string(bytes: &[u8]) -> Result<CString, InitError> {
    CString::new(bytes).map_err(|_| InitError::PassString(String::from_utf8_lossy(bytes).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    #[test]
    fn the_ambient_virtualenv_is_the_activated_one_else_the_first_on_path() {
        // A fake file system: /venv is a virtualenv, /usr/bin has a Python of no virtualenv.
        let files = [
            "/venv/bin/python3",
            "/venv/pyvenv.cfg",
            "/usr/bin/python3",
            "/old/bin/python",
        ];
        let exists = |p: &Path| files.iter().any(|f| Path::new(f) == p);
        let path = |s: &str| OsString::from(s);
        let cases: [(Option<&str>, &str, Option<&str>); 6] = [
            (Some("/activated"), "/venv/bin:/usr/bin", Some("/activated")),
            (Some(""), "/venv/bin:/usr/bin", Some("/venv")),
            (None, "/usr/bin:/venv/bin", Some("/venv")),
            (None, "/usr/bin:/bin", None),
            // A python without pyvenv.cfg beside its bin/ is not a virtualenv.
            (None, "/old/bin", None),
            // A relative PATH entry depends on the directory: not taken.
            (None, "venv/bin", None),
        ];
        for (virtual_env, search, want) in cases {
            assert_eq!(
                ambient_virtualenv(virtual_env.map(OsString::from), &path(search), exists),
                want.map(PathBuf::from),
                "{virtual_env:?} {search}"
            );
        }
    }
}
