"""A WSGI app instrumented with prometheus_client in multiprocess mode, as its docs show:
/metrics is the MultiProcessCollector's scrape of every worker's files; /count adds one to a
counter; any other path answers with the worker's pid. Each worker sets two live gauges to 1:
one summed over the live workers (livesum), one per live worker with its pid (liveall)."""

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter("hooks_test_requests", "Requests to /count, all workers together")
IN_WORKER = Gauge("hooks_test_in_worker", "1 per live worker", multiprocess_mode="livesum")
ALL_WORKERS = Gauge("hooks_test_worker_up", "1 per live worker, by pid", multiprocess_mode="liveall")
# Imported in each worker after fork: each worker's own files, named by its pid.
IN_WORKER.set(1)
ALL_WORKERS.set(1)


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/metrics":
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        data = generate_latest(registry)
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(data)))])
        return [data]
    if path == "/count":
        REQUESTS.inc()
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
