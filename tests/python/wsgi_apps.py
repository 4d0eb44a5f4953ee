"""WSGI test apps for forkhorn's Python bridge (tests/python.rs).

`app` routes on PATH_INFO to small PEP 3333 apps; `validated` is `app` wrapped in
wsgiref.validate.validator, with every validator complaint (an AssertionError, a WSGIWarning, an
exception in a destructor) printed as a `VALIDATOR-PROBLEM` line on stderr for the tests to
find. Apps used through `validated` pass a size to every read(), as the validator requires.
"""

import base64
import json
import logging
import os
import signal
import sys
import threading
import time
import warnings
from urllib.parse import parse_qs
from wsgiref.validate import validator

IMPORT_PID = os.getpid()
COUNTS = {"close": 0, "file_reads": 0, "file_closes": 0, "big_writes": 0}


def text(start_response, body, status="200 OK", ctype="text/plain; charset=utf-8"):
    start_response(status, [("Content-Type", ctype)])
    return [body if isinstance(body, bytes) else body.encode("utf-8")]


def as_json(start_response, doc):
    return text(start_response, json.dumps(doc, ensure_ascii=False, separators=(",", ":")), ctype="application/json")


def hello(environ, start_response):
    return text(start_response, b"Hello, World!")


def echo(environ, start_response):
    """The same JSON shape as builtin:echo."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    inp = environ["wsgi.input"]
    body = inp.read(length) if length else inp.read(1 << 30)
    doc = {
        "environ": {k: v for k, v in environ.items() if isinstance(v, str)},
        "body_b64": base64.b64encode(body).decode("ascii"),
    }
    return as_json(start_response, doc)


def types(environ, start_response):
    """The type and value of each non-string key."""
    per_request = ("wsgi.input", "wsgi.errors", "wsgi.early_hints")
    doc = {k: [type(v).__name__, repr(v) if k not in per_request else None]
           for k, v in environ.items() if not isinstance(v, str)}
    return as_json(start_response, doc)


def stream(environ, start_response):
    """A generator body: chunked on HTTP/1.1."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    for i in range(int(environ["QUERY_STRING"] or 3)):
        yield b"chunk %d\n" % i


def lazy(environ, start_response):
    """start_response called from inside the iterable, as PEP 3333 allows."""
    def body():
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b""
        yield b"lazy"
    return body()


class StartsInIter:
    """An iterable whose __iter__ calls start_response."""

    def __init__(self, start_response):
        self.start_response = start_response

    def __iter__(self):
        self.start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"from ", b"__iter__"])


def iter_start(environ, start_response):
    return StartsInIter(start_response)


def write(environ, start_response):
    """The write() callable, then a returned body."""
    w = start_response("200 OK", [("Content-Type", "text/plain")])
    w(b"one ")
    w(b"two ")
    return [b"three"]


def write_big(environ, start_response):
    """8 MiB through write(): more than the socket holds, so write() waits for the client.
    Counts the write() calls that returned, for /counts to tell while a later one waits.
    With ?PATH, a thread first starts that writes PATH while write() waits."""
    if environ["QUERY_STRING"]:
        thread_marker(environ, lambda *a: None)
    w = start_response("200 OK", [("Content-Type", "application/octet-stream")])
    block = bytes(range(256)) * 256
    for _ in range(128):
        w(block)
        COUNTS["big_writes"] += 1
    return []


class Confirmations:
    """Bytes from the FIFO the query names: the test writes one after each block it received,
    so a block that the server held back leaves the test waiting, never the app guessing. The
    FIFO is opened at the first wait (opening blocks until the test opens its end)."""

    def __init__(self, environ):
        self.path = environ["QUERY_STRING"]
        self.fifo = None

    def wait(self):
        if self.fifo is None:
            self.fifo = open(self.path, "rb", buffering=0)
        return self.fifo.read(1) == b"+"

    def close(self):
        if self.fifo is not None:
            self.fifo.close()


