"""An app that starts a busy thread at import: with preload_app, the master forks while that
thread often holds the GIL. Without CPython's fork protocol the workers would hang."""

import os
import threading
import time

SPINS = 0


def _spin():
    global SPINS
    while True:
        for _ in range(20000):
            SPINS += 1
        time.sleep(0.002)


threading.Thread(target=_spin, daemon=True).start()


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"worker %d" % os.getpid()]
