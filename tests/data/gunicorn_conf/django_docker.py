# Gunicorn configuration for the Django container image.
# https://docs.gunicorn.org/en/stable/settings.html
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")

# (2 x $num_cores) + 1, overridable from the environment.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "2"))

timeout = 120
graceful_timeout = 30
keepalive = 5

# Log to stdout/stderr so that docker logs picks them up.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
capture_output = True

# Avoid the heartbeat file blocking on a slow overlay filesystem.
worker_tmp_dir = "/dev/shm"

wsgi_app = "wsgi_apps:hello"


def post_fork(server, worker):
    server.log.info("Worker spawned (pid: %s)", worker.pid)
