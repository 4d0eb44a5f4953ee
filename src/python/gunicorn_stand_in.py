"""A stand-in for the `gunicorn` package, for config files and hooks that import it where it is
not installed (uninstalling it is the natural step after switching). Prepended to the config
evaluator and the hooks loader.

What real config files import is here, with gunicorn's names and behaviour where it makes
sense without gunicorn's server: `gunicorn.SERVER` (set to change the Server header),
`gunicorn.glogging` (`Logger` to subclass as `logger_class`, `CONFIG_DEFAULTS` to build a
`logconfig_dict` from), `gunicorn.config.Config` (every gunicorn setting, with gunicorn's
defaults), `gunicorn.util` (the helpers hooks call), and the classes hooks receive instances of
(`gunicorn.arbiter.Arbiter`, `gunicorn.workers.base.Worker` and its sync and gthread
subclasses, `gunicorn.app.base.Application`). The hooks module (hooks.py) builds the objects
it passes to hooks from these classes, so `isinstance` checks against them hold.
"""

import ast as _ast
import email.utils as _email_utils
import importlib as _importlib
import logging as _logging
import os as _os
import socket as _socket
import sys as _sys
import time as _time
import types as _types
import urllib.parse as _urlparse

_VERSION_INFO = (27, 0, 1)
_VERSION = ".".join(str(v) for v in _VERSION_INFO)


# --- gunicorn.errors ---


class HaltServer(BaseException):
    def __init__(self, reason, exit_status=1):
        self.reason = reason
        self.exit_status = exit_status

    def __str__(self):
        return "<HaltServer %r %d>" % (self.reason, self.exit_status)


class ConfigError(Exception):
    """Exception raised on config error."""


class AppImportError(Exception):
    """Exception raised when loading an application."""


# --- gunicorn.util ---


def getcwd():
    """The working directory, spelt as $PWD when that is the same directory (symbolic links
    kept, as gunicorn reports it)."""
    cwd = _os.getcwd()
    try:
        pwd = _os.environ["PWD"]
        a, b = _os.stat(pwd), _os.stat(cwd)
    except (KeyError, OSError):
        return cwd
    return pwd if (a.st_ino, a.st_dev) == (b.st_ino, b.st_dev) else cwd


def http_date(timestamp=None):
    """A date for a message header: `Sun, 06 Nov 1994 08:49:37 GMT`."""
    return _email_utils.formatdate(_time.time() if timestamp is None else timestamp, usegmt=True)


def is_ipv6(addr):
    try:
        _socket.inet_pton(_socket.AF_INET6, addr)
    except (OSError, ValueError):
        return False
    return True


def parse_address(netloc, default_port="8000"):
    """A `bind` entry as gunicorn's `cfg.address` holds it: (host, port) for TCP, the path for
    `unix:PATH`, the descriptor for `fd://N`."""
    if netloc.startswith("unix:"):
        path = netloc[len("unix:"):]
        return path[2:] if path.startswith("//") else path
    if netloc.startswith("fd://"):
        try:
            return int(netloc[len("fd://"):])
        except ValueError:
            raise RuntimeError("%r is not a valid file descriptor." % netloc[len("fd://"):]) from None
    if netloc.startswith("tcp://"):
        netloc = netloc[len("tcp://"):]
    host, port = netloc, default_port
    if "[" in netloc and "]" in netloc:
        host = netloc.split("]")[0][1:]
        port = (netloc.split("]:") + [default_port])[1]
    elif ":" in netloc:
        host, port = (netloc.split(":") + [default_port])[:2]
    elif netloc == "":
        host = "0.0.0.0"
    try:
        port = int(port)
    except ValueError:
        raise RuntimeError("%r is not a valid port number." % port) from None
    return host.lower(), port


def bytes_to_str(b):
    return b if isinstance(b, str) else str(b, "latin1")


def to_bytestring(value, encoding="utf8"):
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise TypeError("%r is not a string" % value)
    return value.encode(encoding)


def split_request_uri(uri):
    # A target starting with // is a path, not a network location (RFC 9112 origin-form).
    if uri.startswith("//"):
        parts = _urlparse.urlsplit("." + uri)
        return parts._replace(path=parts.path[1:])
    return _urlparse.urlsplit(uri)


_HOP_HEADERS = frozenset((
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
    "transfer-encoding", "upgrade", "server", "date",
))


def is_hoppish(header):
    return header.lower().strip() in _HOP_HEADERS


