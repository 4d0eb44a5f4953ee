"""A stand-in for the `gunicorn` package, for config files that import it where it is not
installed (uninstalling it is the natural step after switching): `gunicorn.SERVER`, which
such files set to change the Server header, and `gunicorn.glogging.Logger`, which they
subclass as `logger_class`. Prepended to the config evaluator and the hooks loader."""

import sys as _sys
import types as _types


def install_gunicorn_stand_in():
    try:
        import gunicorn  # noqa: F401  (the real one, when the virtualenv has it)
        return
    except ImportError:
        pass
    package = _types.ModuleType("gunicorn")
    package.__path__ = []
    package.version_info = (27, 0, 1)
    package.__version__ = "27.0.1"
    package.SERVER = "gunicorn"
    package.SERVER_SOFTWARE = "gunicorn/27.0.1"
    glogging = _types.ModuleType("gunicorn.glogging")

    class Logger:
        """gunicorn's logger class, to subclass; forkhorn's own logger does the logging."""

        def __init__(self, cfg=None):
            self.cfg = cfg

        def setup(self, cfg):
            self.cfg = cfg

        def _log(self, *args, **kwargs):
            pass

        critical = error = warning = info = debug = exception = log = access = _log

        def reopen_files(self):
            pass

        def close_on_exec(self):
            pass

    glogging.Logger = Logger
    package.glogging = glogging
    _sys.modules["gunicorn"] = package
    _sys.modules["gunicorn.glogging"] = glogging


def gunicorn_server_name():
    """What the file set `gunicorn.SERVER` to, if it changed it (None otherwise)."""
    server = getattr(_sys.modules.get("gunicorn"), "SERVER", "gunicorn")
    return None if server == "gunicorn" or not isinstance(server, str) else server


