#!/usr/bin/python3
"""Seeds of the http fuzz target (fuzz/http_fuzz.cpp): raw HTTP/1.1 requests to sct serve, one file each,
in tests/fixtures/fuzz/http_*: a PNG and a JPEG POSTed with their types, the same PNG as multipart
form data and chunked, the task listing, the metrics, and the admin PUT and DELETE (token "token").
    /usr/bin/python3 tools/make_http_fuzz_seeds.py
Deterministic: the images are the repo's own image fixtures.
"""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "fuzz")


def request(method, path, headers, body=b""):
    lines = "".join("%s: %s\r\n" % kv for kv in headers)
    length = "Content-Length: %d\r\n" % len(body) if body or method in ("POST", "PUT") else ""
    return ("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s\r\n" % (method, path, lines, length)).encode() + body


def main():
    png = open(os.path.join(ROOT, "tests", "fixtures", "images", "palette_33x21.png"), "rb").read()
    jpg = open(os.path.join(ROOT, "tests", "fixtures", "images", "photo_50x40.jpg"), "rb").read()
    boundary = b"sctboundary"
    form = (b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"image\"; filename=\"p.png\"\r\n"
            b"Content-Type: image/png\r\n\r\n" + png + b"\r\n--" + boundary + b"--\r\n")
    chunked = (b"POST /v1/tasks/t/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(png) + png + b"\r\n0\r\n\r\n")
    seeds = {
        "http_predict_png": request("POST", "/v1/tasks/t/predict?top=2", [("Content-Type", "image/png")], png),
        "http_predict_jpeg": request("POST", "/v1/tasks/t/predict", [("Content-Type", "image/jpeg")], jpg),
        "http_predict_multipart": request(
            "POST", "/v1/tasks/t/predict", [("Content-Type", "multipart/form-data; boundary=sctboundary")], form),
        "http_predict_chunked": chunked,
        "http_get_tasks": request("GET", "/v1/tasks", []),
        "http_get_metrics": request("GET", "/metrics", [("Accept", "text/plain")]),
        "http_put_task": request("PUT", "/v1/tasks/u", [("Authorization", "Bearer token"),
                                                        ("Content-Type", "text/plain")], b"/nonexistent/task"),
        "http_delete_task": request("DELETE", "/v1/tasks/u", [("Authorization", "Bearer token")]),
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(seeds), OUT))


if __name__ == "__main__":
    main()
