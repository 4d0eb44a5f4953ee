"""forkhorn's server hooks: the objects gunicorn's hooks receive, and calling the hooks.

The module of hooks (a gunicorn.conf.py, or the `hooks` setting's module or file) is loaded
once in the master; the workers inherit it, and these objects, through fork. Rust calls
`load`, `configure`, `listening`, `call`, `forked`, `worker_loaded`, `pre_request` and
`post_request`; `_emit(level, text)` (given by Rust as a global) writes one entry to
forkhorn's log. The objects' classes are the gunicorn stand-in's (gunicorn_stand_in.py).
"""

import importlib
import importlib.util
import os
import sys
import tomllib
import traceback
import types
from importlib.machinery import SourceFileLoader
from urllib.parse import urlsplit

# gunicorn's hooks, from the stand-in's table of its settings, which this module follows
# (ssl_context included: recognised, never called; see `load`).
HOOK_NAMES = tuple(name for name, section, _ in SETTINGS if section == _SERVER_HOOKS)

# The hook functions by name, once `load` ran.
HOOKS = {}

# The log levels of `_emit`: logging's numbers.
DEBUG, INFO, WARNING, ERROR, CRITICAL = 10, 20, 30, 40, 50


class Log(Logger):
    """gunicorn's `server.log` / `worker.log`: entries go to forkhorn's error log, through
    `_emit` rather than the `gunicorn.error` logger, which an app's `logging.config`
    (`disable_existing_loggers`) may silence: the hooks' own failures must still be told."""

    def __init__(self):
        super().__init__(None)

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

    def critical(self, msg, *args, **kwargs):
        self._log(CRITICAL, msg, args, kwargs.get("exc_info", False))

    def error(self, msg, *args, **kwargs):
        self._log(ERROR, msg, args, kwargs.get("exc_info", False))

    def warning(self, msg, *args, **kwargs):
        self._log(WARNING, msg, args, kwargs.get("exc_info", False))

    warn = warning

    def info(self, msg, *args, **kwargs):
        self._log(INFO, msg, args, kwargs.get("exc_info", False))

    def debug(self, msg, *args, **kwargs):
        self._log(DEBUG, msg, args, kwargs.get("exc_info", False))

    def exception(self, msg, *args, **kwargs):
        self._log(ERROR, msg, args, kwargs.get("exc_info", True))

    def log(self, lvl, msg, *args, **kwargs):
        # logging's numeric levels (10, 20, ...) or gunicorn's names.
        if isinstance(lvl, str):
            lvl = self.LOG_LEVELS.get(lvl.lower(), INFO)
        self._log(int(lvl), msg, args, kwargs.get("exc_info", False))


# forkhorn's names for gunicorn settings it calls otherwise.
ALIASES = {"app": "wsgi_app"}

# Settings forkhorn has whose being unset means none, where gunicorn's default is a value.
UNSET_IS_NONE = ("control_socket",)

# The values the hooks file gives gunicorn settings (a gunicorn.conf.py's own), for those that
# forkhorn's configuration does not carry (logconfig_dict, ...); set by `load`.
FILE_VALUES = {}


def _account_id(value, lookup):
    """`user`/`group` as gunicorn holds them: the numeric id (a name looked up)."""
    if isinstance(value, int) or value is None:
        return value
    if str(value).isdigit():
        return int(value)
    try:
        return lookup(value)
    except KeyError:
        return value


def _gunicorn_value(name, value):
    """A setting of forkhorn's configuration in the form gunicorn's has it."""
    if name == "proxy_protocol" and isinstance(value, bool):
        # forkhorn's `true` reads either version: gunicorn's "auto".
        return "auto" if value else "off"
    if name == "user":
        import pwd
        return _account_id(value, lambda n: pwd.getpwnam(n).pw_uid)
    if name == "group":
        import grp
        return _account_id(value, lambda n: grp.getgrnam(n).gr_gid)
    if name == "pythonpath" and isinstance(value, list):
        return ",".join(value) if value else None
    return value


def make_config(values):
    """gunicorn's Config for forkhorn's configuration `values` (its settings by forkhorn's
    names): each gunicorn setting is forkhorn's value in gunicorn's form, else the hooks file's
    value, else gunicorn's default; forkhorn's own settings are there too, and each hook
    setting is the file's hook (else gunicorn's, which does nothing)."""
    cfg = Config()
    settings = cfg.settings
    for name, value in FILE_VALUES.items():
        if name in settings:
            settings[name].set(value)
    for key, value in values.items():
        for name in {key, ALIASES.get(key, key)}:
            value_here = _gunicorn_value(name, value)
            if name not in settings:
                settings[name] = Setting(name, "forkhorn", value_here, len(settings))
            settings[name].set(value_here)
    for name in UNSET_IS_NONE:
        if name not in values:
            settings[name].set(None)
    # As gunicorn's WSGIApplication: the process name defaults to the app spec.
    if "default_proc_name" not in values and "app" in values:
        settings["default_proc_name"].set(values["app"])
    for name, hook in HOOKS.items():
        if name in settings:
            settings[name].set(hook)
    return cfg


