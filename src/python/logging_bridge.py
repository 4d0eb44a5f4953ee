"""forkhorn's error log under gunicorn's logger name. Apps written for gunicorn take the
handlers and level of `logging.getLogger("gunicorn.error")` (Flask's and Django's usual set-up
under gunicorn); here that logger writes into forkhorn's error log, at its level, so their lines
land where gunicorn's would, formatted as forkhorn's own."""

import logging


class ForkhornHandler(logging.Handler):
    """Hands each record, formatted (a traceback included), to forkhorn's log."""

    # gunicorn marks its own handlers so that a new set-up replaces them; so does this one.
    _gunicorn = True

    def emit(self, record):
        try:
            text = self.format(record)
        except Exception:
            self.handleError(record)
            return
        _emit(record.levelno, text)  # noqa: F821 (set by Rust)


def install(level):
    """Makes `gunicorn.error` log to forkhorn at `level` (logging's name), replacing the
    handler an earlier call put there, and not passing records on to the root logger (as
    gunicorn's does not)."""
    log = logging.getLogger("gunicorn.error")
    for handler in list(log.handlers):
        if getattr(handler, "_gunicorn", False):
            log.removeHandler(handler)
    handler = ForkhornHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False
