"""What a run shows at a terminal: the plan and each step's state, streamed reasoning (dimmed) and
text, one line per tool call, each critic's verdict as it lands, and a final summary."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Literal

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from agent.gate import CriticOutcome
from agent.journal import Event
from agent.livepanel import LivePanel
from agent.llm.types import StreamCallbacks, ToolCall
from agent.session import RunHooks
from agent.summary import tests_counts
from agent.wording import counted
from tools.registry import ToolResult

Mode = Literal["live", "plain", "quiet", "json"]


class LineBuffer:
    """Streams deltas out a line at a time, so partial lines never tear the live display."""

    def __init__(self, emit: Any, style: str):
        self.emit, self.style, self.pending = emit, style, ""

    def feed(self, delta: str) -> None:
        self.pending += delta
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.emit(Text(line, style=self.style))

    def flush(self) -> None:
        if self.pending.strip():
            self.emit(Text(self.pending, style=self.style))
        self.pending = ""


class RunView:
    """Follows a run through its journal events and stream callbacks."""

    def __init__(self, mode: Mode, console: Console, *, scripted: bool = False,
                 clock: Callable[[], float] = time.monotonic):
        self.mode, self.console, self.scripted = mode, console, scripted
        self.steps: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._live: Live | None = None
        self.panel = LivePanel(lambda: self.steps, "plan" + (" (scripted model)" if scripted else ""), clock)
        self._reasoning = LineBuffer(self._print, "dim italic")
        self._text = LineBuffer(self._print, "")

    # -- wiring ---------------------------------------------------------------------------------
    def hooks(self) -> RunHooks:
        streaming = self.mode == "live"
        stream = StreamCallbacks(on_reasoning=self._reasoning.feed, on_text=self._text.feed) if streaming else None
        # The planner's answer is JSON for the program, not prose for a person: while it is
        # drafted the panel says so, and the plan is shown once parsed.
        planning = StreamCallbacks(on_reasoning=self._reasoning.feed) if streaming else None
        return RunHooks(planner=planning, executor=stream, on_verdict=self.on_verdict,
                        on_tool_result=self.on_tool_result)

    def on_model_wait(self, role: str, started: bool) -> None:
        """A model request for `role` started or ended: the live panel's spinner follows."""
        self.panel.waiting(role, started)

    def __enter__(self) -> "RunView":
        if self.mode == "live":
            self._live = Live(self.panel, console=self.console, refresh_per_second=8, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def _print(self, renderable: Any) -> None:
        if self.mode == "quiet" or self.mode == "json":
            return
        with self._lock:
            self.console.print(renderable, highlight=False, soft_wrap=True)

    def _say(self, line: str, style: str = "") -> None:
        """A line that quiet and json modes show too (json: on stderr)."""
        with self._lock:
            self.console.print(Text(line, style=style), highlight=False, soft_wrap=True)

    def _flush_streams(self) -> None:
        self._reasoning.flush()
        self._text.flush()

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.refresh()

    # -- events ---------------------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        handler = getattr(self, f"_on_{event['type']}", None)
        if handler is not None:
            self._flush_streams()
            handler(event)
            self._refresh()

    def _on_run_started(self, e: Event) -> None:
        self._print(Text(f"run {e['run_id']} on branch {e['branch']}", style="bold"))
        if self.scripted:
            self._say("answers come from a scripted model, not a real one", "bold magenta")

    def _on_plan(self, e: Event) -> None:
        self.steps = [{"title": s["title"], "state": "pending"} for s in e["steps"]]
        self._print(Group(Text(f"plan: {counted(len(self.steps), 'step')}", style="bold"),
                          *(Text(f"  {i + 1}. {s['title']}") for i, s in enumerate(self.steps))))

    def _on_step_started(self, e: Event) -> None:
        step = self.steps[e["index"]]
        step["state"] = "escalated" if step.get("escalated") else "running"
        again = f" (revision {e['attempt'] - 1})" if e["attempt"] > 1 else ""
        self._print(Text(f"\n▶ step {e['index'] + 1}: {e['title']}{again}", style="bold cyan"))

    def _on_gate(self, e: Event) -> None:
        if not e["passed"]:
            self._print(Text("  gate: changes requested", style="yellow"))

    def _on_step_committed(self, e: Event) -> None:
        self.steps[e["index"]]["state"] = "approved"
        self._say(f"✔ step {e['index'] + 1} approved: {self.steps[e['index']]['title']} ({e['commit'][:10]})", "green")

    def _on_step_unchanged(self, e: Event) -> None:
        self.steps[e["index"]]["state"] = "approved"
        self._say(f"✔ step {e['index'] + 1} approved: {self.steps[e['index']]['title']} (no changes, nothing committed)",
                  "green")

    def _on_step_blocked(self, e: Event) -> None:
        self.steps[e["index"]]["state"] = "blocked"
        self._say(f"✘ step {e['index'] + 1} blocked: {e.get('reason')}", "bold red")

    def _on_route(self, e: Event) -> None:
        self._say(e["line"], "bold magenta" if e["reasons"] else "bold")

    def _on_escalation(self, e: Event) -> None:
        self.steps[e["index"]].update(state="escalated", escalated=e["model"])
        does = "advises the executor" if e["mode"] == "advise" else "takes the step"
        self._say(f"⇪ step {e['index'] + 1} escalated to {e['model']} ({e['mode']}: it {does}): {e['reason']}",
                  "bold magenta")

    def _on_escalation_advice(self, e: Event) -> None:
        first = (e["guidance"].strip().splitlines() or [""])[0][:160]
        self._print(Text(f"  guidance: {first}", style="magenta"))

    def _on_step_skipped(self, e: Event) -> None:
        self.steps[e["index"]]["state"] = "skipped"

    def _on_test_command(self, e: Event) -> None:
        self._say(e["line"], "bold" if e.get("command") else "bold yellow")

    def _on_tests(self, e: Event) -> None:
        if e.get("ran") is False:
            self._say(f"tests: no test ran: {e.get('no_tests')}", "bold yellow")
            return
        note = "" if e.get("sandboxed", True) else " (NOT sandboxed)"
        self._print(Text(f"tests: {e.get('command')} → exit {e.get('exit_code')}, {tests_counts(e)}{note}"))

    def confirm_plan(self, plan: Any) -> bool:
        """Ask at the terminal whether to carry out the plan just shown."""
        live, self._live = self._live, None
        if live is not None:
            live.__exit__(None, None, None)
        which = "this step" if len(plan.steps) == 1 else f"these {len(plan.steps)} steps"
        answer = self.console.input(f"carry out {which}? [Y/n] ").strip().lower()
        if live is not None:
            self._live = live
            live.__enter__()
        return answer in ("", "y", "yes")

    def on_tool_result(self, call: ToolCall, result: ToolResult) -> None:
        self._flush_streams()
        # The first line that says something: a test run's output opens by echoing its command.
        lines = [line for line in result.text.strip().splitlines() if not line.startswith("$ ")]
        first = (lines or [""])[0][:100]
        args = call.arguments if len(call.arguments) <= 80 else call.arguments[:77] + "..."
        style = "red" if result.is_error else "blue"
        self._print(Text(f"  ⚙ {call.name} {args} → {first}", style=style))

    def on_verdict(self, critic: str, outcome: CriticOutcome) -> None:
        if outcome.skipped is not None:
            self._print(Text(f"  {critic}: skipped ({outcome.skipped})", style="dim"))
            return
        verdict = outcome.verdict
        mark, style = ("approve", "green") if verdict.approved else ("request changes", "yellow")
        dropped = f", {len(outcome.dropped)} unsupported dropped" if outcome.dropped else ""
        self._print(Text(f"  {critic}: {mark} ({len(verdict.findings)} findings{dropped})", style=style))
        for f in verdict.blocking():
            self._print(Text(f"    - [{f.severity}] {f.message}", style=style))
        for d in outcome.dropped:
            self._print(Text(f"    - dropped [{d.finding.severity}] {d.finding.message}: {d.reason}", style="dim"))