class HookApplication(WSGIApplication):
    """gunicorn's `server.app` and `worker.app`: `cfg` is the configuration in effect, and
    `wsgi()` the app (the one the worker loaded; in the master, imported on the call, as in
    gunicorn; None for a built-in app, which is no Python callable)."""

    def __init__(self):
        self.usage = None
        self.prog = None
        self.callable = None
        self.logger = None

    @property
    def cfg(self):
        return SERVER.cfg

    @property
    def app_uri(self):
        return SERVER.cfg.settings["wsgi_app"].get()

    def load(self):
        uri = self.app_uri
        if not uri or uri.startswith("builtin:"):
            return None
        return import_app(uri)

    def __repr__(self):
        return "<forkhorn Application %s>" % (self.app_uri,)


class Listener:
    """One of `server.LISTENERS` / `worker.sockets`: str() is the address as gunicorn prints it
    (`http://127.0.0.1:8000`, `http://[::1]:8000`, `unix:/run/app.sock`; https with TLS)."""

    def __init__(self, address, fd):
        self._address = address
        self.fd = fd

    def __str__(self):
        if SERVER.cfg.is_ssl and self._address.startswith("http://"):
            return "https://" + self._address[len("http://"):]
        return self._address

    __repr__ = __str__

    def fileno(self):
        return self.fd

    @property
    def cfg_addr(self):
        if self._address.startswith("unix:"):
            return self._address[len("unix:"):]
        return parse_address(self._address.split("://", 1)[-1])

    def getsockname(self):
        addr = self.cfg_addr
        if isinstance(addr, tuple) and is_ipv6(addr[0]):
            return (addr[0], addr[1], 0, 0)
        return addr


class Server(Arbiter):
    """gunicorn's arbiter as hooks use it: `cfg`, `app`, `log`, `pid`, `num_workers`,
    `timeout`, `proc_name`, `address`, `LISTENERS` (once bound), `WORKERS` (pid: worker)."""

    def __init__(self):
        self.cfg = Config()
        self.app = HookApplication()
        self.log = Log()
        self.num_workers = 0
        self.LISTENERS = []
        self.WORKERS = {}
        self.master_pid = 0
        self.reexec_pid = 0
        self.pidfile = None
        self.systemd = "LISTEN_FDS" in os.environ
        self.worker_age = 0
        self.START_CTX = {"args": [sys.executable] + sys.argv, "cwd": getcwd(), 0: sys.executable}

    @property
    def pid(self):
        return os.getpid()

    @property
    def timeout(self):
        return self.cfg.timeout

    @property
    def proc_name(self):
        return self.cfg.proc_name

    @property
    def address(self):
        return self.cfg.address

    @property
    def worker_class(self):
        return self.cfg.worker_class

    def __repr__(self):
        return "<forkhorn Server pid=%d>" % self.pid


def new_worker(age, pid, ppid):
    """A worker object as gunicorn makes it before fork, of the configured worker class (its
    `timeout` is half the setting's, as gunicorn's arbiter gives it)."""
    # The stand-in's classes even where gunicorn is installed: forkhorn's workers are not
    # gunicorn's, whose classes cannot be made without gunicorn's server.
    cls = SyncWorker if SERVER.cfg.worker_class_str == "sync" else ThreadWorker
    worker = cls(age, ppid, list(SERVER.LISTENERS), SERVER.app, SERVER.cfg.timeout / 2.0, SERVER.cfg, SERVER.log)
    if pid is not None:
        worker.pid = pid
    return worker


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
        # gunicorn's are the peer's (host, port), a Unix socket's peer its name ("").
        remote = environ.get("REMOTE_ADDR", "")
        port = environ.get("REMOTE_PORT", "")
        self.peer_addr = (remote, int(port)) if port.isdigit() else remote
        self.remote_addr = self.peer_addr

    def __repr__(self):
        return "<forkhorn Request %s %s>" % (self.method, self.uri)