def stream_barrier(environ, start_response):
    """Five blocks; block N+1 is made only after the client confirmed block N."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    confirmations = Confirmations(environ)

    def body():
        for i in range(5):
            if i > 0 and not confirmations.wait():
                return
            yield b"block %d\n" % i
        confirmations.close()
    return body()


def write_barrier(environ, start_response):
    """The same five blocks through write()."""
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    confirmations = Confirmations(environ)
    for i in range(5):
        if i > 0 and not confirmations.wait():
            break
        write(b"block %d\n" % i)
    confirmations.close()
    return []


def held(environ, start_response):
    """Answers once the test confirms: the test knows the request is inside the app once the
    FIFO is open."""
    confirmations = Confirmations(environ)
    confirmations.wait()
    confirmations.close()
    return text(start_response, b"released")


def events(environ, start_response):
    """Server-sent events without end, one per confirmation; counts its close()."""
    start_response("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")])
    confirmations = Confirmations(environ)

    def body():
        i = 0
        while confirmations.wait():
            yield b"id: %d\ndata: tick %d\n\n" % (i, i)
            i += 1
    return Unending(body(), confirmations)


class Unending:
    """An endless body; close() is counted (as Counted's) and closes the FIFO."""

    def __init__(self, items, confirmations):
        self.items = items
        self.confirmations = confirmations

    def __iter__(self):
        return iter(self.items)

    def close(self):
        COUNTS["close"] += 1
        self.confirmations.close()


def write_only(environ, start_response):
    w = start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "8")])
    w(b"written!")
    return []


def big(environ, start_response):
    """A body far larger than the worker's output buffer: pulled as the client reads."""
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    block = bytes(range(256)) * 256
    return Counted(block for _ in range(64))


class Counted:
    """An iterable that counts its close() calls."""

    def __init__(self, items):
        self.items = items

    def __iter__(self):
        return iter(self.items)

    def close(self):
        COUNTS["close"] += 1


