//! Server hooks written in Python ([`PythonHooks`]): the module that defines them (a
//! `gunicorn.conf.py`, or the `hooks` setting's module or `.py` file) loaded in the master with
//! the objects gunicorn's hooks receive (`hooks.py`), and [`HookedApp`], the app with
//! `pre_request`/`post_request` around each call.
//!
//! The module is loaded in the master (whose interpreter exists only for it, or for
//! `preload_app`), and again on each reload; the workers inherit it through fork, whatever app
//! they serve.

use super::interpreter::{self, Setup};
use super::logging_bridge::emit;
use super::LoadError;
use crate::app::protocol::Response;
use crate::app::{AppError, Application, Body, BodyIter, Chunk, Environ, FileRegion, ForkHooks, StartResponse};
use crate::config::Config;
use crate::hooks::{Event, ServerHooks, WorkerId};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};
use std::cell::RefCell;
use std::ffi::CString;
use std::path::Path;

/// The Python half: the objects passed to hooks, and calling them.
const HOOKS_PY: &str = concat!(include_str!("gunicorn_stand_in.py"), include_str!("hooks.py"));

/// The hooks module (`HOOKS_PY`) as `name`, with `_emit` to write to forkhorn's log.
fn hooks_module<'py>(py: Python<'py>, name: &std::ffi::CStr) -> PyResult<Bound<'py, PyModule>> {
    let code = CString::new(HOOKS_PY).map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    let module = PyModule::from_code(py, &code, c"<forkhorn hooks>", name)?;
    module.add_function(wrap_pyfunction!(emit, &module)?)?;
    Ok(module)
}

/// The hooks of one module, loaded in this process (or inherited from the master).
pub struct PythonHooks {
    /// `hooks.py`, holding the hook functions.
    module: Py<PyModule>,
    /// The names of the hooks the module defines (a reload replaces them; the master's loop is
    /// the one thread that does, hence a cell).
    defined: RefCell<Vec<String>>,
}

/// Loads the hooks `location` names (the `hooks` setting: a `.py` file, or a module importable
/// from `pythonpath` and the app's directory), starting the interpreter in this process first
/// if it is not running. The master stays in its directory: `chdir` is put on `sys.path`
/// instead of entered.
pub fn load(cfg: &Config, location: &str) -> Result<PythonHooks, LoadError> {
    // sys.path as a worker has it, which enters `chdir` first: pythonpath (relative to
    // `chdir`), then `chdir` itself.
    let mut pythonpath: Vec<_> = cfg
        .pythonpath
        .iter()
        .map(|p| match &cfg.chdir {
            Some(dir) => dir.join(p),
            None => p.clone(),
        })
        .collect();
    pythonpath.extend(cfg.chdir.iter().cloned());
    let setup = Setup {
        chdir: None,
        pythonpath,
        ..Setup::from_config(cfg)
    };
    interpreter::ensure_started(&setup)?;
    // One line; the traceback goes to the error log first unless the module or file is
    // simply not there.
    let failed = |py: Python<'_>, e: PyErr| {
        let missing = super::spec::is_not_there(py, &e, location)
            || e.is_instance_of::<pyo3::exceptions::PyFileNotFoundError>(py);
        LoadError::LoadHooks {
            location: location.to_owned(),
            reason: super::spec::describe(py, &e, missing),
        }
    };
    let location = absolute(location);
    Python::attach(|py| {
        // Hooks log through gunicorn.error too (gunicorn's own handlers are set up by then).
        super::logging_bridge::install(py, cfg.loglevel);
        let module = hooks_module(py, c"_forkhorn_hooks").map_err(|e| failed(py, e))?;
        let defined: Vec<String> = module
            .getattr("load")
            .and_then(|f| f.call1((location.as_str(),)))
            .and_then(|names| names.extract())
            .map_err(|e| failed(py, e))?;
        let hooks = PythonHooks {
            module: module.unbind(),
            defined: RefCell::new(defined),
        };
        hooks.configure_in(py, cfg);
        Ok(hooks)
    })
}

/// A file's location made absolute (the master never changes directory, but a reload must find
/// the same file); a module's name as it is.
fn absolute(location: &str) -> String {
    match is_file(location) {
        true => std::path::absolute(location)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| location.to_owned()),
        false => location.to_owned(),
    }
}

