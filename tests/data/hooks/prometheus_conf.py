# prometheus_client's documented gunicorn setup (multiprocess mode): PROMETHEUS_MULTIPROC_DIR
# is set in the environment by whoever starts the server, wiped before it starts.
from prometheus_client import multiprocess

bind = "127.0.0.1:0"
workers = 2
wsgi_app = "prometheus_app:app"


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)
