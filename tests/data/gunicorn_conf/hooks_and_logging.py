# gunicorn.conf.py -- Prometheus multiprocess mode and JSON logs.
import os
import sys
import logging

RUN_DIR = os.environ.get("RUN_DIR", "/run/api")

bind = [f"unix:{RUN_DIR}/api.sock", os.environ.get("METRICS_BIND", "127.0.0.1:9000")]
workers = 2
proc_name = "api"
pidfile = f"{RUN_DIR}/gunicorn.pid"

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"format": '{"time": "%(asctime)s", "message": "%(message)s"}'}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "stream": sys.stdout}},
    "root": {"level": "INFO", "handlers": ["console"]},
}


def on_starting(server):
    server.log.info("starting api")


def post_fork(server, worker):
    server.log.info("Worker spawned (pid: %s)", worker.pid)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def _prometheus_dir():
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "/tmp/prometheus")
