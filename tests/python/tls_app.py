"""WSGI apps for tests/tls.rs: what a TLS connection shows the application."""

import hashlib
import json
import os


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/upload":
        # Read in pieces, as a real upload handler does: the length and digest of the body.
        inp = environ["wsgi.input"]
        digest = hashlib.sha256()
        total = 0
        while True:
            piece = inp.read(1 << 20)
            if not piece:
                break
            total += len(piece)
            digest.update(piece)
        body = f"{total} {digest.hexdigest()}".encode()
    else:
        # The TLS variables and the worker that served.
        keys = [k for k in environ if k.startswith("SSL_") or k in ("HTTPS", "wsgi.url_scheme")]
        doc = {k: environ[k] for k in keys}
        doc["pid"] = os.getpid()
        body = json.dumps(doc, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
