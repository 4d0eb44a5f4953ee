"""WSGI test app for the environ details gunicorn adds to PEP 3333 (tests/python.rs):
`wsgi.early_hints`, statuses without a reason phrase, and SCRIPT_NAME."""

import json


def hints(environ, start_response):
    early_hints = environ["wsgi.early_hints"]
    early_hints([("Link", "</style.css>; rel=preload; as=style")])
    # gunicorn also takes bytes, read as latin-1.
    early_hints([(b"Link", b"</app.js>; rel=preload; as=script")])
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


def hints_refused(environ, start_response):
    try:
        environ["wsgi.early_hints"]([("Link", "</a.css>\r\nSet-Cookie: stolen=1")])
        outcome = "accepted"
    except ValueError as e:
        outcome = "ValueError: " + str(e)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [outcome.encode("latin-1")]


def hints_too_late(environ, start_response):
    write = start_response("200 OK", [("Content-Length", "2")])
    write(b"o")
    # The head is out: a 103 now would land inside the body, so nothing is sent.
    environ["wsgi.early_hints"]([("Link", "</late.css>; rel=preload")])
    return [b"k"]


def status(environ, start_response):
    """The status is the query string, as is ("200", "200 ", "299")."""
    start_response(environ["QUERY_STRING"].replace("%20", " "), [("Content-Length", "0")])
    return []


def paths(environ, start_response):
    doc = {k: environ[k] for k in ("SCRIPT_NAME", "PATH_INFO")}
    doc["early_hints_callable"] = callable(environ.get("wsgi.early_hints"))
    body = json.dumps(doc).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


ROUTES = {
    "/hints": hints,
    "/hints-refused": hints_refused,
    "/hints-too-late": hints_too_late,
    "/status": status,
}


def app(environ, start_response):
    return ROUTES.get(environ["PATH_INFO"], paths)(environ, start_response)
