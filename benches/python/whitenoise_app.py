"""WhiteNoise serving the directory $STATIC_ROOT at /, anything else a 404: the Django way of
serving static files, as a bare WSGI app (benches/static-files.sh)."""

import os

from whitenoise import WhiteNoise


def not_found(environ, start_response):
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found\n"]


application = WhiteNoise(not_found, root=os.environ["STATIC_ROOT"])
