# Hooks that raise: each is logged with its traceback, and the server serves on.
bind = "127.0.0.1:0"
workers = 1
wsgi_app = "wsgi_apps:hello"


def on_starting(server):
    raise RuntimeError("on_starting failed")


def when_ready(server):
    {}["when_ready"]


def post_fork(server, worker):
    raise ValueError("post_fork failed in %s" % worker.pid)


def pre_request(worker, req):
    if req.path == "/refused":
        raise PermissionError("pre_request refused " + req.path)


def post_request(worker, req, environ, resp):
    raise LookupError("post_request failed after " + resp.status)


def worker_exit(server, worker):
    raise SystemExit(3)
