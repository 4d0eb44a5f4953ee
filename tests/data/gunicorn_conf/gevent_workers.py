# Production settings: async workers for the long-polling endpoints.
import multiprocessing

bind = "127.0.0.1:0"
workers = multiprocessing.cpu_count()
worker_class = 'gevent'
worker_connections = 1000
keepalive = 2
timeout = 60
loglevel = 'warning'
