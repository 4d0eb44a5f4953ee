"""The waiting app every server in benches/blocking-apps.sh serves.

Each request sleeps SLEEP_MS milliseconds (environment variable, read once at import; 20 by
default) in time.sleep, which releases the GIL, as an app waiting on a database or another
service does; then it answers b"slept\\n" with Content-Length. A worker serves at most
threads / sleep requests per second, whatever its CPU.
"""

import os
import time

DELAY = float(os.environ.get("SLEEP_MS", "20")) / 1000
BODY = b"slept\n"
HEADERS = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    time.sleep(DELAY)
    start_response("200 OK", HEADERS)
    return [BODY]
