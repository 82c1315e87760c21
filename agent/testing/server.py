"""The scripted OpenAI-compatible server: a real HTTP server on 127.0.0.1 in a background thread."""

from __future__ import annotations

import socket
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from socketserver import TCPServer
from types import TracebackType
from typing import Any, Callable

from agent.testing.script import RateLimits, Script, Turn
from agent.testing.wire import cached_tokens, estimate_tokens, prompt_text, rate_limit_headers

Responder = Callable[[dict[str, Any], str], Turn]
# A responder that reads what the model would be prompted with: (model view, request body) -> Turn.
ViewResponder = Callable[[str, dict[str, Any]], Turn]
_Answer = Callable[[dict[str, Any], str, str], Turn]  # (body, role, model view) -> Turn
DEFAULT_ROLE = "default"


def completion_budget(body: dict[str, Any]) -> int:
    """The completion tokens a request reserves (`max_completion_tokens`, else `max_tokens`)."""
    budget = body.get("max_completion_tokens") or body.get("max_tokens") or 0
    return budget if isinstance(budget, int) else 0


@dataclass
class RecordedRequest:
    """One request as the server saw it; `ended` and `status` are set before the last byte goes out."""

    path: str
    role: str
    headers: dict[str, str]
    body: dict[str, Any]
    started: float
    ended: float = 0.0
    status: int = 0
    method: str = "POST"
    model_view: str | None = None  # a chat request's prompt as GLM 4.7 would see it (agent.testing.modelview)


class ScriptExhausted(Exception):
    """No queued turn, responder or default for a role: the server answers 500."""


@dataclass
class Accounting:
    """What one chat request is charged, decided when its turn is picked."""

    prompt_tokens: int
    cached_tokens: int
    headers: dict[str, str] = field(default_factory=dict)
    text: str = field(default="", repr=False)  # the prompt as the prefix cache compares it


