"""The Flask app of flask_app.py under wsgiref.validate, for tests/python_frameworks.rs: every
validator complaint becomes a VALIDATOR-PROBLEM line on stderr (importing wsgi_apps installs the
hooks that report warnings and exceptions in destructors)."""

from wsgiref.validate import validator

import wsgi_apps
from flask_app import app as flask

_lint = validator(flask)


def app(environ, start_response):
    try:
        return _lint(environ, start_response)
    except AssertionError as e:
        wsgi_apps._report("AssertionError: %s" % e)
        raise