def closing(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Counted([b"a", b"b"])


def counts(environ, start_response):
    return as_json(start_response, COUNTS)


def post(environ, start_response):
    """Reads the body the way QUERY_STRING names; answers the pieces, base64 each."""
    inp = environ["wsgi.input"]
    how = environ["QUERY_STRING"]
    pieces = []
    if how == "read":
        pieces.append(inp.read(int(environ.get("CONTENT_LENGTH") or 0)))
        pieces.append(inp.read(10))
    elif how == "read-sized":
        while True:
            piece = inp.read(7)
            if not piece:
                break
            pieces.append(piece)
    elif how == "readline":
        while True:
            line = inp.readline()
            if not line:
                break
            pieces.append(line)
    elif how == "readline-sized":
        while True:
            line = inp.readline(5)
            if not line:
                break
            pieces.append(line)
    elif how == "readlines":
        pieces.extend(inp.readlines())
    elif how == "readlines-hint":
        pieces.extend(inp.readlines(12))
        pieces.append(b"|")
        pieces.extend(inp.readlines())
    elif how == "iter":
        pieces.extend(line for line in inp)
    else:
        return text(start_response, "unknown way " + how, "400 Bad Request")
    return as_json(start_response, [base64.b64encode(p).decode("ascii") for p in pieces])


def post_unsized(environ, start_response):
    """read() and readlines() without arguments (not through the validator, which forbids them)."""
    inp = environ["wsgi.input"]
    first = inp.readline()
    rest = inp.read()
    more = inp.read()
    return as_json(start_response, [first.decode("latin-1"), rest.decode("latin-1"), more.decode("latin-1")])


def error(environ, start_response):
    raise ValueError("boom before start_response")


def error_after_start(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    raise ValueError("boom after start_response")


def error_in_body(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body():
        yield b"partial"
        raise ValueError("boom in the body")
    return body()


def exc_info(environ, start_response):
    """An error page through exc_info, replacing headers not yet sent."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Dropped", "yes")])
    try:
        raise KeyError("missing")
    except KeyError:
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")], sys.exc_info())
    return [b"sorry"]


def exc_info_late(environ, start_response):
    """exc_info once the headers are out: start_response re-raises it."""
    w = start_response("200 OK", [("Content-Type", "text/plain")])
    w(b"sent")
    try:
        raise KeyError("late")
    except KeyError:
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
    return [b"never"]


def bad_status(environ, start_response):
    start_response("OK", [("Content-Type", "text/plain")])
    return [b"x"]


def second_start(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"x"]


def not_bytes(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ["text, not bytes"]


def non_latin1_header(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Name", "\u20ac")])
    return [b"x"]


def latin1_header(environ, start_response):
    start_response("200 Tr\xe8s bien", [("Content-Type", "text/plain"), ("X-Name", "caf\xe9 \xff")])
    return [b"x"]


STASH = {}


def stash_write(environ, start_response):
    """Keeps this request's write() for a later request to misuse."""
    STASH["write"] = start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"stashed"]


def use_stashed(environ, start_response):
    STASH["write"](b"into another request")
    return text(start_response, b"unreachable")


def system_exit(environ, start_response):
    raise SystemExit(4)


def keyboard_interrupt(environ, start_response):
    raise KeyboardInterrupt()


def pid(environ, start_response):
    return as_json(start_response, {"pid": os.getpid(), "import_pid": IMPORT_PID})


def sysinfo(environ, start_response):
    """Where this interpreter looks for code, and what it does with SIGINT."""
    try:
        import flask
        flask_file = flask.__file__
    except ImportError:
        flask_file = None
    return as_json(start_response, {
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "path": sys.path,
        "flask": flask_file,
        "argv": sys.argv,
        "cwd": os.getcwd(),
        "sigint_default": signal.getsignal(signal.SIGINT) == signal.SIG_DFL,
    })


def slow(environ, start_response):
    time.sleep(float(environ["QUERY_STRING"] or 1))
    return text(start_response, b"slept")


def errors(environ, start_response):
    err = environ["wsgi.errors"]
    err.write("first line from the app\nsecond ")
    err.writelines(["line", "\n"])
    err.write("unfinished")
    err.flush()
    return text(start_response, b"logged")


class CountingFile:
    """A file for wsgi.file_wrapper that counts read() calls: sendfile makes none."""

    def __init__(self, path):
        self.f = open(path, "rb")

    def fileno(self):
        return self.f.fileno()

    def tell(self):
        return self.f.tell()

    def read(self, n=-1):
        COUNTS["file_reads"] += 1
        return self.f.read(n)

    def close(self):
        COUNTS["file_closes"] += 1
        self.f.close()


def file(environ, start_response):
    """The file ?path=P from byte ?skip=N, through wsgi.file_wrapper."""
    query = parse_qs(environ["QUERY_STRING"])
    f = CountingFile(query["path"][0])
    f.f.seek(int(query.get("skip", ["0"])[0]))
    headers = [("Content-Type", "application/octet-stream")]
    if "length" in query:
        headers.append(("Content-Length", query["length"][0]))
    start_response("200 OK", headers)
    return environ["wsgi.file_wrapper"](f, 4096)


def file_opened(environ, start_response):
    """The file ?path=P as `open(P, ?mode=M, ?buffering=B)` returns it, after the app has
    read ?read=N bytes through it (a buffered object reads ahead), through wsgi.file_wrapper."""
    query = {k: v[0] for k, v in parse_qs(environ["QUERY_STRING"]).items()}
    f = open(query["path"], query.get("mode", "rb"), int(query.get("buffering", "-1")))
    f.read(int(query.get("read", "0")))
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("X-Type", type(f).__name__)])
    return environ["wsgi.file_wrapper"](f)


def file_chunked(environ, start_response):
    """A file wrapper after a write(): the body is chunked already, so the file is iterated."""
    f = CountingFile(parse_qs(environ["QUERY_STRING"])["path"][0])
    w = start_response("200 OK", [("Content-Type", "application/octet-stream")])
    w(b"head:")
    return environ["wsgi.file_wrapper"](f, 4096)