class _ScriptState:
    """The script's queues, defaults and responders, plus counters; every method holds the lock."""

    def __init__(self, script: Script) -> None:
        self.lock = threading.Lock()
        self.model = script.model
        self.limits: RateLimits = script.rate_limits
        self.context_limit = script.context_limit
        self.queues: dict[str, deque[Turn]] = {role: deque(turns) for role, turns in script.turns.items()}
        self.defaults: dict[str, Turn] = dict(script.defaults)
        self.responders: dict[str, _Answer] = {}
        self.previous_prompt: dict[str, str] = {}
        self.requests_used = 0
        self.tokens_used = 0
        self.sequence = 0

    def next_source(self, role: str) -> Turn | _Answer:
        """The queued turn, else the responder, else the default; raises ScriptExhausted."""
        with self.lock:
            queue = self.queues.get(role)
            if queue:
                return queue.popleft()
            if role in self.responders:
                return self.responders[role]
            if role in self.defaults:
                return self.defaults[role]
        raise ScriptExhausted(
            f"script exhausted for role {role}: no queued turn, no responder and no default turn"
        )

    def measure(self, role: str, body: dict[str, Any]) -> Accounting:
        """Prompt tokens and prefix-cache hits of a chat request, without charging it."""
        text = prompt_text(body)
        with self.lock:
            cached = cached_tokens(self.previous_prompt.get(role), text)
            headers = rate_limit_headers(self.limits, self.requests_used, self.tokens_used)
        return Accounting(estimate_tokens(text), cached, headers, text)

    def charge(self, role: str, accounting: Accounting, body: dict[str, Any]) -> None:
        """Count an answered request against the limits and keep its prompt for the prefix cache.

        Refused requests (an error turn, a context overflow) are not charged, as on a real server.
        """
        with self.lock:
            self.previous_prompt[role] = accounting.text
            self.requests_used += 1
            self.tokens_used += accounting.prompt_tokens + completion_budget(body)
            accounting.headers = rate_limit_headers(self.limits, self.requests_used, self.tokens_used)

    def limit_headers(self) -> dict[str, str]:
        with self.lock:
            return rate_limit_headers(self.limits, self.requests_used, self.tokens_used)

    def next_number(self) -> int:
        with self.lock:
            self.sequence += 1
            return self.sequence


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that joins its handler threads and can cut every open connection."""

    daemon_threads = False
    block_on_close = True
    request_queue_size = 128  # the default 5 stalls a gate or a review fanning out 16 requests at once

    def __init__(self, address: tuple[str, int], owner: ScriptedServer) -> None:
        from agent.testing.handler import ScriptedHandler

        self.owner = owner
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self.accepted = 0  # connections accepted so far: a client that reuses connections opens few
        super().__init__(address, ScriptedHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (socket.getfqdn), which can hang offline.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request: Any, client_address: Any) -> None:
        # Each event is written as it is ready, as a streaming server does: without this, Nagle's
        # algorithm holds a small write (the body's last chunk) until the previous one is acked.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.connections_lock:
            self.connections.add(request)
            self.accepted += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def cut_connections(self) -> None:
        """Shut every open connection so idle keep-alive handler threads return."""
        with self.connections_lock:
            for conn in list(self.connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return  # a client hanging up mid-response is normal here (tests cut streams)
        super().handle_error(request, client_address)  # the traceback, on stderr
        if error is not None:
            self.owner.internal_errors.append(error)


class ScriptedServer:
    """A scripted model endpoint: `with ScriptedServer(script) as server: ... server.base_url`."""

    def __init__(self, script: Script | None = None, *, port: int = 0, host: str = "127.0.0.1",
                 on_request: Callable[[RecordedRequest], None] | None = None) -> None:
        self.script = script if script is not None else Script()
        self.state = _ScriptState(self.script)
        self.stopping = threading.Event()
        self.on_request = on_request
        self._host, self._port = host, port
        self._records: list[RecordedRequest] = []
        self._records_lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.internal_errors: list[BaseException] = []  # bugs of the server itself; close() raises them

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> ScriptedServer:
        """Bind and serve in a background thread; returns self."""
        if self._httpd is not None:
            raise RuntimeError("scripted server already started")
        self.stopping.clear()
        self._httpd = _HTTPServer((self._host, self._port), self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"scripted-server-{self.port}", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, cut open connections, and join every thread and socket."""
        if self._httpd is None or self._thread is None:
            return
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.cut_connections()
        self._httpd.server_close()
        self._thread.join()
        self._httpd, self._thread = None, None
        if self.internal_errors:
            first = self.internal_errors[0]
            raise RuntimeError(f"the scripted server failed while answering: {first!r}") from first

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- addresses -------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("scripted server not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL, `http://127.0.0.1:PORT/v1`."""
        return f"{self.url}/v1"

    # -- scripting while running -----------------------------------------------------------------
    def push(self, role: str, *turns: Turn) -> None:
        """Append turns to a role's queue."""
        with self.state.lock:
            self.state.queues.setdefault(role, deque()).extend(turns)

    def set_default(self, role: str, turn: Turn | None) -> None:
        """The turn that answers when the role's queue is empty (None removes it)."""
        with self.state.lock:
            if turn is None:
                self.state.defaults.pop(role, None)
            else:
                self.state.defaults[role] = turn

    def set_responder(self, role: str, fn: Responder | None) -> None:
        """A callable `(request_body, role) -> Turn` that answers when the role's queue is empty."""
        self._answer_with(role, None if fn is None else lambda body, role_, _view: fn(body, role_))

    def set_view_responder(self, role: str, fn: ViewResponder | None) -> None:
        """A callable `(model_view, request_body) -> Turn` that answers when the role's queue is empty:
        it reads what the model would be prompted with, as a real model only can."""
        self._answer_with(role, None if fn is None else lambda body, _role, view: fn(view, body))

    def _answer_with(self, role: str, answer: _Answer | None) -> None:
        with self.state.lock:
            if answer is None:
                self.state.responders.pop(role, None)
            else:
                self.state.responders[role] = answer

    def pending(self, role: str) -> int:
        """How many queued turns the role has left."""
        with self.state.lock:
            return len(self.state.queues.get(role, ()))

    # -- records ---------------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far, in arrival order (a snapshot list)."""
        with self._records_lock:
            return list(self._records)

    @property
    def connections_accepted(self) -> int:
        """How many TCP connections clients have opened so far (keep-alive reuse keeps this low)."""
        if self._httpd is None:
            raise RuntimeError("scripted server not started")
        with self._httpd.connections_lock:
            return self._httpd.accepted

    def requests_for(self, role: str) -> list[RecordedRequest]:
        """The chat requests sent with `X-Agent-Role: role`."""
        return [r for r in self.requests if r.role == role and r.path.endswith("/chat/completions")]

    def record(self, request: RecordedRequest) -> None:
        with self._records_lock:
            self._records.append(request)

    def finished(self, request: RecordedRequest) -> None:
        """Called by the handler once a response is complete."""
        if self.on_request is not None:
            self.on_request(request)
