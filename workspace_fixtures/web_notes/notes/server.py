"""The HTTP server: GET / shows the notes, POST /notes adds one and goes back to the list."""

from __future__ import annotations

import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from notes.page import render
from notes.store import NoteStore


def make_server(port: int, store: NoteStore | None = None) -> ThreadingHTTPServer:
    store = store if store is not None else NoteStore()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/":
                self._send(404, "not found")
                return
            self._send(200, render(store.all()), "text/html; charset=utf-8")

        def do_POST(self) -> None:
            if self.path != "/notes":
                self._send(404, "not found")
                return
            length = int(self.headers.get("Content-Length") or 0)
            fields = parse_qs(self.rfile.read(length).decode("utf-8"))
            try:
                store.add(fields.get("text", [""])[0])
            except ValueError as exc:
                self._send(400, str(exc))
                return
            self.send_response(303)
            self.send_header("Location", "/")
            self.end_headers()

        def _send(self, status: int, body: str, kind: str = "text/plain; charset=utf-8") -> None:
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            print(f"{self.command} {self.path} -> {args[1] if len(args) > 1 else ''}", flush=True)

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


if __name__ == "__main__":
    make_server(int(os.environ.get("PORT", "8000"))).serve_forever()
