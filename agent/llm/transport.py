"""HTTP transports whose finished event streams give their connection back to the pool.

The SDK stops reading a chat stream at `data: [DONE]` and closes the response before the body's
last, empty chunk has been read; the HTTP library then drops the connection rather than reuse it,
so every model call paid a new TCP (and TLS) handshake. These transports wrap the library's own:
once a stream has shown `[DONE]`, closing it first reads what is left of the body (normally just
the terminating chunk), so the connection goes back to the pool.

The drain is bounded: at most DRAIN_LIMIT bytes and DRAIN_TIMEOUT_S seconds, after which the
connection is dropped as it was before. A stream closed before `[DONE]` (an interrupt, an error)
is closed at once.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import socket
import threading
import time
from dataclasses import dataclass
from typing import AsyncIterator, Iterator

import httpx2

# At a line start: a JSON string cannot hold a raw newline, so model text that happens to say
# "data: [DONE]" never matches.
DONE_MARKER = b"\ndata: [DONE]"
DRAIN_LIMIT = 64 * 1024  # past this, whatever follows [DONE] is not a body worth a connection
DRAIN_TIMEOUT_S = 0.5


class _Ending:
    """Watches a body's bytes for the end-of-stream marker, also across chunk boundaries."""

    def __init__(self) -> None:
        self.done = False
        self._tail = b""

    def see(self, chunk: bytes) -> None:
        if not self.done:
            window = self._tail + chunk
            self.done = DONE_MARKER in window
            self._tail = window[-(len(DONE_MARKER) - 1):]


@dataclass(eq=False)
class _Guard:
    """One drain under watch: its socket, and whether it is still draining."""

    sock: socket.socket
    draining: bool = True


class _Watchdog:
    """One thread for the process that shuts down the socket of any drain still running at its deadline.

    The blocked read then fails at once and the connection is dropped. Guards are changed only
    under the lock, so a drain that stood down (before its connection went back to the pool) can
    never have its socket touched afterwards.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._deadlines: list[tuple[float, int, _Guard]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def guard(self, sock: socket.socket, seconds: float) -> _Guard:
        guard = _Guard(sock)
        with self._cond:
            idle = not self._deadlines
            heapq.heappush(self._deadlines, (time.monotonic() + seconds, next(self._order), guard))
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="stream-drain-watchdog", daemon=True)
                self._thread.start()
            elif idle:  # deadlines only grow, so the thread needs waking only when it waits for none
                self._cond.notify()
        return guard

    def stand_down(self, guard: _Guard) -> None:
        with self._cond:
            guard.draining = False

    def _watch(self) -> None:
        with self._cond:
            while True:
                while self._deadlines and not self._deadlines[0][2].draining:
                    heapq.heappop(self._deadlines)
                if not self._deadlines:
                    self._cond.wait()
                    continue
                wait = self._deadlines[0][0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                _, _, overdue = heapq.heappop(self._deadlines)
                try:
                    overdue.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


_WATCHDOG = _Watchdog()


def socket_of(response: httpx2.Response) -> socket.socket | None:
    """The socket a response is read from, when the transport tells (plain and TLS connections do)."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    return sock if isinstance(sock, socket.socket) else None


class _DrainingStream(httpx2.SyncByteStream):
    def __init__(self, inner: httpx2.SyncByteStream, response: httpx2.Response) -> None:
        self._inner = inner
        self._response = response
        self._chunks = iter(inner)
        self._ending = _Ending()

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self._ending.see(chunk)
            yield chunk

    def close(self) -> None:
        try:
            sock = socket_of(self._response) if self._ending.done else None
            if sock is not None:  # without the socket, nothing could bound the wait: no drain
                guard = _WATCHDOG.guard(sock, DRAIN_TIMEOUT_S)
                try:
                    _drain(self._chunks)
                finally:
                    _WATCHDOG.stand_down(guard)
        except httpx2.TransportError:
            pass  # cut short: the connection is dropped, as it would have been without the drain
        finally:
            self._inner.close()


def _drain(chunks: Iterator[bytes]) -> None:
    drained = 0
    for chunk in chunks:  # normally just the chunked body's terminator
        drained += len(chunk)
        if drained > DRAIN_LIMIT:
            return


async def _adrain(chunks: AsyncIterator[bytes]) -> None:
    drained = 0
    async for chunk in chunks:
        drained += len(chunk)
        if drained > DRAIN_LIMIT:
            return


class _AsyncDrainingStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream) -> None:
        self._inner = inner
        self._chunks = inner.__aiter__()
        self._ending = _Ending()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            self._ending.see(chunk)
            yield chunk

    async def aclose(self) -> None:
        try:
            if self._ending.done:
                async with asyncio.timeout(DRAIN_TIMEOUT_S):
                    await _adrain(self._chunks)
        except (httpx2.TransportError, TimeoutError):
            pass
        finally:
            await self._inner.aclose()


class DrainingTransport(httpx2.BaseTransport):
    """The HTTP library's transport, with responses that drain a finished event stream on close."""

    def __init__(self, inner: httpx2.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = self._inner.handle_request(request)
        assert isinstance(response.stream, httpx2.SyncByteStream)
        response.stream = _DrainingStream(response.stream, response)
        return response

    def close(self) -> None:
        self._inner.close()


class AsyncDrainingTransport(httpx2.AsyncBaseTransport):
    """The async twin of `DrainingTransport`."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        response.stream = _AsyncDrainingStream(response.stream)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
