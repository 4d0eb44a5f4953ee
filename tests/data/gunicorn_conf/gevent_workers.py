# Production settings: async workers for the long-polling endpoints.
import multiprocessing

bind = "127.0.0.1:0"
workers = multiprocessing.cpu_count()
worker_class = 'gevent'
worker_connections = 1000
keepalive = 2
timeout = 60
loglevel = 'warning'


def worker_int(worker):
    worker.log.info("worker received INT or QUIT signal")

    # Where each thread is: what an operator wants to see from a worker told to quit.
    import sys
    import threading
    import traceback

    names = {th.ident: th.name for th in threading.enumerate()}
    for thread_id, stack in sys._current_frames().items():
        worker.log.debug("# Thread: %s(%d)\n%s", names.get(thread_id, ""), thread_id, "".join(traceback.format_stack(stack)))


def worker_abort(worker):
    worker.log.info("worker received SIGABRT signal")
