"""An app factory whose boot the test controls (tests/master.rs).

`gated(gate)` returns the app only once the file `gate` exists, so a test can keep workers
booting for as long as it needs, without guessing a time. With `fail_first`, the first worker to
get there creates that file and fails to boot instead.
"""
import os
import time


def gated(gate, fail_first=None):
    if fail_first is not None:
        try:
            os.close(os.open(fail_first, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            pass
        else:
            raise RuntimeError("the first worker refuses to boot")
    while not os.path.exists(gate):
        time.sleep(0.02)

    def application(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"through the gate"]

    return application
