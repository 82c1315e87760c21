"""The model client: streamed chat completions over the openai SDK, with our own retries.

One SDK client per distinct (base_url, api_key), created with `max_retries=0` because the
retry policy lives in `agent.llm.retry`. Every request streams and carries `X-Agent-Role`.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import ssl
import threading
import time
import urllib.parse
from typing import Any, Awaitable, Callable, Iterable

import httpx2
import openai

from agent.llm.deadline import WATCHDOG, Deadline
from agent.llm.profiles import Profile, profile_for
from agent.llm.request import CallState
from agent.llm.retry import RetryPolicy, StreamCut, StreamError, StreamTimeout, rate_limit_headers
from agent.llm.stream import StreamAssembler
from agent.llm.transport import AsyncDrainingTransport, DrainingTransport, socket_of
from agent.llm.types import Carrier, ChatRequest, Completion, Message, RoleSettings, StreamCallbacks
from agent.llm.usage import UsageLedger

RateLimitHook = Callable[[dict[str, str]], None]
# Admits one attempt (it may wait); may answer what to call once the request has reached the server.
AttemptHook = Callable[[ChatRequest, int], Callable[[], None] | None]
NoticeHook = Callable[[str, dict[str, Any]], None]  # (event type, fields): things worth journaling once
_RETRYABLE = (openai.APIError, StreamCut, StreamError)
# The SDK insists on a key; servers without auth (a local vLLM) ignore this one.
_NO_KEY = "no-key"


class LLMClient:
    """Implements `agent.protocols.ModelClient` for every provider profile."""

    def __init__(self, settings_for: Callable[[str], RoleSettings], ledger: UsageLedger | None = None, *,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 policy: RetryPolicy | None = None, on_rate_limit: RateLimitHook | None = None,
                 asleep: Callable[[float], Awaitable[None]] | None = None,
                 before_attempt: AttemptHook | None = None,
                 on_notice: NoticeHook | None = None):
        self.settings_for = settings_for
        # Called before every attempt (retries included) with the request and that attempt's
        # completion budget: a shared rate limiter admits each one, not just the first. What it
        # answers is called once the server has begun its response or the attempt failed: the
        # request has certainly arrived by then (the limiter counts arrivals, not admissions).
        self.before_attempt = before_attempt
        self.ledger = ledger
        self.policy = policy or RetryPolicy()
        self.on_rate_limit = on_rate_limit
        self.last_rate_limit: dict[str, str] = {}
        self._sleep = sleep
        self._clock = clock
        # An injected sleep is a test's fake: call it from async code too, so it sees every wait.
        self._asleep = asleep or (asyncio.sleep if sleep is time.sleep else _async_of(sleep))
        self._lock = threading.Lock()
        self._sync_clients: dict[tuple[str, str], openai.OpenAI] = {}
        self._async_clients: dict[tuple[str, str, int], openai.AsyncOpenAI] = {}
        self.on_notice = on_notice
        # Which off-switch of its profile each endpoint honours, learnt for the rest of the process.
        self._switches: dict[tuple[str, str], int] = {}

    # -- the ModelClient protocol -------------------------------------------------------------

    def complete(self, request: ChatRequest, callbacks: StreamCallbacks | None = None) -> Completion:
        """One chat completion, streamed, with retries; raises ModelAPIError kinds."""
        call = self._start(request)
        while True:
            try:
                completion = self._attempt(call, callbacks)
            except _RETRYABLE as exc:
                self._sleep(self._wait(call, exc, callbacks))
                continue
            if not self._retry_for_length(call, completion, callbacks):
                return self._finish(call, completion)

    async def acomplete(self, request: ChatRequest, callbacks: StreamCallbacks | None = None) -> Completion:
        """The same, for concurrent callers such as the critic gate."""
        call = self._start(request)
        while True:
            try:
                completion = await self._aattempt(call, callbacks)
            except _RETRYABLE as exc:
                await self._asleep(self._wait(call, exc, callbacks))
                continue
            if not self._retry_for_length(call, completion, callbacks):
                return self._finish(call, completion)

    def assistant_message(self, role: str, completion: Completion) -> Message:
        """The history entry for `completion`, carrying reasoning the way the role's provider wants it."""
        return self.profile(role).assistant_message(completion, self.carrier(role))

    # -- lifecycle ----------------------------------------------------------------------------

    def profile(self, role: str) -> Profile:
        """The provider profile the role's settings name."""
        return profile_for(self.settings_for(role).provider)

    def carrier(self, role: str) -> Carrier:
        """How the role's earlier reasoning goes back: its setting, else its profile's."""
        return self.settings_for(role).carrier or self.profile(role).carrier

    def off_switch(self, role: str) -> dict[str, Any] | None:
        """The request keys that switch the role's reasoning off now (None: its provider has none)."""
        settings, profile = self.settings_for(role), self.profile(role)
        if not profile.off_switches:
            return None
        return profile.off_switches[self._switches.get((settings.base_url, settings.provider), 0)]

    def close(self) -> None:
        """Close the synchronous SDK clients (async ones are closed by `aclose`)."""
        with self._lock:
            clients, self._sync_clients = list(self._sync_clients.values()), {}
        for client in clients:
            client.close()

    async def aclose(self) -> None:
        """Close the SDK clients of the running event loop, then the synchronous ones."""
        loop_id = id(asyncio.get_running_loop())
        with self._lock:
            mine = [key for key in self._async_clients if key[2] == loop_id]
            clients = [self._async_clients.pop(key) for key in mine]
        for client in clients:
            await client.close()
        self.close()

    def __enter__(self) -> "LLMClient":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- one attempt --------------------------------------------------------------------------

    def _start(self, request: ChatRequest) -> CallState:
        settings = self.settings_for(request.role)
        switch = self._switches.get((settings.base_url, settings.provider), 0)
        return CallState(request, settings, profile_for(settings.provider), self.policy, started=self._clock(),
                         switch=switch)

    def _attempt(self, call: CallState, callbacks: StreamCallbacks | None) -> Completion:
        call.begin_attempt()
        arrived = self.before_attempt(call.request, call.budget) if self.before_attempt is not None else None
        try:
            sdk = self._sync_client(call.settings)
            started = self._clock()
            # cast_to=object: the SDK decodes the SSE stream and raises its errors, but hands each
            # chunk over as parsed JSON instead of building a model object per token.
            deadline = Deadline(call.settings.limits, call.deadline_s())
            stream = sdk.post("/chat/completions", body=call.body(), options=call.options(), cast_to=object,
                              stream=True, stream_cls=openai.Stream[object])
        finally:
            if arrived is not None:
                arrived()
        with stream:
            self._note_headers(stream.response.headers)
            assembler = StreamAssembler(call.profile, callbacks, self._clock, started)
            sock = socket_of(stream.response)
            if sock is not None:
                WATCHDOG.watch(deadline, sock)
            try:
                for chunk in stream:
                    _on_event(deadline)
                    assembler.feed(chunk)
            except openai.APIConnectionError:
                _reraise_unless_finished(assembler, deadline)
            finally:
                WATCHDOG.forget(deadline)
        return _finished(assembler, deadline)

    async def _aattempt(self, call: CallState, callbacks: StreamCallbacks | None) -> Completion:
        call.begin_attempt()
        arrived = None
        if self.before_attempt is not None:
            arrived = await asyncio.to_thread(self.before_attempt, call.request, call.budget)
        try:
            sdk = self._async_client(call.settings)
            started = self._clock()
            deadline = Deadline(call.settings.limits, call.deadline_s())
            stream = await sdk.post("/chat/completions", body=call.body(), options=call.options(), cast_to=object,
                                    stream=True, stream_cls=openai.AsyncStream[object])
        finally:
            if arrived is not None:
                arrived()
        async with stream:
            self._note_headers(stream.response.headers)
            assembler = StreamAssembler(call.profile, callbacks, self._clock, started)
            loop = asyncio.get_running_loop()
            try:
                async with asyncio.timeout(_loop_due(loop, deadline)) as timer:
                    async for chunk in stream:
                        deadline.event()
                        timer.reschedule(_loop_due(loop, deadline))
                        assembler.feed(chunk)
            except TimeoutError:
                deadline.fired = deadline.reason(time.monotonic())
                _reraise_unless_finished(assembler, deadline)
            except openai.APIConnectionError:
                _reraise_unless_finished(assembler, deadline)
        return _finished(assembler, deadline)

    def _wait(self, call: CallState, exc: BaseException, callbacks: StreamCallbacks | None) -> float:
        switch = call.switch
        delay = call.wait_after(exc, self._rate_limited)
        if callbacks is not None and callbacks.on_retry is not None:
            callbacks.on_retry(f"retrying in {delay:.1f}s: {exc}")
        if call.switch != switch:
            self._learn_switch(call, "refused")
        return delay

    def _learn_switch(self, call: CallState, why: str) -> None:
        """Use `call`'s off-switch for its endpoint from now on, and say so once."""
        key = (call.settings.base_url, call.settings.provider)
        with self._lock:  # critics answer concurrently: the first to learn it says it
            if self._switches.get(key, 0) >= call.switch:
                return
            self._switches[key] = call.switch
        if self.on_notice is not None:
            previous = call.profile.off_switches[call.switch - 1]
            self.on_notice("reasoning_switch", {
                "role": call.request.role, "base_url": call.settings.base_url, "why": why,
                "from": previous, "to": call.profile.off_switches[call.switch]})

    def _retry_for_length(self, call: CallState, completion: Completion, callbacks: StreamCallbacks | None) -> bool:
        if not call.retry_for_length(completion):
            return False
        if callbacks is not None and callbacks.on_retry is not None:
            callbacks.on_retry(f"reasoning used the whole budget; retrying with {call.budget} tokens")
        return True

    def _finish(self, call: CallState, completion: Completion) -> Completion:
        # The answer stands; later calls to this endpoint use the profile's other switch.
        if call.reasoning_ignored(completion) and call.next_switch():
            self._learn_switch(call, "ignored")
        completion = call.final(completion, self._clock())
        if self.ledger is not None:
            self.ledger.record(call.request.role, call.request.step, completion.usage)
        return completion

    def _note_headers(self, headers: Any) -> None:
        limits = rate_limit_headers(headers)
        if limits:
            self._rate_limited(limits)

    def _rate_limited(self, headers: dict[str, str]) -> None:
        self.last_rate_limit = headers
        if self.on_rate_limit is not None:
            self.on_rate_limit(headers)

    # -- SDK clients --------------------------------------------------------------------------

    def _sync_client(self, settings: RoleSettings) -> openai.OpenAI:
        key = (settings.base_url, settings.api_key or _NO_KEY)
        with self._lock:
            if key not in self._sync_clients:
                self._sync_clients[key] = openai.OpenAI(base_url=key[0], api_key=key[1], max_retries=0,
                                                        http_client=_http_client(key[0]))
            return self._sync_clients[key]

    def _async_client(self, settings: RoleSettings) -> openai.AsyncOpenAI:
        # httpx connection pools belong to one event loop, so each loop gets its own SDK client.
        key = (settings.base_url, settings.api_key or _NO_KEY, id(asyncio.get_running_loop()))
        with self._lock:
            if key not in self._async_clients:
                self._async_clients[key] = openai.AsyncOpenAI(base_url=key[0], api_key=key[1], max_retries=0,
                                                              http_client=_async_http_client(key[0]))
            return self._async_clients[key]