/// Whether the `hooks` setting names a file rather than a module.
fn is_file(location: &str) -> bool {
    location.ends_with(".py") || Path::new(location).components().count() > 1
}

impl PythonHooks {
    fn configure_in(&self, py: Python<'_>, cfg: &Config) {
        if let Err(e) = self.module.bind(py).call_method1("configure", (cfg.to_toml(),)) {
            log::error!("hooks: cannot make server.cfg: {}", super::traceback(py, &e));
        }
    }
}

impl ServerHooks for PythonHooks {
    fn defines(&self, name: &str) -> bool {
        self.defined.borrow().iter().any(|d| d == name)
    }

    fn call(&self, num_workers: usize, event: Event) {
        let name = event.name();
        // These keep the worker objects up to date whether or not their hook is defined:
        // pre_fork makes the one the master keeps, child_exit takes it out of WORKERS,
        // post_fork makes this worker's, post_worker_init gives it the app.
        let tracks = matches!(
            event,
            Event::PreFork(_) | Event::ChildExit(_) | Event::PostFork(_) | Event::PostWorkerInit(_)
        );
        if !self.defines(name) && !tracks {
            return;
        }
        Python::attach(|py| {
            let worker = |w: WorkerId| (w.age, w.pid, w.ppid);
            let module = self.module.bind(py);
            if let Event::PostWorkerInit(_) = event {
                let app = super::loaded_app(py).unwrap_or_else(|| py.None());
                if let Err(e) = module.call_method1("worker_loaded", (app,)) {
                    log::error!(
                        "hooks: cannot give the worker object its app: {}",
                        super::traceback(py, &e)
                    );
                }
            }
            let result = match event {
                Event::NworkersChanged { new, old } => {
                    module.call_method1("call", (name, num_workers, py.None(), new, old))
                }
                Event::PreFork(w)
                | Event::ChildExit(w)
                | Event::PostFork(w)
                | Event::PostWorkerInit(w)
                | Event::WorkerInt(w)
                | Event::WorkerAbort(w)
                | Event::WorkerExit(w) => module.call_method1("call", (name, num_workers, worker(w))),
                Event::OnStarting | Event::WhenReady | Event::OnReload | Event::PreExec | Event::OnExit => {
                    module.call_method1("call", (name, num_workers, py.None()))
                }
            };
            // `call` logs what a hook raised; this is the module's own failure.
            if let Err(e) = result {
                log::error!("Exception in {name} hook\n{}", super::traceback(py, &e));
            }
        });
    }

    fn configure(&self, cfg: &Config) {
        Python::attach(|py| self.configure_in(py, cfg));
    }

    fn listening(&self, listeners: &[(String, i32)]) {
        Python::attach(|py| {
            if let Err(e) = self.module.bind(py).call_method1("listening", (listeners.to_vec(),)) {
                log::error!("hooks: cannot make server.LISTENERS: {}", super::traceback(py, &e));
            }
        });
    }

    fn forked(&self, worker: WorkerId) {
        let Some(pid) = worker.pid else {
            return;
        };
        Python::attach(|py| {
            if let Err(e) = self.module.bind(py).call_method1("forked", (worker.age, pid)) {
                log::error!(
                    "hooks: cannot add worker {pid} to server.WORKERS: {}",
                    super::traceback(py, &e)
                );
            }
        });
    }

    fn reload(&self, location: Option<&str>) -> Result<(), String> {
        Python::attach(|py| {
            let module = self.module.bind(py);
            let defined: Vec<String> = match location {
                Some(location) => module
                    .call_method1("load", (absolute(location),))
                    .and_then(|names| names.extract())
                    .map_err(|e| {
                        format!(
                            "cannot reload the server hooks ({location}): {}",
                            super::traceback(py, &e)
                        )
                    })?,
                None => {
                    let hooks = module.getattr("HOOKS").map_err(|e| super::traceback(py, &e))?;
                    hooks.call_method0("clear").map_err(|e| super::traceback(py, &e))?;
                    Vec::new()
                }
            };
            *self.defined.borrow_mut() = defined;
            Ok(())
        })
    }

