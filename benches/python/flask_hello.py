"""The Flask app every server in benches/python-wsgi.sh serves."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "Hello, World!"
