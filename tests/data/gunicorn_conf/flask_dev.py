# Development server settings: `gunicorn -c gunicorn.conf.py`
import os

PORT = int(os.environ.get("FLASK_PORT", 5000))

bind = "127.0.0.1:" + str(PORT)
workers = 1
threads = 4
reload = True
reload_extra_files = ["templates/index.html", "static/app.css"]
loglevel = "debug"
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(D)sus'
timeout = 0
wsgi_app = "wsgi_apps:hello"


def pre_request(worker, req):
    worker.log.debug("%s %s", req.method, req.path)


def post_request(worker, req, environ, resp):
    worker.log.debug("%s %s -> %s", req.method, req.path, resp.status)