def get_username(uid):
    import pwd
    return pwd.getpwuid(uid).pw_name


def unlink(filename):
    try:
        _os.unlink(filename)
    except (FileNotFoundError, NotADirectoryError):
        pass  # The file need not exist.


def check_is_writable(path):
    try:
        with open(path, "a"):
            pass
    except OSError as e:
        raise RuntimeError("Error: '%s' isn't writable [%r]" % (path, e)) from None


def close_on_exec(fd):
    _os.set_inheritable(fd, False)


def set_non_blocking(fd):
    _os.set_blocking(fd, False)


def warn(msg):
    lines = msg.splitlines() or [""]
    print("!!!", file=_sys.stderr)
    print("!!! WARNING: %s" % lines[0], file=_sys.stderr)
    for line in lines[1:]:
        print("!!! %s" % line, file=_sys.stderr)
    print("!!!\n", file=_sys.stderr)
    _sys.stderr.flush()


def import_app(module):
    """`module:expression` (gunicorn's app spec: a name, or a call with literal arguments;
    `application` when only the module is given) imported and evaluated."""
    module, _, obj = module.partition(":")
    obj = obj or "application"
    mod = _importlib.import_module(module)
    try:
        expression = _ast.parse(obj, mode="eval").body
    except SyntaxError:
        raise AppImportError("Failed to parse %r as an attribute name or function call." % obj) from None
    if isinstance(expression, _ast.Name):
        name, call = expression.id, None
    elif isinstance(expression, _ast.Call) and isinstance(expression.func, _ast.Name):
        name = expression.func.id
        try:
            call = (
                [_ast.literal_eval(a) for a in expression.args],
                {k.arg: _ast.literal_eval(k.value) for k in expression.keywords},
            )
        except ValueError:
            raise AppImportError("Failed to parse arguments as literal values: %r" % obj) from None
    else:
        raise AppImportError("Failed to parse %r as an attribute name or function call." % obj)
    try:
        app = getattr(mod, name)
    except AttributeError:
        raise AppImportError("Failed to find attribute %r in %r." % (name, module)) from None
    if call is not None:
        app = app(*call[0], **call[1])
    if app is None:
        raise AppImportError("Failed to find application object: %r" % obj)
    if not callable(app):
        raise AppImportError("Application object must be callable.")
    return app