    fn wrap(&self, app: Box<dyn Application>, _worker: WorkerId) -> Box<dyn Application> {
        let post = self.defines("post_request");
        if !self.defines("pre_request") && !post {
            return app;
        }
        let module = Python::attach(|py| self.module.clone_ref(py));
        Box::new(HookedApp { app, module, post })
    }

    fn abort_hook(&self, num_workers: usize, worker: WorkerId) -> Option<Box<dyn FnOnce() + Send>> {
        if !self.defines("worker_abort") {
            return None;
        }
        let hooks = PythonHooks {
            module: Python::attach(|py| self.module.clone_ref(py)),
            defined: self.defined.clone(),
        };
        Some(Box::new(move || {
            hooks.call(num_workers, Event::WorkerAbort(worker));
            hooks.call(num_workers, Event::WorkerExit(worker));
        }))
    }

    fn fork_hooks(&self) -> Box<dyn ForkHooks> {
        super::fork::cpython_fork()
    }
}

/// An app with `pre_request` before each call and `post_request` once its response is done.
pub struct HookedApp {
    app: Box<dyn Application>,
    module: Py<PyModule>,
    /// `post_request` is defined.
    post: bool,
}

/// A hook's exception, with its traceback, as the worker logs it.
#[derive(Debug, thiserror::Error)]
#[error("Exception in pre_request hook\n{0}")]
struct HookRaised(String);

/// The request object and the environ copy `post_request` receives.
struct Pending {
    module: Py<PyModule>,
    req: Py<PyAny>,
    environ: Py<PyDict>,
}

/// What `post_request`'s `resp` shows of a response: gunicorn's `status`, `headers` (the
/// application's, `Content-Length` included), `response_length` and `sent`.
#[derive(Default)]
struct Seen {
    /// 0: none was chosen (the worker answers 500).
    status: u16,
    /// The status line and the application's header lines, as encoded.
    head: Vec<u8>,
    length: Option<u64>,
    sent: u64,
}

impl Seen {
    fn of(resp: &Response) -> Seen {
        let mut seen = Seen::default();
        seen.update(resp);
        seen
    }

    /// Follows the response as its body goes out; the head is copied again only when it
    /// changed (start_response with exc_info before the first byte).
    fn update(&mut self, resp: &Response) {
        if self.head != resp.head_bytes() {
            self.head.clear();
            self.head.extend_from_slice(resp.head_bytes());
        }
        self.status = resp.status();
        self.length = resp.content_length();
        self.sent = resp.body_bytes();
    }

    /// The status as the application gave it (`200 Alright`), from the head's status line
    /// (`HTTP/1.x STATUS`), as gunicorn's `resp.status` has it.
    fn status_text(&self) -> Option<String> {
        let line = self.head.split(|&b| b == b'\r').next()?;
        let text = line.get(b"HTTP/1.1 ".len()..).filter(|t| !t.is_empty())?;
        Some(latin1(text))
    }

    /// The application's headers as (name, value) pairs, as gunicorn's `resp.headers` lists them.
    fn headers(&self) -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> = crate::http::response::head_fields(&self.head)
            .map(|(name, value)| (latin1(name), latin1(value)))
            .collect();
        if let Some(n) = self.length {
            headers.push(("Content-Length".into(), n.to_string()));
        }
        headers
    }
}

/// Bytes as latin-1 text, each byte one character (how PEP 3333 carries header strings).
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&c| char::from(c)).collect()
}

impl Pending {
    /// Calls `post_request` with the response as far as it went (status 0: none was chosen,
    /// the worker answers 500), or with no response at all (`None`: pre_request raised).
    fn done(&self, seen: Option<&Seen>) {
        let resp = seen.map(|seen| {
            let standard = |status| format!("{status} {}", crate::http::response::reason(status));
            let text = match seen.status {
                0 => standard(500),
                status => seen.status_text().unwrap_or_else(|| standard(status)),
            };
            (text, seen.headers(), seen.length, seen.sent)
        });
        Python::attach(|py| {
            let args = (self.req.bind(py), self.environ.bind(py), resp);
            if let Err(e) = self.module.bind(py).call_method1("post_request", args) {
                log::error!("Exception in post_request hook\n{}", super::traceback(py, &e));
            }
        });
    }
}

