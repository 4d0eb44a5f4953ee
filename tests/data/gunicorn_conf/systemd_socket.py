# /etc/shop/gunicorn.conf.py -- used by shop.service (nginx proxies to the socket).
import os

SHOP_ROOT = os.environ.get("SHOP_ROOT", "/srv/shop")
RUN_DIR = os.environ.get("RUN_DIR", "/run/shop")

bind = [
    "unix:%s/gunicorn.sock" % RUN_DIR,
    os.environ.get("HEALTHCHECK_BIND", "127.0.0.1:8001"),
]
workers = 3
umask = 0o007
user = None
group = None
daemon = False
pidfile = os.path.join(RUN_DIR, "gunicorn.pid")
proc_name = "shop"
pythonpath = "%s,%s/lib" % (SHOP_ROOT, SHOP_ROOT)
raw_env = [
    "DJANGO_SETTINGS_MODULE=shop.settings.production",
    "LANG=C.UTF-8",
]
errorlog = "-"
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s'
wsgi_app = "wsgi_apps:hello"


def on_reload(server):
    server.log.info("Reloading shop with %d workers", server.cfg.workers)


def on_exit(server):
    server.log.info("shop stopped (pid: %s)", server.pid)
