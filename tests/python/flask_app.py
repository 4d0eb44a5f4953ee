"""A Flask app for tests/python_frameworks.rs: routing, JSON, errors, streaming, a download."""

import os

from flask import Flask, Response, jsonify, request, send_file

app = Flask(__name__)


@app.get("/")
def index():
    return "Hello from Flask"


@app.get("/users/<int:uid>")
def user(uid):
    return jsonify(id=uid, name="user%d" % uid)


@app.post("/json")
def json_post():
    data = request.get_json()
    return jsonify(received=data, total=sum(data["numbers"]))


@app.get("/boom")
def boom():
    return 1 / 0


@app.get("/stream")
def stream():
    def lines():
        for i in range(5):
            yield "line %d\n" % i
    return Response(lines(), mimetype="text/plain")


@app.get("/download")
def download():
    return send_file(os.path.abspath(__file__), as_attachment=True, download_name="flask_app.py")
