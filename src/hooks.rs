//! Server hooks, gunicorn's `on_starting` ... `worker_exit`: the moments the master and the
//! workers announce ([`Event`]), and what answers them ([`ServerHooks`], implemented by the Python
//! bridge for the functions of a `gunicorn.conf.py` or of the `hooks` module).
//!
//! Where each is announced, as in gunicorn's arbiter and workers:
//! - master: `nworkers_changed` (at start-up with no old count, on TTIN/TTOU and on HUP),
//!   `on_starting` (before binding), `when_ready` (sockets bound, before the first workers are
//!   forked), `pre_fork` (before each fork), `child_exit` (after reaping a worker), `on_reload`
//!   (HUP, the new configuration accepted, before its workers), `pre_exec` (USR2, before the new
//!   master is started), `on_exit` (the master's last act);
//! - worker: `post_fork` (first thing after fork), `post_worker_init` (the app loaded),
//!   `pre_request`/`post_request` (around each request, through [`ServerHooks::wrap`]),
//!   `worker_int` (INT/QUIT), `worker_abort` (SIGABRT, sent by the master on a timeout) and
//!   `worker_exit` (the worker's last act).
//!
//! A hook is a blocking call, as in gunicorn; one that raises is logged with its traceback and
//! the server goes on (see `docs/GUNICORN.md` for where that differs from gunicorn).

use crate::app::{Application, ForkHooks};
use crate::config::Config;

/// A worker as hooks see it (gunicorn's `worker` argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WorkerId {
    /// gunicorn's `worker.age`: the number of workers the master had spawned when this one was,
    /// itself included (the master's worker id).
    pub age: usize,
    /// The worker's pid; `None` before it is forked (`pre_fork`).
    pub pid: Option<i32>,
    /// The master's pid.
    pub ppid: i32,
}

/// A moment of the server's life that a hook may be called for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// The worker count was set: at start-up (`old` is `None`, as in gunicorn), TTIN/TTOU, HUP.
    NworkersChanged {
        /// The new count.
        new: usize,
        /// The count before.
        old: Option<usize>,
    },
    /// Master, before binding.
    OnStarting,
    /// Master, sockets bound, before the first workers are forked.
    WhenReady,
    /// Master, HUP: the new configuration is accepted.
    OnReload,
    /// Master, before forking this worker.
    PreFork(WorkerId),
    /// Master, after reaping this worker.
    ChildExit(WorkerId),
    /// Master, USR2: before the new master is started.
    PreExec,
    /// Master, last.
    OnExit,
    /// Worker, first thing after fork.
    PostFork(WorkerId),
    /// Worker, its app loaded.
    PostWorkerInit(WorkerId),
    /// Worker, INT or QUIT.
    WorkerInt(WorkerId),
    /// Worker, SIGABRT (a timeout).
    #[cfg_attr(not(feature = "python"), allow(dead_code))] // only Python hooks have worker_abort
    WorkerAbort(WorkerId),
    /// Worker, last.
    WorkerExit(WorkerId),
}

impl Event {
    /// The hook's name in gunicorn.
    #[cfg_attr(not(feature = "python"), allow(dead_code))] // hooks are Python's
    pub(crate) fn name(self) -> &'static str {
        match self {
            Event::NworkersChanged { .. } => "nworkers_changed",
            Event::OnStarting => "on_starting",
            Event::WhenReady => "when_ready",
            Event::OnReload => "on_reload",
            Event::PreFork(_) => "pre_fork",
            Event::ChildExit(_) => "child_exit",
            Event::PreExec => "pre_exec",
            Event::OnExit => "on_exit",
            Event::PostFork(_) => "post_fork",
            Event::PostWorkerInit(_) => "post_worker_init",
            Event::WorkerInt(_) => "worker_int",
            Event::WorkerAbort(_) => "worker_abort",
            Event::WorkerExit(_) => "worker_exit",
        }
    }
}

/// What answers the server's events: loaded once in the master, inherited by the workers.
pub(crate) trait ServerHooks {
    /// Whether a hook of this name is defined (gunicorn's names: `"worker_abort"`, ...).
    fn defines(&self, name: &str) -> bool;

    /// Calls the hook for `event`, if defined; `num_workers` is the server's current target.
    /// A hook that raises is logged with its traceback; nothing is returned.
    fn call(&self, num_workers: usize, event: Event);

    /// Makes `cfg` what hooks read as `server.cfg` (at start-up and after each reload).
    fn configure(&self, cfg: &Config);

    /// Makes `listeners` (each socket's address as the log prints it, and its descriptor) what
    /// hooks read as `server.LISTENERS`: once bound, and after each reload.
    fn listening(&self, listeners: &[(String, i32)]);

    /// Master, right after forking the worker `pre_fork` announced: `worker.pid` is known now,
    /// and the worker joins `server.WORKERS`.
    fn forked(&self, worker: WorkerId);

    /// Loads the hooks again from `location` (the `hooks` setting after a reload; `None`: no
    /// hooks any more), as gunicorn re-reads its config file on HUP: workers forked afterwards,
    /// and the master, call the new ones. On an error the hooks stay as they were.
    fn reload(&self, location: Option<&str>) -> Result<(), String>;

    /// `app` with `pre_request` and `post_request` around each call for `worker`; `app` itself
    /// when neither is defined, so that requests cost nothing more then.
    fn wrap(&self, app: Box<dyn Application>, worker: WorkerId) -> Box<dyn Application>;

    /// What the thread that takes SIGABRT runs for `worker` (`worker_abort`, then
    /// `worker_exit`); `None` when `worker_abort` is not defined.
    fn abort_hook(&self, num_workers: usize, worker: WorkerId) -> Option<Box<dyn FnOnce() + Send>>;

    /// The work around each fork that the interpreter the hooks live in needs.
    fn fork_hooks(&self) -> Box<dyn ForkHooks>;
}