def thread_marker(environ, start_response):
    """Starts a thread that, after the response, writes the path in QUERY_STRING: it can only
    run if the worker lets go of the GIL while it waits for the next request."""
    path = environ["QUERY_STRING"]

    def later():
        threading.Event().wait(0.05)
        with open(path, "w") as f:
            f.write("ran")
    threading.Thread(target=later, daemon=True).start()
    return text(start_response, b"started")


ROUTES = {
    "/hello": hello,
    "/echo": echo,
    "/types": types,
    "/stream": stream,
    "/lazy": lazy,
    "/iter-start": iter_start,
    "/write": write,
    "/write-only": write_only,
    "/stream-barrier": stream_barrier,
    "/write-barrier": write_barrier,
    "/events": events,
    "/held": held,
    "/write-big": write_big,
    "/big": big,
    "/closing": closing,
    "/counts": counts,
    "/post": post,
    "/post-unsized": post_unsized,
    "/error": error,
    "/error-after-start": error_after_start,
    "/error-in-body": error_in_body,
    "/exc-info": exc_info,
    "/exc-info-late": exc_info_late,
    "/bad-status": bad_status,
    "/second-start": second_start,
    "/not-bytes": not_bytes,
    "/non-latin1-header": non_latin1_header,
    "/latin1-header": latin1_header,
    "/stash-write": stash_write,
    "/use-stashed": use_stashed,
    "/exit": system_exit,
    "/interrupt": keyboard_interrupt,
    "/pid": pid,
    "/errors": errors,
    "/sys": sysinfo,
    "/slow": slow,
    "/file": file,
    "/file-chunked": file_chunked,
    "/file-opened": file_opened,
    "/thread": thread_marker,
}


def app(environ, start_response):
    route = ROUTES.get(environ["PATH_INFO"])
    if route is None:
        return text(start_response, b"no such test app", "404 Not Found")
    return route(environ, start_response)


def create_app(greeting="Hello", punctuation="!"):
    """A factory, for `wsgi_apps:create_app('Hi', punctuation='?')`."""
    def greet(environ, start_response):
        return text(start_response, greeting + punctuation)
    return greet


def _report(message):
    sys.stderr.write("VALIDATOR-PROBLEM: %s\n" % message)
    sys.stderr.flush()


def _show_warning(message, category, filename, lineno, file=None, line=None):
    _report("%s: %s" % (category.__name__, message))


def _unraisable(u):
    _report("%s in %r" % (u.exc_value, u.object))


warnings.showwarning = _show_warning
warnings.simplefilter("always")
sys.unraisablehook = _unraisable
_lint = validator(app)


def validated(environ, start_response):
    try:
        return _lint(environ, start_response)
    except AssertionError as e:
        _report("AssertionError: %s" % e)
        raise


def environ_var(environ, start_response):
    """The process environment's value of the variable the query names (`?NAME`), as the app
    sees it through os.environ."""
    return text(start_response, os.environ.get(environ["QUERY_STRING"], "<unset>"))


# Flask's and Django's usual set-up under gunicorn: the app's logger takes the handlers and
# level of gunicorn's error logger.
_app_log = logging.getLogger("wsgi_apps")
_app_log.handlers = logging.getLogger("gunicorn.error").handlers
_app_log.setLevel(logging.getLogger("gunicorn.error").level)


def logs(environ, start_response):
    """Logs at three levels through gunicorn.error's handlers; answers os.environ's
    SERVER_SOFTWARE."""
    _app_log.debug("app debug %s", environ["PATH_INFO"])
    _app_log.info("app info %s", environ["PATH_INFO"])
    _app_log.warning("app warning %s", environ["PATH_INFO"])
    try:
        raise ValueError("boom")
    except ValueError:
        _app_log.exception("app exception")
    return text(start_response, os.environ.get("SERVER_SOFTWARE", "<unset>"))