def load_class(uri, default="gunicorn.workers.sync.SyncWorker", section="gunicorn.workers"):
    """A class, or its dotted path imported; gunicorn's short worker names give the stand-in's
    worker classes."""
    if isinstance(uri, type):
        return uri
    uri = uri.lstrip("#")
    if "." not in uri:
        uri = _WORKER_CLASSES.get(uri, default)
    module, _, name = uri.rpartition(".")
    try:
        return getattr(_importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise RuntimeError("class uri %r invalid or not found: %s" % (uri, e)) from None


# gunicorn's worker names: forkhorn serves the async ones on threads (docs/GUNICORN.md), so
# their class here is the threaded worker's.
_WORKER_CLASSES = {
    "sync": "gunicorn.workers.sync.SyncWorker",
    "gthread": "gunicorn.workers.gthread.ThreadWorker",
    "gevent": "gunicorn.workers.gthread.ThreadWorker",
    "eventlet": "gunicorn.workers.gthread.ThreadWorker",
    "tornado": "gunicorn.workers.gthread.ThreadWorker",
}


# --- gunicorn.config ---


def _hook(*params):
    """A hook that does nothing, with gunicorn's parameters (what `cfg.NAME` gives for a hook
    the file does not define)."""
    def hook(*args):
        return None
    hook.__doc__ = "gunicorn's default: does nothing (%s)." % ", ".join(params)
    return hook


def _ssl_context(config, default_ssl_context_factory):
    return default_ssl_context_factory()


def _user():
    return _os.geteuid()


def _group():
    return _os.getegid()


def _ssl_version():
    import ssl
    return ssl.PROTOCOL_TLS


def _control_socket():
    runtime = _os.environ.get("XDG_RUNTIME_DIR")
    if runtime and _os.path.isdir(runtime):
        return _os.path.join(runtime, "gunicorn.ctl")
    return _os.path.join(_os.path.expanduser("~"), ".gunicorn", "gunicorn.ctl")


class _Computed:
    """A default computed when the Config is made (gunicorn computes these at import)."""

    def __init__(self, make):
        self.make = make


_SERVER_HOOKS = "Server Hooks"
_DIRTY_HOOKS = "Dirty Arbiter Hooks"

# gunicorn's settings, in gunicorn's order: (name, section, default). Mutable defaults are
# copied for each Config.
SETTINGS = (
    ("config", "Config File", "./gunicorn.conf.py"),
    ("wsgi_app", "Config File", None),
    ("bind", "Server Socket", ["127.0.0.1:8000"]),
    ("backlog", "Server Socket", 2048),
    ("workers", "Worker Processes", 1),
    ("worker_class", "Worker Processes", "sync"),
    ("threads", "Worker Processes", 1),
    ("worker_connections", "Worker Processes", 1000),
    ("max_requests", "Worker Processes", 0),
    ("max_requests_jitter", "Worker Processes", 0),
    ("timeout", "Worker Processes", 30),
    ("graceful_timeout", "Worker Processes", 30),
    ("keepalive", "Worker Processes", 2),
    ("limit_request_line", "Security", 4094),
    ("limit_request_fields", "Security", 100),
    ("limit_request_field_size", "Security", 8190),
    ("reload", "Debugging", False),
    ("reload_engine", "Debugging", "auto"),
    ("reload_extra_files", "Debugging", []),
    ("spew", "Debugging", False),
    ("check_config", "Debugging", False),
    ("print_config", "Debugging", False),
    ("preload_app", "Server Mechanics", False),
    ("sendfile", "Server Mechanics", None),
    ("reuse_port", "Server Mechanics", False),
    ("chdir", "Server Mechanics", _Computed(getcwd)),
    ("daemon", "Server Mechanics", False),
    ("raw_env", "Server Mechanics", []),
    ("pidfile", "Server Mechanics", None),
    ("worker_tmp_dir", "Server Mechanics", None),
    ("user", "Server Mechanics", _Computed(_user)),
    ("group", "Server Mechanics", _Computed(_group)),
    ("umask", "Server Mechanics", 0),
    ("initgroups", "Server Mechanics", False),
    ("tmp_upload_dir", "Server Mechanics", None),
    ("secure_scheme_headers", "Server Mechanics",
     {"X-FORWARDED-PROTOCOL": "ssl", "X-FORWARDED-PROTO": "https", "X-FORWARDED-SSL": "on"}),
    ("forwarded_allow_ips", "Server Mechanics", ["127.0.0.1", "::1"]),
    ("accesslog", "Logging", None),
    ("disable_redirect_access_to_syslog", "Logging", False),
    ("access_log_format", "Logging", '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'),
    ("errorlog", "Logging", "-"),
    ("loglevel", "Logging", "info"),
    ("capture_output", "Logging", False),
    ("logger_class", "Logging", "gunicorn.glogging.Logger"),
    ("logconfig", "Logging", None),
    ("logconfig_dict", "Logging", {}),
    ("logconfig_json", "Logging", None),
    ("syslog_addr", "Logging", "udp://localhost:514"),
    ("syslog", "Logging", False),
    ("syslog_prefix", "Logging", None),
    ("syslog_facility", "Logging", "user"),
    ("enable_stdio_inheritance", "Logging", False),
    ("statsd_host", "Logging", None),
    ("dogstatsd_tags", "Logging", ""),
    ("statsd_prefix", "Logging", ""),
    ("enable_backlog_metric", "Logging", False),
    ("proc_name", "Process Naming", None),
    ("default_proc_name", "Process Naming", "gunicorn"),
    ("pythonpath", "Server Mechanics", None),
    ("paste", "Server Mechanics", None),
    ("on_starting", _SERVER_HOOKS, _hook("server")),
    ("on_reload", _SERVER_HOOKS, _hook("server")),
    ("when_ready", _SERVER_HOOKS, _hook("server")),
    ("pre_fork", _SERVER_HOOKS, _hook("server", "worker")),
    ("post_fork", _SERVER_HOOKS, _hook("server", "worker")),
    ("post_worker_init", _SERVER_HOOKS, _hook("worker")),
    ("worker_int", _SERVER_HOOKS, _hook("worker")),
    ("worker_abort", _SERVER_HOOKS, _hook("worker")),
    ("pre_exec", _SERVER_HOOKS, _hook("server")),
    ("pre_request", _SERVER_HOOKS, _hook("worker", "req")),
    ("post_request", _SERVER_HOOKS, _hook("worker", "req", "environ", "resp")),
    ("child_exit", _SERVER_HOOKS, _hook("server", "worker")),
    ("worker_exit", _SERVER_HOOKS, _hook("server", "worker")),
    ("nworkers_changed", _SERVER_HOOKS, _hook("server", "new_value", "old_value")),
    ("on_exit", _SERVER_HOOKS, _hook("server")),
    ("ssl_context", _SERVER_HOOKS, _ssl_context),
    ("proxy_protocol", "Server Mechanics", "off"),
    ("proxy_allow_ips", "Server Mechanics", ["127.0.0.1", "::1"]),
    ("protocol", "Server Mechanics", "http"),
    ("uwsgi_allow_ips", "Server Mechanics", ["127.0.0.1", "::1"]),
    ("keyfile", "SSL", None),
    ("certfile", "SSL", None),
    ("ssl_version", "SSL", _Computed(_ssl_version)),
    ("cert_reqs", "SSL", 0),
    ("ca_certs", "SSL", None),
    ("suppress_ragged_eofs", "SSL", True),
    ("do_handshake_on_connect", "SSL", False),
    ("ciphers", "SSL", None),
    ("http_protocols", "HTTP/2", ["h1"]),
    ("http2_cleartext", "HTTP/2", "off"),
    ("http2_max_concurrent_streams", "HTTP/2", 100),
    ("http2_initial_window_size", "HTTP/2", 65535),
    ("http2_max_frame_size", "HTTP/2", 16384),
    ("http2_max_header_list_size", "HTTP/2", 65536),
    ("raw_paste_global_conf", "Server Mechanics", []),
    ("permit_obsolete_folding", "Server Mechanics", False),
    ("strip_header_spaces", "Server Mechanics", False),
    ("permit_unconventional_http_method", "Server Mechanics", False),
    ("permit_unconventional_http_version", "Server Mechanics", False),
    ("casefold_http_method", "Server Mechanics", False),
    ("forwarder_headers", "Server Mechanics", ["SCRIPT_NAME", "PATH_INFO"]),
    ("header_map", "Server Mechanics", "drop"),
    ("asgi_loop", "Worker Processes", "auto"),
    ("asgi_lifespan", "Worker Processes", "auto"),
    ("asgi_disconnect_grace_period", "Worker Processes", 3),
    ("http_parser", "Worker Processes", "auto"),
    ("root_path", "Server Mechanics", ""),
    ("dirty_apps", "Dirty Arbiters", []),
    ("dirty_workers", "Dirty Arbiters", 0),
    ("dirty_timeout", "Dirty Arbiters", 300),
    ("dirty_threads", "Dirty Arbiters", 1),
    ("dirty_graceful_timeout", "Dirty Arbiters", 30),
    ("on_dirty_starting", _DIRTY_HOOKS, _hook("arbiter")),
    ("dirty_post_fork", _DIRTY_HOOKS, _hook("arbiter", "worker")),
    ("dirty_worker_init", _DIRTY_HOOKS, _hook("worker")),
    ("dirty_worker_exit", _DIRTY_HOOKS, _hook("arbiter", "worker")),
    ("control_socket", "Control", _Computed(_control_socket)),
    ("control_socket_mode", "Control", 0o600),
    ("control_socket_disable", "Control", False),
)


class Setting:
    """One setting as `cfg.settings[NAME]` holds it: `name`, `section`, `value`, `default`,
    `get()` and `set()`."""

    def __init__(self, name, section, default, order):
        self.name = name
        self.section = section
        self.default = default
        self.value = default
        self.order = order

    def get(self):
        return self.value

    def set(self, value):
        self.value = value

    def copy(self):
        twin = Setting(self.name, self.section, self.default, self.order)
        twin.value = self.value
        return twin

    def __lt__(self, other):
        return (self.section, self.order) < (other.section, other.order)

    def __repr__(self):
        return "<%s.%s object at %x with value %r>" % (type(self).__module__, self.name, id(self), self.value)


def _fresh(default):
    if isinstance(default, _Computed):
        return default.make()
    if isinstance(default, (list, dict)):
        return type(default)(default)
    return default


def make_settings(ignore=None):
    ignore = ignore or ()
    return {
        name: Setting(name, section, _fresh(default), order)
        for order, (name, section, default) in enumerate(SETTINGS)
        if name not in ignore
    }


class Config:
    """gunicorn's configuration: each setting an attribute (`cfg.workers`), and
    `cfg.settings[NAME]` the Setting; a name that is no setting raises AttributeError, as in
    gunicorn. The derived properties (`address`, `uid`, `env`, `proc_name`, ...) are gunicorn's."""

    def __init__(self, usage=None, prog=None):
        self.settings = make_settings()
        self.usage = usage
        self.prog = prog or _os.path.basename(_sys.argv[0] if _sys.argv else "gunicorn")
        self.env_orig = _os.environ.copy()

    def __getattr__(self, name):
        if name == "settings" or name.startswith("__"):
            raise AttributeError(name)
        if name not in self.settings:
            raise AttributeError("No configuration setting for: %s" % name)
        return self.settings[name].get()

    def __setattr__(self, name, value):
        if name != "settings" and name in self.__dict__.get("settings", ()):
            raise AttributeError("Invalid access!")
        super().__setattr__(name, value)

    def __str__(self):
        width = max(len(k) for k in self.settings)
        lines = []
        for key in sorted(self.settings):
            value = self.settings[key].value
            if callable(value):
                value = "<%s()>" % getattr(value, "__qualname__", type(value).__name__)
            lines.append("%-*s = %s" % (width, key, value))
        return "\n".join(lines)

    def set(self, name, value):
        if name not in self.settings:
            raise AttributeError("No configuration setting for: %s" % name)
        self.settings[name].set(value)

    def get_cmd_args_from_env(self):
        import shlex
        return shlex.split(self.env_orig.get("GUNICORN_CMD_ARGS", ""))

    @property
    def worker_class_str(self):
        uri = self.settings["worker_class"].get()
        if isinstance(uri, str):
            if (uri == "sync" or uri.endswith("SyncWorker")) and self.threads > 1:
                return "gthread"
            return uri
        return uri.__name__

    @property
    def worker_class(self):
        uri = self.settings["worker_class"].get()
        if isinstance(uri, str) and (uri == "sync" or uri.endswith("SyncWorker")) and self.threads > 1:
            uri = "gthread"
        return load_class(uri)

    @property
    def address(self):
        return [parse_address(bytes_to_str(b)) for b in self.settings["bind"].get()]

    @property
    def uid(self):
        return self.settings["user"].get()

    @property
    def gid(self):
        return self.settings["group"].get()

    @property
    def proc_name(self):
        name = self.settings["proc_name"].get()
        return name if name is not None else self.settings["default_proc_name"].get()

    @property
    def logger_class(self):
        uri = self.settings["logger_class"].get()
        if uri in ("simple", "gunicorn.glogging.Logger"):
            return _sys.modules["gunicorn.glogging"].Logger if "gunicorn.glogging" in _sys.modules else Logger
        try:
            return load_class(uri)
        except RuntimeError:
            return Logger

    @property
    def is_ssl(self):
        return self.certfile or self.keyfile

    @property
    def ssl_options(self):
        return {name: s.get() for name, s in self.settings.items() if s.section == "SSL"}

    @property
    def env(self):
        env = {}
        for entry in self.settings["raw_env"].get() or ():
            key, sep, value = bytes_to_str(entry).partition("=")
            if not sep:
                raise RuntimeError("environment setting %r invalid" % entry)
            env[key] = value
        return env

    @property
    def sendfile(self):
        if self.settings["sendfile"].get() is not None:
            return False
        if "SENDFILE" in _os.environ:
            return _os.environ["SENDFILE"].lower() in ("y", "1", "yes", "true")
        return True

    @property
    def reuse_port(self):
        return self.settings["reuse_port"].get()

    @property
    def paste_global_conf(self):
        raw = self.settings["raw_paste_global_conf"].get()
        if raw is None:
            return None
        conf = {}
        for entry in raw:
            key, sep, value = bytes_to_str(entry).partition("=")
            if not sep:
                raise RuntimeError("environment setting %r invalid" % entry)
            conf[key] = value
        return conf

    def forwarded_allow_networks(self):
        import ipaddress
        return [ipaddress.ip_network(a) for a in self.forwarded_allow_ips if a != "*"]

    def proxy_allow_networks(self):
        import ipaddress
        return [ipaddress.ip_network(a) for a in self.proxy_allow_ips if a != "*"]


# --- gunicorn.glogging ---

CONFIG_DEFAULTS = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "INFO", "handlers": ["console"]},
    "loggers": {
        "gunicorn.error": {
            "level": "INFO", "handlers": ["error_console"], "propagate": True,
            "qualname": "gunicorn.error",
        },
        "gunicorn.access": {
            "level": "INFO", "handlers": ["console"], "propagate": True,
            "qualname": "gunicorn.access",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "generic", "stream": "ext://sys.stdout"},
        "error_console": {"class": "logging.StreamHandler", "formatter": "generic", "stream": "ext://sys.stderr"},
    },
    "formatters": {
        "generic": {
            "format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
            "datefmt": "[%Y-%m-%d %H:%M:%S %z]",
            "class": "logging.Formatter",
        },
    },
}


