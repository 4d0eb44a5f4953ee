# A gunicorn.conf.py whose hooks read the server's state the way deployment configs do: logging
# built from gunicorn's defaults, a logger subclass adding a request id, settings read through
# server.cfg, the worker table, the listeners and the worker's own attributes. Each hook writes
# what it saw to $HOOK_LOG as one JSON line, for tests/hooks.rs to compare.
import copy
import datetime
import json
import os

from gunicorn import util
from gunicorn.arbiter import Arbiter
from gunicorn.config import Config
from gunicorn.glogging import CONFIG_DEFAULTS, Logger
from gunicorn.workers.base import Worker
from gunicorn.workers.sync import SyncWorker

bind = "127.0.0.1:0"
workers = 2
wsgi_app = "wsgi_apps:hello"
timeout = 20
max_requests = 1000
raw_env = ["HOOKS_ENV=on"]

logconfig_dict = copy.deepcopy(CONFIG_DEFAULTS)
logconfig_dict["formatters"]["generic"]["format"] = "%(asctime)s %(levelname)s %(message)s"


class RequestIdLogger(Logger):
    """The request id in the access log's atoms, as `%({request-id}e)s`."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["{request-id}e"] = dict(req.headers).get("X-REQUEST-ID", "-")
        return atoms


def _record(event, **fields):
    fd = os.open(os.environ["HOOK_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(dict(fields, event=event), sort_keys=True) + "\n").encode())
    finally:
        os.close(fd)


def when_ready(server):
    cfg = server.cfg
    _record(
        "when_ready",
        arbiter=isinstance(server, Arbiter),
        config=isinstance(cfg, Config),
        app_cfg=server.app.cfg is cfg,
        pid=server.pid,
        listeners=[str(sock) for sock in server.LISTENERS],
        address=cfg.address,
        timeout=server.timeout,
        proc_name=server.proc_name,
        workers=[cfg.workers, cfg.settings["workers"].value, cfg.settings["workers"].get()],
        worker_class=[cfg.worker_class_str, cfg.worker_class.__name__],
        threads=cfg.threads,
        env=cfg.env,
        ids=[cfg.uid == os.geteuid(), cfg.gid == os.getegid()],
        ssl=[bool(cfg.is_ssl), cfg.certfile],
        # Settings forkhorn does not have: gunicorn's defaults, or the file's values.
        defaults=[cfg.spew, cfg.sendfile, cfg.statsd_prefix, cfg.http_protocols, cfg.reload_engine],
        log_format=cfg.logconfig_dict["formatters"]["generic"]["format"],
        max_requests=cfg.max_requests,
        known=[hasattr(cfg, "keepalive"), hasattr(cfg, "no_such_setting")],
        hooks=[cfg.pre_fork is pre_fork, cfg.on_exit(server)],
        util=[util.http_date(0), util.is_ipv6("::1"), util.is_ipv6("127.0.0.1"), util.getcwd() == os.getcwd()],
        table=sorted(server.WORKERS),
    )


def pre_fork(server, worker):
    # An attribute set here is on the object the master keeps and the worker inherits.
    worker.tag = "age-%d" % worker.age


def post_worker_init(worker):
    worker.notify()
    _record(
        "post_worker_init",
        pid=worker.pid,
        ppid=worker.ppid,
        tag=worker.tag,
        classes=[isinstance(worker, Worker), isinstance(worker, SyncWorker), type(worker).__name__],
        state=[worker.booted, worker.alive, worker.nr],
        timeout=worker.timeout,
        max_requests=worker.max_requests,
        sockets=[str(sock) for sock in worker.sockets],
        wsgi=[worker.wsgi.__name__, worker.app.wsgi() is worker.wsgi, worker.app.cfg is worker.cfg],
        tmp=worker.tmp.last_update() > 0,
        env=os.environ.get("HOOKS_ENV"),
    )


def post_request(worker, req, environ, resp):
    log = RequestIdLogger(worker.cfg)
    atoms = log.atoms(resp, req, environ, datetime.timedelta(seconds=1, microseconds=5000))
    _record(
        "post_request",
        pid=worker.pid,
        nr=worker.nr,
        atoms=[atoms["r"], atoms["s"], atoms["{request-id}e"], atoms["M"], atoms["L"], atoms["{x-request-id}i"]],
        formats=[log.error_fmt, log.datefmt, log.access_fmt],
    )


def child_exit(server, worker):
    _record(
        "child_exit",
        pid=worker.pid,
        tag=worker.tag,
        alive=worker.alive,
        table=sorted(server.WORKERS),
    )
