"""`human-eval serve DIR`: the survey as a small local web server (standard library only).

Why a server and not static pages: a static page can only keep answers in the browser
(lost with the browser profile, and collected by asking each annotator to send a file);
the issue asks that every answer be kept the moment it is given, that a batch cannot be
submitted twice and that the ratings end up in one file. The server appends each answer
to DIR/answers.jsonl (fsync'ed) before it replies, refuses a second submission, and
rewrites DIR/ratings.csv after each submitted batch.

Safe by default: it listens on 127.0.0.1 only (annotators on other machines reach it
through a tunnel or a reverse proxy the operator sets up), request bodies are JSON of at
most MAX_BODY bytes (larger ones get 413 and are not read), anything malformed gets a 4xx
with a JSON error, and no request can change what was already stored.
"""

from __future__ import annotations

import json
import re
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from harness.human_eval import pages
from harness.human_eval.store import Refused, Store

HOST = "127.0.0.1"
MAX_BODY = 16 * 1024
MAX_URL = 2048
ANNOTATOR = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


class Handler(BaseHTTPRequestHandler):
    store: Store  # set on the subclass made by make_server
    quiet = True
    server_version = "empathy-harness-survey"
    sys_version = ""

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        if not self.quiet:
            super().log_message(format, *args)

    # -- replies -------------------------------------------------------------------------
    def _send(self, status: int, body: str, content_type: str = "text/html; charset=utf-8") -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(data)

    def _json(self, status: int, value: dict) -> None:
        self._send(status, json.dumps(value), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    # -- GET: pages ------------------------------------------------------------------------
    def do_GET(self):  # noqa: N802 (http.server's name)
        if len(self.path) > MAX_URL:
            return self._error(414, "address too long")
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, max_num_fields=8).items()}
        design = self.store.design
        annotator = query.get("annotator", "")
        if url.path == "/":
            return self._send(200, pages.intro_page(design))
        if url.path == "/start":
            if not ANNOTATOR.match(annotator):
                return self._send(400, pages.intro_page(design, "An annotator id is required: letters, digits and "
                                                                "_ . @ - only, at most 64."))
            batch = self.store.batch_for(annotator)
            if batch is None:
                return self._send(200, pages.message_page("Thank you", "There is no batch left for you in this study."))
            self.send_response(HTTPStatus.SEE_OTHER)
            self.send_header("Location", f"/batch/{batch}?annotator={annotator}")
            self.send_header("Content-Length", "0")
            return self.end_headers()
        if url.path.startswith("/batch/"):
            batch = url.path[len("/batch/"):]
            if not ANNOTATOR.match(annotator):
                return self._send(400, pages.intro_page(design, "An annotator id is required."))
            if batch in self.store.batches and batch in self.store.state.submitted \
                    and self.store.state.claims.get(batch) == annotator:
                return self._send(200, pages.message_page("Thank you", f"Batch {batch} is submitted."))
            try:
                self.store.check_owner(annotator, batch)
            except Refused as exc:
                return self._send(exc.status, pages.message_page("Not available", str(exc)))
            return self._send(200, pages.batch_page(design, annotator, self.store.batches[batch],
                                                    self.store.answers_of(batch)))
        if url.path == "/done":
            return self._send(200, pages.message_page("Thank you", "Your answers are submitted. You can close this page."))
        return self._send(404, pages.message_page("Not found", "There is no such page."))

    # -- POST: answers -----------------------------------------------------------------------
    def do_POST(self):  # noqa: N802
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            return self._error(411, "a Content-Length is required")
        if int(length) > MAX_BODY:
            self.close_connection = True  # the body is not read
            return self._error(413, f"request body over {MAX_BODY} bytes")
        raw = self.rfile.read(int(length))
        try:
            body = json.loads(raw.decode("utf-8"))
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except (UnicodeDecodeError, ValueError):
            return self._error(400, "the body must be a JSON object")
        annotator, batch = body.get("annotator"), body.get("batch")
        if not isinstance(annotator, str) or not ANNOTATOR.match(annotator):
            return self._error(400, "an annotator id is required")
        if not isinstance(batch, str):
            return self._error(400, "batch is required")
        try:
            if self.path == "/api/answer":
                item, dimension = body.get("item"), body.get("dimension")
                if not isinstance(item, str) or not isinstance(dimension, str) or "value" not in body:
                    return self._error(400, "item, dimension and value are required")
                self.store.answer(annotator, batch, item, dimension, body["value"])
            elif self.path == "/api/submit":
                self.store.submit(annotator, batch)
            else:
                return self._error(404, "no such endpoint")
        except Refused as exc:
            return self._error(exc.status, str(exc))
        return self._json(200, {"ok": True})


def make_server(store: Store, port: int = 8765, quiet: bool = True) -> ThreadingHTTPServer:
    handler = type("StudyHandler", (Handler,), {"store": store, "quiet": quiet})
    server = ThreadingHTTPServer((HOST, port), handler)
    server.daemon_threads = True
    return server


def serve(store: Store, port: int = 8765, quiet: bool = True) -> None:
    server = make_server(store, port, quiet)
    for note in store.state.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"serving {store.folder} at http://{HOST}:{server.server_address[1]}/ (Ctrl-C stops; answers are "
          f"kept in {store.path})", file=sys.stderr)
    try:
        server.serve_forever()
    finally:
        server.server_close()
