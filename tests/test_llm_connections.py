"""Model calls reuse their HTTP connection: no new TCP (or TLS) handshake per call."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from typing import Iterator

import pytest

from agent.llm.client import LLMClient
from agent.llm.types import ChatRequest, RoleSettings
from agent.testing import Script, ScriptedServer, Turn

HELLO = [{"role": "user", "content": "hello"}]


def _settings(base_url: str) -> RoleSettings:
    return RoleSettings(model="zai-glm-4.7", base_url=base_url, api_key="test-key", provider="cerebras",
                        reasoning=True, max_completion_tokens=1024, temperature=None, top_p=None)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(Script()) as srv:
        yield srv


@pytest.mark.parametrize("send_done", [True, False], ids=["done", "no-done"])
def test_successive_calls_share_one_connection(server: ScriptedServer, send_done: bool) -> None:
    server.set_default("executor", Turn(reasoning="thinking", content="ok", send_done=send_done))
    with LLMClient(lambda role: _settings(server.base_url)) as llm:
        answers = [llm.complete(ChatRequest(role="executor", messages=HELLO)).content for _ in range(4)]
    assert answers == ["ok"] * 4
    assert server.connections_accepted == 1


def test_concurrent_async_calls_reuse_their_connections(server: ScriptedServer) -> None:
    server.set_default("reviewer", Turn(content="fine", delay_s=0.05))

    async def rounds() -> list[str]:
        llm = LLMClient(lambda role: _settings(server.base_url))
        try:
            answers: list[str] = []
            for _ in range(3):  # three gates of four critics each
                batch = await asyncio.gather(*(llm.acomplete(ChatRequest(role="reviewer", messages=HELLO))
                                               for _ in range(4)))
                answers += [c.content for c in batch]
            return answers
        finally:
            await llm.aclose()

    assert asyncio.run(rounds()) == ["fine"] * 12
    assert server.connections_accepted == 4


def test_a_stream_cut_midway_is_not_reused(server: ScriptedServer) -> None:
    server.push("executor", Turn(content="partial answer that is cut", cut_after_chunks=1))
    server.set_default("executor", Turn(content="whole"))
    with LLMClient(lambda role: _settings(server.base_url), sleep=lambda s: None) as llm:
        assert llm.complete(ChatRequest(role="executor", messages=HELLO)).content == "whole"
        assert llm.complete(ChatRequest(role="executor", messages=HELLO)).content == "whole"
    assert server.connections_accepted == 2  # the cut one, then one for both later answers


class _StallingServer:
    """Answers every request with a stream whose body ends only `stall_s` after `[DONE]`."""

    def __init__(self, stall_s: float) -> None:
        self.stall_s = stall_s
        self.accepted = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/v1"

    def __enter__(self) -> _StallingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.listener.close()
        self.thread.join(timeout=5)

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(65536)
            head, _, body = request.partition(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            while len(body) < length:
                body += conn.recv(65536)
            events = [b'data: {"id":"c1","object":"chat.completion.chunk","created":0,"model":"m",'
                      b'"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}\n\n',
                      b"data: [DONE]\n\n"]
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
                         + b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events))
            self.stop.wait(self.stall_s)  # the body's last chunk comes late, or never
            try:
                conn.sendall(b"0\r\n\r\n")
            except OSError:
                pass


def test_a_server_slow_to_end_its_body_does_not_hold_the_answer_back() -> None:
    with _StallingServer(stall_s=30) as stalling, LLMClient(lambda role: _settings(stalling.base_url)) as llm:
        started = time.monotonic()
        first = llm.complete(ChatRequest(role="executor", messages=HELLO))
        second = llm.complete(ChatRequest(role="executor", messages=HELLO))
        elapsed = time.monotonic() - started
        assert (first.content, second.content) == ("hi", "hi")
        assert elapsed < 10  # far below the stall: each drain gave up after a short wait
        assert stalling.accepted == 2  # and the unfinished connection was not reused


def test_an_async_call_to_a_server_slow_to_end_its_body_is_not_held_back() -> None:
    async def twice(base_url: str) -> list[str]:
        llm = LLMClient(lambda role: _settings(base_url))
        try:
            return [(await llm.acomplete(ChatRequest(role="executor", messages=HELLO))).content for _ in range(2)]
        finally:
            await llm.aclose()

    with _StallingServer(stall_s=30) as stalling:
        started = time.monotonic()
        assert asyncio.run(twice(stalling.base_url)) == ["hi", "hi"]
        assert time.monotonic() - started < 10
        assert stalling.accepted == 2


@pytest.mark.parametrize(("base_url", "trusts"), [
    ("https://api.cerebras.ai/v1", True),
    ("http://gpu-box:8000/v1", True),  # may redirect to https: certificates must verify there
    ("http://127.0.0.1:8000/v1", False),  # a local server: no CA certificates loaded for it
    ("http://localhost:8000/v1", False),
    ("http://[::1]:8000/v1", False),
])
def test_tls_trusts_the_ca_certificates_unless_the_endpoint_is_a_local_http_server(base_url: str, trusts: bool) -> None:
    from agent.llm.client import _tls_context, _trust_store

    context = _tls_context(base_url)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert (context is _trust_store()) is trusts  # the system's CA certificates, as the HTTP library loads them
