import os

ENV = os.environ.get("APP_ENV", "production")
DEBUG = ENV != "production"

bind = os.getenv("BIND", "0.0.0.0:8080")
workers = 1 if DEBUG else 4
if DEBUG:
    loglevel = "debug"
else:
    loglevel = "warning"

print(f"[gunicorn.conf.py] {ENV}: {workers} workers, log level {loglevel}")

backlog = 4096
limit_request_line = 8190
limit_request_fields = 200
limit_request_field_size = 16380
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}
forwarded_allow_ips = "10.0.0.0/8,127.0.0.1"
statsd_host = "localhost:9125"
statsd_prefix = "shop"
sendfile = False


def post_worker_init(worker):
    worker.log.info("%s worker %s ready (parent %s)", ENV, worker.pid, worker.ppid)


def nworkers_changed(server, new_value, old_value):
    if old_value is not None:
        server.log.info("workers: %s -> %s", old_value, new_value)
