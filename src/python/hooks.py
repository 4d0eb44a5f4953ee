"""forkhorn's server hooks: the objects gunicorn's hooks receive, and calling the hooks.

The module of hooks (a gunicorn.conf.py, or the `hooks` setting's module or file) is loaded
once in the master; the workers inherit it, and these objects, through fork. Rust calls
`load`, `configure`, `call`, `pre_request` and `post_request`; `_emit(level, text)` (given by
Rust as a global) writes one entry to forkhorn's log.
"""

import importlib
import importlib.util
import os
import sys
import tomllib
import traceback
from importlib.machinery import SourceFileLoader
from urllib.parse import urlsplit

# gunicorn's hooks (ssl_context included: recognised, never called; see `load`).
HOOK_NAMES = (
    "on_starting", "on_reload", "when_ready", "pre_fork", "post_fork", "post_worker_init",
    "worker_int", "worker_abort", "pre_exec", "pre_request", "post_request", "child_exit",
    "worker_exit", "nworkers_changed", "on_exit", "ssl_context",
)

# The hook functions by name, once `load` ran.
HOOKS = {}

# The log levels of `_emit`, as forkhorn's log takes them.
DEBUG, INFO, WARNING, ERROR, CRITICAL = 0, 1, 2, 3, 4


class Log:
    """gunicorn's `server.log` / `worker.log`: entries go to forkhorn's error log."""

    def _log(self, level, msg, args, exc_info=False):
        text = str(msg)
        if args:
            try:
                text = text % args
            except (TypeError, ValueError):
                text = "%s %r" % (text, args)
        if exc_info:
            formatted = traceback.format_exc()
            if formatted and not formatted.startswith("NoneType: None"):
                text = text + "\n" + formatted.rstrip()
        _emit(level, text)  # noqa: F821 (set by Rust)

    def debug(self, msg, *args, **kwargs):
        self._log(DEBUG, msg, args, kwargs.get("exc_info", False))

    def info(self, msg, *args, **kwargs):
        self._log(INFO, msg, args, kwargs.get("exc_info", False))

    def warning(self, msg, *args, **kwargs):
        self._log(WARNING, msg, args, kwargs.get("exc_info", False))

    warn = warning

    def error(self, msg, *args, **kwargs):
        self._log(ERROR, msg, args, kwargs.get("exc_info", False))

    def critical(self, msg, *args, **kwargs):
        self._log(CRITICAL, msg, args, kwargs.get("exc_info", False))

    def exception(self, msg, *args, **kwargs):
        self._log(ERROR, msg, args, kwargs.get("exc_info", True))

    def log(self, lvl, msg, *args, **kwargs):
        # logging's numeric levels (10, 20, ...) or gunicorn's names.
        if isinstance(lvl, str):
            lvl = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}.get(lvl.lower(), 20)
        level = min(max((lvl // 10) - 1, DEBUG), CRITICAL)
        self._log(level, msg, args, kwargs.get("exc_info", False))

    def reopen_files(self):
        """forkhorn reopens its logs on USR1 itself."""

    def close_on_exec(self):
        """forkhorn's log descriptors are close-on-exec already."""


class Config:
    """gunicorn's `server.cfg`: each setting as an attribute (forkhorn's keys, which are
    gunicorn's names), None for one that is not set or that forkhorn does not have."""

    # gunicorn's names for settings forkhorn calls otherwise, and gunicorn's derived properties.
    ALIASES = {"wsgi_app": "app", "worker_class_str": "worker_class", "address": "bind"}

    def __init__(self, settings):
        self.__dict__.update(settings)
        for alias, key in self.ALIASES.items():
            if key in settings:
                self.__dict__[alias] = settings[key]
        self.__dict__.setdefault("proc_name", None)
        self.__dict__["settings"] = dict(settings)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return None

    def __repr__(self):
        return "<forkhorn Config %r>" % (self.__dict__.get("settings"),)


class Server:
    """gunicorn's arbiter as hooks use it: `cfg`, `log`, `pid`, `num_workers`, `proc_name`."""

    def __init__(self):
        self.cfg = Config({})
        self.log = Log()
        self.num_workers = 0
        self.WORKERS = {}

    @property
    def pid(self):
        return os.getpid()

    @property
    def proc_name(self):
        return self.cfg.proc_name or "forkhorn"

    def __repr__(self):
        return "<forkhorn Server pid=%d>" % self.pid


class Worker:
    """gunicorn's worker as hooks use it: `pid`, `ppid`, `age`, `log`, `cfg`, `alive`,
    `booted`, `nr` (requests handled, counted only where request hooks run)."""

    def __init__(self, age, pid, ppid):
        self.age = age
        self.pid = pid if pid is not None else "[booting]"
        self.ppid = ppid
        self.cfg = SERVER.cfg
        self.log = SERVER.log
        self.alive = True
        self.booted = False
        self.nr = 0

    def __repr__(self):
        return "<forkhorn Worker %s>" % (self.pid,)


class Request:
    """gunicorn's request as `pre_request`/`post_request` see it."""

    def __init__(self, environ):
        self.method = environ.get("REQUEST_METHOD", "")
        # As gunicorn's: the request target as sent, split but not percent-decoded (so that no
        # byte a client escaped reaches a hook's log line decoded).
        self.uri = environ.get("RAW_URI", "")
        parts = urlsplit(self.uri)
        self.path = parts.path or ""
        self.query = parts.query or ""
        self.fragment = parts.fragment or ""
        protocol = environ.get("SERVER_PROTOCOL", "HTTP/1.1")
        try:
            major, minor = protocol.partition("/")[2].split(".")
            self.version = (int(major), int(minor))
        except ValueError:
            self.version = (1, 1)
        self.scheme = environ.get("wsgi.url_scheme", "http")
        self.headers = []
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                self.headers.append((key[5:].replace("_", "-"), value))
            elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                self.headers.append((key.replace("_", "-"), value))
        self.remote_addr = environ.get("REMOTE_ADDR")

    def __repr__(self):
        return "<forkhorn Request %s %s>" % (self.method, self.uri)


class Response:
    """gunicorn's response as `post_request` sees it: `status` ("200 OK") and `status_code`."""

    def __init__(self, status):
        self.status = status
        try:
            self.status_code = int(status.split(None, 1)[0])
        except (ValueError, IndexError):
            self.status_code = None

    def __repr__(self):
        return "<forkhorn Response %s>" % (self.status,)


SERVER = Server()
# The worker this process is, once forked.
WORKER = None


def load(location):
    """Loads the hooks module (a .py file, or a module name importable from sys.path), makes
    its hooks the ones called, and returns their names. Run again (a reload), the file is
    executed afresh and a module re-imported, as gunicorn re-reads its config file on HUP; if
    that raises, the hooks called stay those of the last load."""
    install_gunicorn_stand_in()
    if location.endswith(".py") or os.sep in location:
        name = "__config__"
        loader = SourceFileLoader(name, location)
        spec = importlib.util.spec_from_file_location(name, location, loader=loader)
        module = importlib.util.module_from_spec(spec)
        previous = sys.modules.get(name)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
            raise
    elif location in sys.modules:
        module = importlib.reload(sys.modules[location])
    else:
        module = importlib.import_module(location)
    found = {}
    for name in HOOK_NAMES:
        hook = getattr(module, name, None)
        if callable(hook):
            found[name] = hook
    HOOKS.clear()
    HOOKS.update(found)
    return sorted(HOOKS)


def configure(toml_text):
    SERVER.cfg = Config(tomllib.loads(toml_text))
    if WORKER is not None:
        WORKER.cfg = SERVER.cfg


def _run(name, *args):
    hook = HOOKS.get(name)
    if hook is None:
        return
    try:
        hook(*args)
    except BaseException:  # A hook's SystemExit does not end the server either.
        SERVER.log.error("Exception in %s hook\n%s", name, traceback.format_exc().rstrip())


def call(name, num_workers, worker, *args):
    """Calls hook `name`; `worker` is (age, pid, ppid) for the hooks that take a worker."""
    global WORKER
    SERVER.num_workers = num_workers
    if name == "nworkers_changed":
        return _run(name, SERVER, *args)
    if worker is None:
        return _run(name, SERVER)
    if name == "post_fork":
        # This process is that worker from now on.
        WORKER = Worker(*worker)
        return _run(name, SERVER, WORKER)
    if name in ("pre_fork", "child_exit"):
        return _run(name, SERVER, Worker(*worker))
    current = WORKER if WORKER is not None else Worker(*worker)
    if name == "post_worker_init":
        current.booted = True
    if name in ("worker_int", "worker_abort", "worker_exit"):
        current.alive = False
    if name == "worker_exit":
        return _run(name, SERVER, current)
    return _run(name, current)


def pre_request(environ):
    """Calls `pre_request`; returns the request object for `post_request`, and the traceback of
    what the hook raised (the request then fails, as in gunicorn) or None."""
    req = Request(environ)
    current = WORKER
    if current is not None:
        current.nr += 1
    hook = HOOKS.get("pre_request")
    if hook is not None:
        try:
            hook(current, req)
        except Exception:
            return req, traceback.format_exc().rstrip()
    return req, None


def post_request(req, environ, status):
    """Calls `post_request`; `status` None (pre_request raised) passes no response and an
    empty environ, as gunicorn does."""
    hook = HOOKS.get("post_request")
    if hook is None:
        return
    try:
        hook(WORKER, req, environ if status is not None else {}, Response(status) if status is not None else None)
    except Exception:
        SERVER.log.error("Exception in post_request hook\n%s", traceback.format_exc().rstrip())