class SafeAtoms(dict):
    """Access-log atoms: a missing one is `-`, `{header}i`-style keys case-insensitively."""

    def __init__(self, atoms):
        dict.__init__(self)
        for key, value in atoms.items():
            self[key] = value.replace('"', '\\"') if isinstance(value, str) else value

    def __getitem__(self, key):
        if key.startswith("{"):
            key = key.lower()
        return super().__getitem__(key) if key in self else "-"


class Logger:
    """gunicorn's logger class, to subclass (as `logger_class`) and to call: its methods log to
    Python's `gunicorn.error` and `gunicorn.access` loggers, as gunicorn's do. forkhorn's own
    logger writes forkhorn's logs; a `logger_class` is not used (docs/GUNICORN.md)."""

    LOG_LEVELS = {
        "critical": _logging.CRITICAL, "error": _logging.ERROR, "warning": _logging.WARNING,
        "info": _logging.INFO, "debug": _logging.DEBUG,
    }
    loglevel = _logging.INFO

    error_fmt = r"%(asctime)s [%(process)d] [%(levelname)s] %(message)s"
    datefmt = r"[%Y-%m-%d %H:%M:%S %z]"
    access_fmt = "%(message)s"
    syslog_fmt = "[%(process)d] %(message)s"

    atoms_wrapper_class = SafeAtoms

    def __init__(self, cfg=None):
        self.error_log = _logging.getLogger("gunicorn.error")
        self.access_log = _logging.getLogger("gunicorn.access")
        self.error_handlers = []
        self.access_handlers = []
        self.logfile = None
        self.cfg = cfg
        if cfg is not None:
            self.setup(cfg)

    def setup(self, cfg):
        self.cfg = cfg
        level = getattr(cfg, "loglevel", None) or "info"
        self.loglevel = self.LOG_LEVELS.get(str(level).lower(), _logging.INFO)
        self.error_log.setLevel(self.loglevel)
        self.access_log.setLevel(_logging.INFO)

    def critical(self, msg, *args, **kwargs):
        self.error_log.critical(msg, *args, **kwargs)

    def error(self, msg, *args, **kwargs):
        self.error_log.error(msg, *args, **kwargs)

    def warning(self, msg, *args, **kwargs):
        self.error_log.warning(msg, *args, **kwargs)

    def info(self, msg, *args, **kwargs):
        self.error_log.info(msg, *args, **kwargs)

    def debug(self, msg, *args, **kwargs):
        self.error_log.debug(msg, *args, **kwargs)

    def exception(self, msg, *args, **kwargs):
        self.error_log.exception(msg, *args, **kwargs)

    def log(self, lvl, msg, *args, **kwargs):
        if isinstance(lvl, str):
            lvl = self.LOG_LEVELS.get(lvl.lower(), _logging.INFO)
        self.error_log.log(lvl, msg, *args, **kwargs)

    def now(self):
        """The date in Apache's Common Log Format."""
        return _time.strftime("[%d/%b/%Y:%H:%M:%S %z]")

    def _get_user(self, environ):
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if not auth.lower().startswith("basic "):
            return None
        import base64
        import binascii
        try:
            return base64.b64decode(auth.split(" ", 1)[1].strip().encode()).split(b":", 1)[0].decode()
        except (TypeError, binascii.Error, UnicodeDecodeError):
            return None

    def atoms(self, resp, req, environ, request_time):
        """The access-log atoms (`h`, `r`, `s`, `{header}i`, ...) of one request;
        `request_time` is a datetime.timedelta."""
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        seconds, micros = request_time.seconds, request_time.microseconds
        atoms = {
            "h": environ.get("REMOTE_ADDR", "-"),
            "l": "-",
            "u": self._get_user(environ) or "-",
            "t": self.now(),
            "r": "%s %s %s" % (environ.get("REQUEST_METHOD"), environ.get("RAW_URI"), environ.get("SERVER_PROTOCOL")),
            "s": status,
            "m": environ.get("REQUEST_METHOD"),
            "U": environ.get("PATH_INFO"),
            "q": environ.get("QUERY_STRING"),
            "H": environ.get("SERVER_PROTOCOL"),
            "b": str(sent) if sent is not None else "-",
            "B": sent,
            "f": environ.get("HTTP_REFERER", "-"),
            "a": environ.get("HTTP_USER_AGENT", "-"),
            "T": seconds,
            "D": seconds * 1000000 + micros,
            "M": seconds * 1000 + micros // 1000,
            "L": "%d.%06d" % (seconds, micros),
            "p": "<%s>" % _os.getpid(),
        }
        headers = getattr(req, "headers", req)
        headers = headers.items() if hasattr(headers, "items") else headers
        atoms.update({"{%s}i" % k.lower(): v for k, v in headers})
        out = getattr(resp, "headers", ())
        out = out.items() if hasattr(out, "items") else out
        atoms.update({"{%s}o" % k.lower(): v for k, v in out})
        atoms.update({"{%s}e" % k.lower(): v for k, v in environ.items()})
        return atoms

    @property
    def access_log_enabled(self):
        cfg = self.cfg
        if cfg is None:
            return False
        return bool(
            cfg.accesslog or cfg.logconfig or cfg.logconfig_dict or cfg.logconfig_json
            or (cfg.syslog and not cfg.disable_redirect_access_to_syslog)
        )

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        atoms = self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
        try:
            self.access_log.info(self.cfg.access_log_format, atoms)
        except Exception:
            import traceback
            self.error(traceback.format_exc())

    def reopen_files(self):
        """forkhorn reopens its logs on USR1 itself."""

    def close_on_exec(self):
        """forkhorn's log descriptors are close-on-exec already."""