class Response:
    """gunicorn's response as `post_request` sees it: `status` ("200 OK"), `status_code`, the
    application's `headers` (a list of pairs, `Content-Length` included), `response_length`
    (the Content-Length given, or None) and `sent` (body bytes sent)."""

    def __init__(self, status, headers=(), response_length=None, sent=0):
        self.status = status
        try:
            self.status_code = int(status.split(None, 1)[0])
        except (ValueError, IndexError):
            self.status_code = None
        self.headers = list(headers)
        self.response_length = response_length
        self.sent = sent
        self.chunked = False
        self.headers_sent = True

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
    # The file's other gunicorn settings, for what forkhorn's configuration does not carry.
    known = set(name for name, _, _ in SETTINGS) - set(HOOK_NAMES)
    FILE_VALUES.clear()
    FILE_VALUES.update(
        (name, value) for name, value in vars(module).items()
        if name in known and not isinstance(value, types.ModuleType)
    )
    return sorted(HOOKS)


def configure(toml_text):
    """Makes forkhorn's configuration (as TOML) what hooks read as `server.cfg`."""
    SERVER.cfg = make_config(tomllib.loads(toml_text))
    SERVER.log.cfg = SERVER.cfg
    if WORKER is not None:
        WORKER.cfg = SERVER.cfg


def listening(listeners):
    """The master's sockets, as (address, descriptor) pairs, became these."""
    SERVER.LISTENERS = [Listener(address, fd) for address, fd in listeners]


def forked(age, pid):
    """Master, after forking the worker of `age` (pre_fork's object, given its pid)."""
    worker = PENDING.pop(age, None) or new_worker(age, pid, os.getpid())
    worker.pid = pid
    SERVER.WORKERS[pid] = worker


def worker_loaded(app):
    """Worker: its app is loaded (`app` the WSGI callable, None for a built-in app)."""
    if WORKER is not None:
        WORKER.wsgi = app
    SERVER.app.callable = app


# Master: the worker objects made for pre_fork, by age, until the fork gives them a pid.
PENDING = {}


def _run(name, *args):
    hook = HOOKS.get(name)
    if hook is None:
        return
    try:
        hook(*args)
    except BaseException:  # A hook's SystemExit does not end the server either.
        SERVER.log.error("Exception in %s hook\n%s", name, traceback.format_exc().rstrip())


def call(name, num_workers, worker, *args):
    """Calls hook `name`; `worker` is (age, pid, ppid) for the hooks that take a worker. The
    worker objects are gunicorn's: the one pre_fork receives is the one the master keeps in
    `WORKERS` and passes to child_exit, and the one the worker process inherits (post_fork on)."""
    global WORKER
    SERVER.num_workers = num_workers
    if name == "nworkers_changed":
        return _run(name, SERVER, *args)
    if worker is None:
        return _run(name, SERVER)
    age, pid, ppid = worker
    if name == "pre_fork":
        SERVER.worker_age = max(SERVER.worker_age, age)
        PENDING[age] = new_worker(age, None, ppid)
        return _run(name, SERVER, PENDING[age])
    if name == "child_exit":
        gone = SERVER.WORKERS.pop(pid, None) or new_worker(age, pid, ppid)
        gone.alive = False
        return _run(name, SERVER, gone)
    if name == "post_fork":
        # This process is that worker from now on; the others' objects are the master's.
        WORKER = PENDING.pop(age, None) or new_worker(age, pid, ppid)
        WORKER.pid = pid
        PENDING.clear()
        return _run(name, SERVER, WORKER)
    current = WORKER if WORKER is not None else new_worker(age, pid, ppid)
    if name == "post_worker_init":
        # As gunicorn's worker: booted once post_worker_init has run, as the loop starts.
        try:
            return _run(name, current)
        finally:
            current.booted = True
    if name in ("worker_int", "worker_abort", "worker_exit"):
        current.alive = False
    if name == "worker_abort":
        current.aborted = True
    if name == "worker_exit":
        return _run(name, SERVER, current)
    return _run(name, current)


def pre_request(environ):
    """Calls `pre_request`; returns the request object for `post_request`, and the traceback of
    what the hook raised (the request then fails, as in gunicorn) or None."""
    req = Request(environ)
    current = WORKER
    hook = HOOKS.get("pre_request")
    try:
        if hook is not None:
            try:
                hook(current, req)
            except Exception:
                return req, traceback.format_exc().rstrip()
        return req, None
    finally:
        # As gunicorn's worker: the request counts after pre_request (its first sees nr 0).
        if current is not None:
            current.nr += 1


def post_request(req, environ, resp):
    """Calls `post_request`; `resp` (status, headers, response_length, sent) None
    (pre_request raised) passes no response and an empty environ, as gunicorn does."""
    hook = HOOKS.get("post_request")
    if hook is None:
        return
    try:
        hook(WORKER, req, environ if resp is not None else {}, Response(*resp) if resp is not None else None)
    except Exception:
        SERVER.log.error("Exception in post_request hook\n%s", traceback.format_exc().rstrip())
