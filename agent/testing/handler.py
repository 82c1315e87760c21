"""The HTTP side of the scripted server: parse a request, pick its turn, write Cerebras' wire format."""

from __future__ import annotations

import json
import socket
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from agent.testing import wire
from agent.testing.modelview import model_view, template_switches
from agent.testing.script import REASONING_FIELDS, Turn
from agent.testing.server import DEFAULT_ROLE, Accounting, RecordedRequest, ScriptExhausted, completion_budget

if TYPE_CHECKING:
    from agent.testing.server import ScriptedServer, _HTTPServer

CHAT_PATH = "/v1/chat/completions"


class ScriptedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "scripted-glm"
    server: _HTTPServer

    # -- plumbing --------------------------------------------------------------------------------
    @property
    def owner(self) -> ScriptedServer:
        return self.server.owner

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return None  # requests are recorded, not logged

    def _begin(self) -> RecordedRequest:
        """Read the body and record the request (before any answer, so the record is never late)."""
        started = time.monotonic()
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"_unparsed": raw.decode("utf-8", "replace")}
        headers = {name.lower(): value for name, value in self.headers.items()}
        role = headers.get("x-agent-role") or DEFAULT_ROLE
        path = self.path.split("?", 1)[0]
        record = RecordedRequest(path, role, headers, body if isinstance(body, dict) else {"_body": body},
                                 started, method=self.command)
        self.owner.record(record)
        return record

    def _send_json(self, record: RecordedRequest, status: int, payload: dict[str, Any],
                   headers: dict[str, str]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self._headers({"content-type": "application/json", "content-length": str(len(data))} | headers)
        self._finish(record, status)
        self.wfile.write(data)

    def _headers(self, headers: dict[str, str]) -> None:
        self.send_header("x-request-id", f"req_scripted_{self.owner.state.next_number()}")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _finish(self, record: RecordedRequest, status: int) -> None:
        record.status = status
        record.ended = time.monotonic()

    def _error(self, record: RecordedRequest, status: int, message: str, type_: str,
               code: str | None = None, headers: dict[str, str] | None = None) -> None:
        extra = self.owner.state.limit_headers() | (headers or {})
        self._send_json(record, status, wire.error_body(message, type_, code), extra)

    def _wait(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; False when it is."""
        if seconds > 0:
            self.owner.stopping.wait(seconds)
        return not self.owner.stopping.is_set()

    def _cut(self, record: RecordedRequest, status: int) -> None:
        """Close the connection abruptly, mid-response."""
        self._finish(record, status)
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- routes ----------------------------------------------------------------------------------
    def do_GET(self) -> None:
        record = self._begin()
        try:
            model = self.owner.state.model
            if record.path == "/v1/tcp_warming":  # every Cerebras SDK client sends this first
                self._send_json(record, 200, {}, {})
            elif record.path in ("/v1/models", f"/v1/models/{model}"):
                entry = {"id": model, "object": "model", "created": 0, "owned_by": "scripted"}
                payload = entry if record.path != "/v1/models" else {"object": "list", "data": [entry]}
                self._send_json(record, 200, payload, self.owner.state.limit_headers())
            else:
                self._error(record, 404, f"Not found: {record.path}", "not_found_error", "not_found")
        finally:
            self.owner.finished(record)

    def do_POST(self) -> None:
        record = self._begin()
        try:
            if record.path != CHAT_PATH:
                self._error(record, 404, f"Not found: {record.path}", "not_found_error", "not_found")
            else:
                self._chat(record)
        finally:
            self.owner.finished(record)

    # -- chat completions ------------------------------------------------------------------------
    def _chat(self, record: RecordedRequest) -> None:
        body = record.body
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            self._error(record, 400, "messages: a non-empty list of messages is required",
                        "invalid_request_error", "wrong_api_format")
            return
        script = self.owner.script
        ignored = frozenset(script.ignored_keys)
        record.model_view = model_view(body, script.provider, ignored)
        turn = self._pick_turn(record)
        if turn is None:
            return
        turn = _as_served(turn, template_switches(body, script.provider, ignored), script.provider)
        http_error = turn.error is not None and not (turn.error.in_stream and body.get("stream"))
        accounting = self.owner.state.measure(record.role, body)
        if self._over_context(record, accounting):
            return
        if not http_error:
            self.owner.state.charge(record.role, accounting, body)
        if not self._wait(turn.delay_s):
            self._cut(record, 0)
            return
        if turn.hang is not None:
            _Hang(self, record, turn).run()
        elif turn.error is not None and http_error:
            err = turn.error
            headers = accounting.headers | turn.headers | err.headers
            self._send_json(record, err.status, err.body(), headers)
        elif body.get("stream"):
            _Streamer(self, record, turn, accounting).run()
        else:
            self._complete(record, turn, accounting)

    def _pick_turn(self, record: RecordedRequest) -> Turn | None:
        """The turn for this request, or None after answering 500 (exhausted script, failing responder)."""
        # A broken script cannot heal on retry: tell the SDK not to retry, and any other client
        # that retries anyway not to wait, so the test fails fast and loudly.
        no_retry = {"x-should-retry": "false", "retry-after-ms": "0"}
        try:
            source = self.owner.state.next_source(record.role)
        except ScriptExhausted as exc:
            self._error(record, 500, str(exc), "scripted_server_error", "script_exhausted", no_retry)
            return None
        if isinstance(source, Turn):
            return source
        try:
            turn = source(record.body, record.role, record.model_view or "")
            return turn if isinstance(turn, Turn) else Turn.model_validate(turn)
        except Exception as exc:  # the responder is test code: its failure must reach the test loudly
            message = f"responder for role {record.role} raised {type(exc).__name__}: {exc}"
            self._error(record, 500, message, "scripted_server_error", "responder_failed", no_retry)
            return None

    def _over_context(self, record: RecordedRequest, accounting: Accounting) -> bool:
        """Answer Cerebras' context-length 400 when the script sets a limit and the request exceeds it."""
        limit = self.owner.state.context_limit
        length = accounting.prompt_tokens + completion_budget(record.body)
        if limit is None or length <= limit:
            return False
        message = ("Please reduce the length of the messages or completion. "
                   f"Current length is {length} while limit is {limit}")
        self._error(record, 400, message, "invalid_request_error", "context_length_exceeded",
                    accounting.headers)
        return True

    def _ids(self, record: RecordedRequest, turn: Turn) -> tuple[wire.ResponseIds, list[str]]:
        model = record.body.get("model") or self.owner.state.model
        ids = wire.ResponseIds(f"chatcmpl-scripted-{self.owner.state.next_number()}", str(model), int(time.time()))
        call_ids = [call.id or f"call_{self.owner.state.next_number()}" for call in turn.tool_calls]
        return ids, call_ids

    def _complete(self, record: RecordedRequest, turn: Turn, accounting: Accounting) -> None:
        if turn.cut_after_chunks is not None:
            self._cut(record, 0)  # non-streaming: the connection drops before any answer
            return
        ids, call_ids = self._ids(record, turn)
        usage = wire.compute_usage(turn, accounting.prompt_tokens, accounting.cached_tokens)
        now = time.monotonic()
        payload = wire.completion(ids, turn, call_ids, usage, wire.time_info(record.started, now, now))
        self._send_json(record, 200, payload, accounting.headers | turn.headers)


def _as_served(turn: Turn, switches: dict[str, bool], provider: str) -> Turn:
    """The turn as this server sends it: no reasoning when reasoning was switched off (by a key it
    honours), reasoning in the provider's own delta field."""
    update: dict[str, Any] = {}
    if turn.reasoning_field is None:
        update["reasoning_field"] = REASONING_FIELDS[provider]
    if switches.get("enable_thinking") is False and turn.reasoning:
        update["reasoning"] = None
    return turn.model_copy(update=update) if update else turn


class _Hang:
    """Holds a request open: silent (never answers), keep-alive comments forever, or reasoning forever.
    Ends when the client hangs up or the server stops."""

    BEAT_S = 0.05

    def __init__(self, handler: ScriptedHandler, record: RecordedRequest, turn: Turn) -> None:
        self.handler, self.record, self.turn = handler, record, turn

    def run(self) -> None:
        h = self.handler
        if self.turn.hang == "silent":
            h.owner.stopping.wait()
            h._cut(self.record, 0)
            return
        h.send_response(200)
        h._headers({"content-type": "text/event-stream", "cache-control": "no-cache", "transfer-encoding": "chunked"})
        ids, _ = h._ids(self.record, self.turn)
        field = self.turn.reasoning_field or "reasoning"
        beat = b": keep-alive\n\n" if self.turn.hang == "keepalive" else wire.sse(wire.chunk(ids, {field: "hmm "}))
        h._finish(self.record, 200)
        try:
            while h._wait(self.BEAT_S):
                h.wfile.write(b"%x\r\n%s\r\n" % (len(beat), beat))
                h.wfile.flush()
        except OSError:
            return  # the client gave up: what a deadline is for
        h._cut(self.record, 200)


class _Streamer:
    """Writes one streamed answer as SSE over chunked transfer encoding."""

    def __init__(self, handler: ScriptedHandler, record: RecordedRequest, turn: Turn,
                 accounting: Accounting) -> None:
        self.handler, self.record, self.turn, self.accounting = handler, record, turn, accounting
        self.sent = 0

    def run(self) -> None:
        h, turn = self.handler, self.turn
        h.send_response(200)
        h._headers({"content-type": "text/event-stream", "cache-control": "no-cache",
                    "transfer-encoding": "chunked"} | self.accounting.headers | turn.headers)
        ids, call_ids = h._ids(self.record, turn)
        first_token = time.monotonic()
        for delta in wire.stream_deltas(turn, call_ids):
            if not self._event(wire.chunk(ids, delta)):
                return
        if turn.error is not None:  # in_stream: an error line, then the stream ends without [DONE]
            h._finish(self.record, 200)
            # Cerebras' ErrorChunkResponse: the status beside the error object, not inside it.
            self._write(wire.sse({"error": turn.error.body(), "status_code": turn.error.status}))
            self._write(b"")
            return
        usage = wire.compute_usage(turn, self.accounting.prompt_tokens, self.accounting.cached_tokens)
        last = wire.chunk(ids, {}, turn.effective_finish_reason())
        last |= {"usage": usage, "time_info": wire.time_info(self.record.started, first_token, time.monotonic())}
        if not self._event(last):
            return
        if turn.cut_after_chunks is not None:
            h._cut(self.record, 200)
            return
        h._finish(self.record, 200)
        if turn.send_done:
            self._write(wire.sse("[DONE]"))
        self._write(b"")  # the zero-length chunk that ends the body

    def _event(self, payload: dict[str, Any]) -> bool:
        """Send one chunk event, honouring the cut and the chunk delay; False once cut."""
        if self.turn.cut_after_chunks is not None and self.sent >= self.turn.cut_after_chunks:
            self.handler._cut(self.record, 200)
            return False
        if self.sent and not self.handler._wait(self.turn.chunk_delay_s):
            self.handler._cut(self.record, 200)
            return False
        self._write(wire.sse(payload))
        self.sent += 1
        return True

    def _write(self, data: bytes) -> None:
        self.handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.handler.wfile.flush()
