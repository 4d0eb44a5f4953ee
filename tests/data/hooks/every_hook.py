# Every gunicorn server hook, each writing one line about its call to $HOOK_LOG.
import os

bind = "127.0.0.1:0"
workers = 2
wsgi_app = "wsgi_apps:hello"


def _note(*words):
    # One write per line, O_APPEND: lines from the master and the workers never mix.
    fd = os.open(os.environ["HOOK_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (" ".join(str(w) for w in words) + "\n").encode())
    finally:
        os.close(fd)


def on_starting(server):
    _note("on_starting", server.pid, server.cfg.workers, server.cfg.bind, server.cfg.wsgi_app)


def when_ready(server):
    _note("when_ready", server.pid, server.num_workers)


def on_reload(server):
    _note("on_reload", server.pid, server.cfg.workers)


def pre_fork(server, worker):
    _note("pre_fork", server.pid, worker.age, worker.pid)


def post_fork(server, worker):
    _note("post_fork", worker.pid, worker.ppid, worker.age, os.getpid())


def post_worker_init(worker):
    _note("post_worker_init", worker.pid, worker.booted)


def pre_request(worker, req):
    headers = ",".join("%s=%s" % h for h in req.headers if h[0].startswith("X-"))
    _note("pre_request", worker.pid, req.method, req.path, req.query, req.uri, req.version, headers)


def post_request(worker, req, environ, resp):
    _note("post_request", worker.pid, req.path, environ["PATH_INFO"], resp.status, resp.status_code)
    # What timing and logging hooks read: the response's headers and size, the client.
    _note("resp", worker.pid, resp.headers, resp.response_length, resp.sent, req.peer_addr[0])


def child_exit(server, worker):
    _note("child_exit", server.pid, worker.pid, worker.age)


def worker_exit(server, worker):
    _note("worker_exit", worker.pid, os.getpid())


def worker_int(worker):
    _note("worker_int", worker.pid)


def worker_abort(worker):
    _note("worker_abort", worker.pid)


def nworkers_changed(server, new_value, old_value):
    _note("nworkers_changed", new_value, old_value)


def on_exit(server):
    _note("on_exit", server.pid)


def pre_exec(server):
    _note("pre_exec", server.pid)
