"""The hello WSGI app every server in benches/python-wsgi.sh serves.

It sets Content-Length, as benchmark apps do: without it bjoern answers chunked in separate
small writes and stalls on Nagle's algorithm against delayed ACKs (about 5,000 req/s here).
"""


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "13")])
    return [b"Hello, World!"]