# --- gunicorn.app.base, gunicorn.app.wsgiapp ---


class BaseApplication:
    """gunicorn's application: `cfg`, and `wsgi()`, the WSGI callable (loaded on first use)."""

    def __init__(self, usage=None, prog=None):
        self.usage = usage
        self.prog = prog
        self.cfg = Config(usage, prog)
        self.callable = None
        self.logger = None

    def load_default_config(self):
        self.cfg = Config(self.usage, prog=self.prog)

    def load_config(self):
        """Subclasses set settings on `self.cfg` here."""

    def load(self):
        raise NotImplementedError

    def reload(self):
        self.load_default_config()
        self.load_config()

    def wsgi(self):
        if self.callable is None:
            self.callable = self.load()
        return self.callable

    def run(self):
        raise RuntimeError(
            "forkhorn does not run gunicorn applications from Python: start the forkhorn command "
            "with the app and settings instead"
        )


class Application(BaseApplication):
    def chdir(self):
        _os.chdir(self.cfg.chdir)
        if self.cfg.chdir not in _sys.path:
            _sys.path.insert(0, self.cfg.chdir)


class WSGIApplication(Application):
    app_uri = None

    def load(self):
        return import_app(self.app_uri)


# --- gunicorn.workers.base, .sync, .gthread ---


