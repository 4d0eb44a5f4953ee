"""gunicorn settings for the web dyno (see Procfile)."""
import os

host = os.environ.get("HOST", "0.0.0.0")
port = os.environ.get("PORT", "5000")
bind = f"{host}:{port}"

workers = int(os.environ.get("GUNICORN_WORKERS", 2))
preload_app = True
max_requests = 1000
max_requests_jitter = 50

# The router terminates TLS and sets X-Forwarded-Proto.
forwarded_allow_ips = "*"
timeout = 30

# Heroku's router gives up after 30 s anyway.
graceful_timeout = timeout

wsgi_app = "wsgi_apps:echo"


def when_ready(server):
    server.log.info("Server is ready. Spawning workers")