impl Application for HookedApp {
    fn call(&self, environ: &mut Environ, sr: &mut StartResponse<'_>) -> Result<Body, AppError> {
        let (pending, raised) = Python::attach(|py| -> Result<(Pending, Option<String>), AppError> {
            let env = PyDict::new(py);
            for (key, value) in environ.iter() {
                env.set_item(key, value).map_err(|e| app_error(py, e))?;
            }
            let (req, raised): (Bound<'_, PyAny>, Option<String>) = self
                .module
                .bind(py)
                .call_method1("pre_request", (env.clone(),))
                .and_then(|r| r.extract())
                .map_err(|e| app_error(py, e))?;
            let pending = Pending {
                module: self.module.clone_ref(py),
                req: req.unbind(),
                environ: env.unbind(),
            };
            Ok((pending, raised))
        })?;
        if let Some(traceback) = raised {
            // As gunicorn's worker: the request fails, post_request still runs.
            if self.post {
                pending.done(None);
            }
            return Err(Box::new(HookRaised(traceback)));
        }
        let result = self.app.call(environ, sr);
        if !self.post {
            return result;
        }
        match result {
            Ok(Body::Iter(inner)) => Ok(Body::Iter(Box::new(PostRequest {
                inner,
                seen: Seen::of(sr.response()),
                pending,
            }))),
            other => {
                let mut seen = Seen::of(sr.response());
                // A whole body goes out after this call: count what of it goes on the wire as
                // sent, as gunicorn's hook runs once the response is written.
                let whole = match &other {
                    Ok(Body::Static(b)) => b.len(),
                    Ok(Body::Bytes(v)) => v.len(),
                    _ => 0,
                } as u64;
                seen.sent += sr.response().body_bytes_of(whole);
                pending.done(Some(&seen));
                other
            }
        }
    }

    fn reentrant(&self) -> bool {
        self.app.reentrant()
    }

    fn pause_for_wait(&self) -> Option<Box<dyn std::any::Any>> {
        self.app.pause_for_wait()
    }

    fn may_wait(&self) -> bool {
        self.app.may_wait()
    }

    fn enter_thread(&self) -> Option<Box<dyn std::any::Any>> {
        self.app.enter_thread()
    }
}

/// The bridge's own failure around the hooks, as the worker logs it.
fn app_error(py: Python<'_>, e: PyErr) -> AppError {
    super::app::app_error(py, e)
}

/// A lazily produced body whose `post_request` runs when the server is done with it.
struct PostRequest {
    inner: Box<dyn BodyIter>,
    /// The response so far (a Python app may call start_response in its first chunk).
    seen: Seen,
    pending: Pending,
}

impl BodyIter for PostRequest {
    fn next_chunk(&mut self, sr: &mut StartResponse<'_>) -> Option<Result<Chunk, AppError>> {
        // Before the next chunk: the one before it has been sent by now.
        self.seen.update(sr.response());
        self.inner.next_chunk(sr)
    }

    fn close(&mut self) {
        self.inner.close();
        self.pending.done(Some(&self.seen));
    }

    fn file(&mut self) -> Option<FileRegion> {
        self.inner.file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn post_request_sees_the_status_as_the_app_gave_it() {
        let seen = |head: &[u8]| Seen {
            head: head.to_vec(),
            ..Seen::default()
        };
        for (head, want) in [
            (&b"HTTP/1.1 200 Alright\r\nX-A: 1\r\n"[..], Some("200 Alright")),
            (b"HTTP/1.0 404 Nicht gefunden\r\n", Some("404 Nicht gefunden")),
            (b"HTTP/1.1 200 Tr\xe8s bien\r\n", Some("200 Tr\u{e8}s bien")),
            (b"", None),
        ] {
            assert_eq!(seen(head).status_text().as_deref(), want, "{head:?}");
        }
    }

    /// Starts the interpreter in this test process, once (tests run on parallel threads).
    fn start_python() {
        static START: std::sync::Once = std::sync::Once::new();
        START.call_once(|| {
            let setup = Setup {
                virtualenv: None,
                chdir: None,
                pythonpath: Vec::new(),
                write_bytecode: false,
            };
            interpreter::ensure_started(&setup).expect("start Python");
        });
    }

    /// The hooks module, made in this test process's interpreter (see `start_python`), the gunicorn stand-in
    /// installed as `load` installs it.
    fn hooks_module<'py>(py: Python<'py>, name: &std::ffi::CStr) -> Bound<'py, PyModule> {
        let module = super::hooks_module(py, name).expect("the hooks source runs");
        module
            .call_method0("install_gunicorn_stand_in")
            .expect("install the stand-in");
        module
    }