class WorkerTmp:
    """gunicorn's heartbeat file: forkhorn's workers beat through shared memory instead, so
    `notify()` only remembers when it was called, and `last_update()` tells."""

    def __init__(self, cfg=None):
        self._last = _time.monotonic()

    def notify(self):
        self._last = _time.monotonic()

    def last_update(self):
        return self._last

    def close(self):
        pass


class Worker:
    """gunicorn's worker: `age`, `pid`, `ppid`, `sockets`, `app`, `timeout`, `cfg`, `log`,
    `booted`, `alive`, `nr`, `max_requests`, `tmp`, `wsgi`."""

    def __init__(self, age, ppid, sockets, app, timeout, cfg, log):
        self.age = age
        self.pid = "[booting]"
        self.ppid = ppid
        self.sockets = sockets
        self.app = app
        self.timeout = timeout
        self.cfg = cfg
        self.booted = False
        self.aborted = False
        self.reloader = None
        self.nr = 0
        max_requests = getattr(cfg, "max_requests", 0) or 0
        self.max_requests = max_requests if max_requests > 0 else _sys.maxsize
        self.alive = True
        self.log = log
        self.tmp = WorkerTmp(cfg)
        self.wsgi = None

    def __str__(self):
        return "<Worker %s>" % self.pid

    def notify(self):
        self.tmp.notify()

    def run(self):
        raise NotImplementedError()