def load_http_stack(base_urls: Iterable[str]) -> None:
    """Import the HTTP library's transport and build the TLS context these endpoints need, now.

    Both happen on a process's first request otherwise; a batch calls this before its job threads
    start, so they do not all queue behind the import lock in their first seconds.
    """
    for base_url in set(base_urls):
        _http_client(base_url).close()


def _http_client(base_url: str) -> httpx2.Client:
    """The SDK's default HTTP client, on a transport that reuses the connection of a finished stream."""
    inner = httpx2.HTTPTransport(verify=_tls_context(base_url), limits=openai.DEFAULT_CONNECTION_LIMITS)
    return openai.DefaultHttpxClient(transport=DrainingTransport(inner))


def _async_http_client(base_url: str) -> httpx2.AsyncClient:
    inner = httpx2.AsyncHTTPTransport(verify=_tls_context(base_url), limits=openai.DEFAULT_CONNECTION_LIMITS)
    return openai.DefaultAsyncHttpxClient(transport=AsyncDrainingTransport(inner))


def _tls_context(base_url: str) -> ssl.SSLContext:
    """The trust store, which an https endpoint needs, and a plain-http one too should it redirect to
    https. Only a local server (http on a loopback address) gets a context that trusts nothing,
    sparing the ~25 ms of loading CA certificates."""
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme == "http" and _is_loopback(parts.hostname or ""):
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return _trust_store()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@functools.cache
def _trust_store() -> ssl.SSLContext:
    """The TLS context every https client of this process shares, built as the HTTP library builds
    its default (trust store and SSL_CERT_* variables): loading the CA certificates costs ~25 ms,
    once per process instead of once per run."""
    return httpx2.create_ssl_context()


def _finished(assembler: StreamAssembler, deadline: Deadline) -> Completion:
    if deadline.fired is not None and assembler.finish_reason is None:
        raise StreamTimeout(deadline.fired)  # the cut body may have ended cleanly
    return assembler.finish()


def _on_event(deadline: Deadline) -> None:
    deadline.event()
    if deadline.events == 1:  # the deadline moves from the first token's to the idle one's
        WATCHDOG.wake()


def _loop_due(loop: asyncio.AbstractEventLoop, deadline: Deadline) -> float:
    return loop.time() + max(deadline.due() - time.monotonic(), 0.0)


def _reraise_unless_finished(assembler: StreamAssembler, deadline: Deadline) -> None:
    """A connection dropped after the finish_reason lost nothing but [DONE]: keep the answer.
    One the watchdog cut is a StreamTimeout saying which deadline passed."""
    if assembler.finish_reason is not None:
        return
    if deadline.fired is not None:
        raise StreamTimeout(deadline.fired)
    raise


def _async_of(sleep: Callable[[float], None]) -> Callable[[float], Awaitable[None]]:
    async def asleep(seconds: float) -> None:
        sleep(seconds)
        await asyncio.sleep(0)

    return asleep