    /// Runs `code` with the module's globals; a failed `assert` fails the test with its message.
    fn check(py: Python<'_>, module: &Bound<'_, PyModule>, code: &str) {
        let code = CString::new(code).expect("no NUL in the test code");
        if let Err(e) = py.run(&code, Some(&module.dict()), None) {
            panic!("{}", super::super::traceback(py, &e));
        }
    }

    #[test]
    fn server_cfg_gives_gunicorns_values_in_gunicorns_forms() {
        let cfg = Config {
            app: "shop.wsgi:application".into(),
            threads: 4,
            proxy_protocol: true,
            pythonpath: vec![PathBuf::from("lib"), PathBuf::from("vendor")],
            user: Some("0".into()),
            raw_env: vec![("LANG".into(), "C.UTF-8".into())],
            ..Config::default()
        };
        start_python();
        Python::attach(|py| {
            let module = hooks_module(py, c"_forkhorn_hooks_cfg_test");
            module.call_method1("configure", (cfg.to_toml(),)).expect("configure");
            check(
                py,
                &module,
                r#"
cfg = SERVER.cfg
assert isinstance(cfg, Config) and SERVER.app.cfg is cfg
# forkhorn's values, in gunicorn's forms.
assert (cfg.workers, cfg.threads, cfg.timeout) == (1, 4, 30)
assert cfg.proxy_protocol == "auto", cfg.proxy_protocol
assert cfg.pythonpath == "lib,vendor", cfg.pythonpath
assert (cfg.user, cfg.uid) == (0, 0)
assert cfg.env == {"LANG": "C.UTF-8"}, cfg.env
# By name: another test of this process may have installed the stand-in's classes first.
assert cfg.worker_class_str == "gthread" and cfg.worker_class.__name__ == "ThreadWorker"
assert cfg.wsgi_app == cfg.app == "shop.wsgi:application"
assert cfg.proc_name == SERVER.proc_name == "shop.wsgi:application"
assert cfg.address == [("127.0.0.1", 8000)]
assert cfg.settings["timeout"].get() == cfg.settings["timeout"].value == 30
# forkhorn's own settings; gunicorn's defaults for the settings forkhorn lacks.
assert cfg.settings["header_timeout"].section == "forkhorn"
assert cfg.control_socket is None and cfg.reload_engine == "auto" and cfg.sendfile is True
assert (cfg.spew, cfg.statsd_prefix, cfg.logconfig_dict) == (False, "", {})
assert cfg.on_starting(SERVER) is None
try:
    cfg.no_such_setting
    raise AssertionError("an unknown name has no value")
except AttributeError as e:
    assert str(e) == "No configuration setting for: no_such_setting", e
try:
    cfg.workers = 3
    raise AssertionError("settings are read-only")
except AttributeError as e:
    assert str(e) == "Invalid access!", e
"#,
            );
        });
    }

    #[test]
    fn listeners_and_the_worker_table_follow_the_master() {
        start_python();
        Python::attach(|py| {
            let module = hooks_module(py, c"_forkhorn_hooks_table_test");
            module
                .call_method1("configure", (Config::default().to_toml(),))
                .expect("configure");
            check(
                py,
                &module,
                r#"
listening([("http://[::1]:8000", 5), ("unix:/run/app.sock", 6)])
tcp, unix = SERVER.LISTENERS
assert (str(tcp), tcp.fileno(), tcp.getsockname()) == ("http://[::1]:8000", 5, ("::1", 8000, 0, 0))
assert (str(unix), unix.getsockname()) == ("unix:/run/app.sock", "/run/app.sock")
call("pre_fork", 1, (1, None, 100))
(pending,) = PENDING.values()
assert (pending.pid, pending.age, pending.sockets, pending.timeout) == ("[booting]", 1, [tcp, unix], 15.0)
forked(1, 4242)
assert SERVER.WORKERS == {4242: pending} and pending.pid == 4242 and not PENDING
call("child_exit", 1, (1, 4242, 100))
assert SERVER.WORKERS == {} and not pending.alive
"#,
            );
        });
    }
}