class SyncWorker(Worker):
    pass


class ThreadWorker(Worker):
    pass


# --- gunicorn.arbiter ---


class Arbiter:
    """gunicorn's master, as hooks receive it (`server`)."""

    WORKER_BOOT_ERROR = 3
    APP_LOAD_ERROR = 4
    START_CTX = {}
    LISTENERS = []
    WORKERS = {}

    def __init__(self, app):
        self.app = app
        self.cfg = app.cfg
        self.log = Logger(app.cfg)
        self.pid = _os.getpid()
        self.master_pid = 0
        self.reexec_pid = 0
        self.pidfile = None
        self.systemd = False
        self.worker_age = 0
        self.num_workers = self.cfg.workers
        self.timeout = self.cfg.timeout
        self.proc_name = self.cfg.proc_name
        self.address = self.cfg.address


def _module(name, doc, **attrs):
    module = _types.ModuleType(name, doc)
    for key, value in attrs.items():
        if isinstance(value, type) or callable(value):
            # The classes and functions report the module they stand in for.
            try:
                value.__module__ = name
            except (AttributeError, TypeError):
                pass
        setattr(module, key, value)
    return module


def install_gunicorn_stand_in():
    try:
        import gunicorn  # noqa: F401  (the real one, when the virtualenv has it)
        return
    except ImportError:
        pass
    errors = _module(
        "gunicorn.errors", "gunicorn's exceptions.",
        HaltServer=HaltServer, ConfigError=ConfigError, AppImportError=AppImportError,
    )
    util = _module(
        "gunicorn.util", "gunicorn's helpers that hooks and config files call.",
        getcwd=getcwd, http_date=http_date, is_ipv6=is_ipv6, parse_address=parse_address,
        bytes_to_str=bytes_to_str, to_bytestring=to_bytestring, split_request_uri=split_request_uri,
        is_hoppish=is_hoppish, get_username=get_username, unlink=unlink,
        check_is_writable=check_is_writable, close_on_exec=close_on_exec,
        set_non_blocking=set_non_blocking, warn=warn, import_app=import_app, load_class=load_class,
    )
    config = _module(
        "gunicorn.config", "gunicorn's settings and their defaults.",
        Config=Config, Setting=Setting, make_settings=make_settings,
        KNOWN_SETTINGS=[name for name, _, _ in SETTINGS],
    )
    glogging = _module(
        "gunicorn.glogging", "gunicorn's logger, to subclass.",
        Logger=Logger, SafeAtoms=SafeAtoms, CONFIG_DEFAULTS=CONFIG_DEFAULTS,
    )
    app_base = _module(
        "gunicorn.app.base", "gunicorn's application classes.",
        BaseApplication=BaseApplication, Application=Application,
    )
    wsgiapp = _module("gunicorn.app.wsgiapp", "gunicorn's WSGI application.", WSGIApplication=WSGIApplication)
    app = _module("gunicorn.app", "gunicorn's applications.", base=app_base, wsgiapp=wsgiapp)
    app.__path__ = []
    workertmp = _module("gunicorn.workers.workertmp", "gunicorn's heartbeat file.", WorkerTmp=WorkerTmp)
    base = _module("gunicorn.workers.base", "gunicorn's worker class.", Worker=Worker)
    sync = _module("gunicorn.workers.sync", "gunicorn's sync worker.", SyncWorker=SyncWorker)
    gthread = _module("gunicorn.workers.gthread", "gunicorn's threaded worker.", ThreadWorker=ThreadWorker)
    workers = _module(
        "gunicorn.workers", "gunicorn's workers.",
        base=base, sync=sync, gthread=gthread, workertmp=workertmp,
        SUPPORTED_WORKERS=dict(_WORKER_CLASSES),
    )
    workers.__path__ = []
    arbiter = _module("gunicorn.arbiter", "gunicorn's master.", Arbiter=Arbiter)
    package = _module(
        "gunicorn", "A stand-in for gunicorn, given by forkhorn.",
        version_info=_VERSION_INFO, __version__=_VERSION, SERVER="gunicorn",
        SERVER_SOFTWARE="gunicorn/" + _VERSION,
        errors=errors, util=util, config=config, glogging=glogging, app=app, workers=workers,
        arbiter=arbiter,
    )
    package.__path__ = []
    for module in (package, errors, util, config, glogging, app, app_base, wsgiapp, workers,
                   workertmp, base, sync, gthread, arbiter):
        _sys.modules[module.__name__] = module


def gunicorn_server_name():
    """What the file set `gunicorn.SERVER` to, if it changed it (None otherwise)."""
    server = getattr(_sys.modules.get("gunicorn"), "SERVER", "gunicorn")
    return None if server == "gunicorn" or not isinstance(server, str) else server
