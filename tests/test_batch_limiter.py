"""The shared rate limiter, in virtual time: requests and tokens per minute, and the server's headers."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from agent.batch.limiter import UNSETTLED_HOLD_S, Admission, RateLimiter
from agent.llm.tokens import estimate_tokens
from agent.llm.types import ChatRequest
from test_batch_support import VirtualClock, most_in_window


def _limiter(**limits: int) -> tuple[RateLimiter, VirtualClock]:
    clock = VirtualClock()
    return RateLimiter(**limits, clock=clock, sleep=clock.sleep), clock


def call(limiter: RateLimiter, tokens: int) -> None:
    """One request: admitted, sent, and arrived at once (its charge leaves a window after)."""
    ticket = limiter.acquire(tokens)
    assert ticket is not None
    limiter.settle(ticket)


def test_requests_per_minute_over_a_sliding_window():
    limiter, clock = _limiter(requests_per_minute=3)
    for _ in range(7):
        call(limiter, 10)
    assert limiter.admissions == [0, 0, 0, 60, 60, 60, 120]


def test_many_threads_never_exceed_the_limit_in_any_minute():
    limiter, clock = _limiter(requests_per_minute=10)

    def job() -> None:
        for _ in range(5):
            call(limiter, 100)

    threads = [threading.Thread(target=job) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(limiter.admissions) == 40
    assert most_in_window(limiter.admissions) <= 10
    assert max(limiter.admissions) >= 180  # 40 calls at 10 a minute need at least three more minutes


def test_tokens_per_minute_charges_up_front_and_frees_as_the_window_moves():
    limiter, clock = _limiter(tokens_per_minute=1000)
    call(limiter, 600)
    clock.sleep(10)
    call(limiter, 300)
    call(limiter, 300)  # 1200 > 1000: waits until the first charge leaves the window at t=60
    assert limiter.admissions == [0, 10, 60]
    call(limiter, 5000)  # larger than the whole limit: goes once the window is empty, never deadlocks
    assert limiter.admissions[-1] == 120


def test_a_retry_after_pauses_every_caller():
    limiter, clock = _limiter()
    limiter.observe({"retry-after": "7"})
    call(limiter, 1)
    assert limiter.admissions == [7]
    limiter.observe({"retry-after-ms": "1500"})
    call(limiter, 1)
    assert limiter.admissions[-1] == 8.5
    assert [why for _, _, why in limiter.stats.pauses] == ["retry-after", "retry-after"]


def test_an_exhausted_server_limit_waits_for_its_reset():
    limiter, clock = _limiter()
    limiter.observe({"x-ratelimit-remaining-tokens-minute": "0", "x-ratelimit-reset-tokens-minute": "12.5",
                     "x-ratelimit-remaining-requests-day": "900", "x-ratelimit-reset-requests-day": "33011"})
    call(limiter, 100)
    assert limiter.admissions == [12.5]


def test_the_server_remaining_tokens_hold_back_a_call_that_would_not_fit():
    limiter, clock = _limiter()
    limiter.observe({"x-ratelimit-remaining-tokens-minute": "1000", "x-ratelimit-reset-tokens-minute": "20"})
    call(limiter, 800)
    call(limiter, 800)  # only 200 left until the reset
    assert limiter.admissions == [0, 20]


def test_a_far_reset_is_capped_so_the_client_reports_it():
    clock = VirtualClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, max_pause_s=120)
    limiter.observe({"x-ratelimit-remaining-requests-day": "0", "x-ratelimit-reset-requests-day": "33011"})
    call(limiter, 1)
    assert limiter.admissions == [120]


def test_a_cancelled_wait_gives_up():
    limiter, clock = _limiter(requests_per_minute=1)
    assert limiter.acquire(1) is not None
    assert limiter.acquire(1, cancelled=lambda: True) is None
    assert limiter.admissions == [0]


def test_async_callers_wait_without_blocking_the_loop():
    clock = VirtualClock()

    async def asleep(seconds: float) -> None:
        clock.sleep(seconds)
        await asyncio.sleep(0)

    limiter = RateLimiter(requests_per_minute=2, clock=clock, sleep=clock.sleep, asleep=asleep)

    async def one() -> None:
        limiter.settle(await limiter.aacquire(1))

    async def main() -> None:
        await asyncio.gather(*(one() for _ in range(5)))

    asyncio.run(main())
    assert sorted(limiter.admissions) == [0, 0, 60, 60, 120]


def test_a_call_is_charged_its_input_estimate_plus_its_completion_budget():
    request = ChatRequest(role="executor", messages=[{"role": "user", "content": "x" * 400}],
                          max_completion_tokens=2000)
    assert 100 <= estimate_tokens(request.messages) <= 120
    assert Admission.charge(request, 2000) == estimate_tokens(request.messages) + 2000


def test_a_cancelled_batch_interrupts_the_next_call():
    admit = Admission(RateLimiter(), cancelled=lambda: True)
    with pytest.raises(KeyboardInterrupt):
        admit(ChatRequest(role="planner", messages=[]), 100)


def test_every_attempt_is_admitted_with_its_budget_retries_included():
    from agent.llm.client import LLMClient
    from agent.llm.types import RoleSettings
    from agent.testing import ErrorSpec, Script, ScriptedServer, Turn

    seen: list[int] = []
    script = Script(turns={"executor": [Turn(error=ErrorSpec(status=500, message="boom")),
                                        Turn(content="", reasoning="long thoughts", finish_reason="length"),
                                        Turn(content="done")]})
    with ScriptedServer(script) as server:
        settings = RoleSettings(model="zai-glm-4.7", base_url=server.base_url, api_key="unused", provider="cerebras",
                                reasoning=True, max_completion_tokens=1000, temperature=1.0, top_p=0.95)
        with LLMClient(lambda role: settings, sleep=lambda s: None,
                       before_attempt=lambda request, budget: seen.append(budget)) as client:
            completion = client.complete(ChatRequest(role="executor", messages=[{"role": "user", "content": "hi"}]))
    assert completion.content == "done"
    assert seen == [1000, 1000, 2000]  # the 500's retry, then the length retry with a doubled budget


def test_a_charge_leaves_the_window_a_minute_after_its_request_arrived_not_after_its_admission():
    limiter, clock = _limiter(requests_per_minute=1)
    slow = limiter.acquire(1)  # admitted at 0; the request reaches the server only at 5
    clock.sleep(5)
    limiter.settle(slow)
    call(limiter, 1)
    assert limiter.admissions == [0, 65]  # at 60 the server would count two requests within a minute


def test_a_charge_never_settled_still_leaves_the_window_in_the_end():
    limiter, clock = _limiter(requests_per_minute=1)
    assert limiter.acquire(1) is not None  # its caller died before the request went out
    call(limiter, 1)
    assert limiter.admissions == [0, 60 + UNSETTLED_HOLD_S]


def test_requests_that_leave_late_after_admission_never_crowd_a_minute_at_the_server():
    """Real time, real client and server: one request goes out a second after its admission (a
    descheduled process, a busy node). The limiter holds its charge until its response began, so
    the requests admitted after it cannot land in the same window as it at the server."""
    from agent.llm.client import LLMClient
    from agent.llm.types import RoleSettings
    from agent.testing import Script, ScriptedServer, Turn

    window, limit = 2.0, 2
    limiter = RateLimiter(limit, window_s=window)
    admission = Admission(limiter)

    def admit_then_stall(request: ChatRequest, budget: int):
        arrived = admission(request, budget)
        if request.role == "planner":
            time.sleep(1.0)  # admitted, then held up before it is sent
        return arrived

    script = Script(turns={"planner": [Turn(content="plan")], "executor": [Turn(content="x")] * 3})
    with ScriptedServer(script) as server:
        settings = RoleSettings(model="zai-glm-4.7", base_url=server.base_url, api_key="unused", provider="cerebras",
                                reasoning=False, max_completion_tokens=100, temperature=1.0, top_p=0.95)
        with LLMClient(lambda role: settings, before_attempt=admit_then_stall) as client:
            def ask(role: str) -> None:
                client.complete(ChatRequest(role=role, messages=[{"role": "user", "content": "hi"}]))

            first = [threading.Thread(target=ask, args=(role,)) for role in ("planner", "executor")]
            for thread in first:
                thread.start()
            while len(limiter.admissions) < 2:
                time.sleep(0.01)
            later = [threading.Thread(target=ask, args=("executor",)) for _ in range(2)]
            for thread in [*later]:
                thread.start()
            for thread in [*first, *later]:
                thread.join()
        arrivals = [r.started for r in server.requests if r.path.endswith("/chat/completions")]
    assert len(arrivals) == 4
    assert most_in_window(arrivals, window) <= limit
