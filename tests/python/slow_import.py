"""A WSGI app whose import takes longer than a short boot_timeout (tests/master.rs)."""
import time

time.sleep(float(__import__("os").environ.get("SLOW_IMPORT_SECONDS", "5")))


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"finally booted"]
