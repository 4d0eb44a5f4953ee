"""Apps for the application-thread tests (tests/threads.rs): each route shows one property of
the threaded worker without the test guessing a time."""

import os
import threading
import time

LOCK = threading.Lock()
BARRIERS = {}
INFLIGHT = {"now": 0, "max": 0}


def text(start_response, body, status="200 OK"):
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def query(environ, default):
    return environ["QUERY_STRING"] or default


def barrier(environ, start_response):
    """Returns only once N calls (the query, default 8) are inside the app at the same time."""
    n = int(query(environ, "8"))
    with LOCK:
        b = BARRIERS.setdefault(n, threading.Barrier(n))
    b.wait()
    return text(start_response, b"all %d inside" % n)


def inflight(environ, start_response):
    """The most calls ever inside this route at once. Each call stays a moment, in which an
    overlapping call would show; a count of 1 holds whatever the timing."""
    with LOCK:
        INFLIGHT["now"] += 1
        INFLIGHT["max"] = max(INFLIGHT["max"], INFLIGHT["now"])
    time.sleep(0.05)
    with LOCK:
        INFLIGHT["now"] -= 1
        most = INFLIGHT["max"]
    return text(start_response, b"%d" % most)


def load(environ, start_response):
    """An app that waits 50 ms, as on a database."""
    time.sleep(0.05)
    return text(start_response, b"ok")


def hello(environ, start_response):
    return text(start_response, b"hello")


def wait(environ, start_response):
    """Answers once the test writes a byte to the FIFO the query names."""
    with open(environ["QUERY_STRING"], "rb", buffering=0) as fifo:
        fifo.read(1)
    return text(start_response, b"waited")


def write(environ, start_response):
    """N MiB (the query, default 64) through write(), in 64 KiB blocks of bytes 0..255."""
    mib = int(query(environ, "64"))
    w = start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(mib << 20))])
    block = bytes(range(256)) * 256
    for _ in range(mib * 16):
        w(block)
    return []


def multithread(environ, start_response):
    return text(start_response, repr(environ["wsgi.multithread"]).encode())


def thread_name(environ, start_response):
    """"main" on the worker's main thread (whose id is the process id), else "other"."""
    main = threading.get_native_id() == os.getpid()
    return text(start_response, b"main" if main else b"other")


ROUTES = {
    "/barrier": barrier,
    "/inflight": inflight,
    "/load": load,
    "/hello": hello,
    "/wait": wait,
    "/write": write,
    "/multithread": multithread,
    "/thread-name": thread_name,
}


def app(environ, start_response):
    route = ROUTES.get(environ["PATH_INFO"])
    if route is None:
        return text(start_response, b"no such test app", "404 Not Found")
    return route(environ, start_response)
