"""Routes and views of the test project."""

import json
import os

from django.http import FileResponse, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path


def index(request):
    return HttpResponse("Hello from Django", content_type="text/plain")


def user(request, uid):
    return JsonResponse({"id": uid, "name": "user%d" % uid})


def json_post(request):
    if request.method != "POST":
        return HttpResponse(status=405)
    data = json.loads(request.body)
    return JsonResponse({"received": data, "total": sum(data["numbers"])})


def boom(request):
    return HttpResponse(1 / 0)


def stream(request):
    return StreamingHttpResponse(("line %d\n" % i for i in range(5)), content_type="text/plain")


def download(request):
    here = os.path.abspath(__file__)
    return FileResponse(open(here, "rb"), as_attachment=True, filename="urls.py")


urlpatterns = [
    path("", index),
    path("users/<int:uid>", user),
    path("json", json_post),
    path("boom", boom),
    path("stream", stream),
    path("download", download),
]
