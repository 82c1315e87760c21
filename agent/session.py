"""Everything one run needs, wired together: config, workspace, journal, model, tools, critics."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from agent.config import ESCALATION_ROLE, AgentConfig
from agent.critic_tools import CriticTools, ToolBudget, agents_md, tool_call_record
from agent.errors import AgentError, UserError
from agent.executor import Executor, ExecutorLimits, StepOutcome
from agent.gate import CriticOutcome, Gate, GateResult, StepUnderReview
from agent.gitrepo import git, run_git
from agent.journal import Journal, read_events
from agent.llm.types import StreamCallbacks, ToolCall
from agent.planner import Plan, make_plan
from agent.qa import QAKit, QASetup
from agent.prompting import render_prompt
from agent.recorder import RecordingClient
from agent.redact import redact, redact_exact
from agent.repoview import repo_view
from agent.restore import checkout_state
from agent.snapshot import index_snapshot
from agent.runnames import is_run_id
from agent.workspace import GitWorkspace
from critics.evidence import Evidence
from critics.registry import CONTEXT_TOOLS, Critic
from tools.registry import ToolContext, ToolResult, dispatch, tool_schemas
from tools.sandbox import SandboxPolicy
from tools.setup import ProjectSetup, SetupResult
from tools.testrun import Detected, resolve_test_command
from tools.trim import trim_middle
from tools.webapp import find_app

# Put before the test result the critics read when no test ran: they must not take silence for a pass.
NO_TESTS_NOTE = "NO TEST RAN for this step: the change is not verified by any test. Reason and output:\n"
CRITIC_DIFF_CHARS = 120_000
QA_MAX_TEST_RUNS = 2  # per critic and gate: a critic's test run takes as long as the executor's
TOOL_RESULT_JOURNAL_CHARS = 4_000
# What the report keeps of the last whole-suite test run.
TESTS_FIELDS = ("command", "exit_code", "passed", "failed", "errors", "skipped", "runner", "failing", "sandboxed",
                "ran", "no_tests", "no_tests_kind")


@dataclass
class RunHooks:
    """How the terminal view follows a run beyond the journal: streamed text and verdicts."""

    planner: StreamCallbacks | None = None
    executor: StreamCallbacks | None = None
    on_verdict: Callable[[str, CriticOutcome], None] | None = None
    on_tool_result: Callable[[ToolCall, ToolResult], None] | None = None
    confirm_plan: Callable[[Plan], bool] | None = None  # False: the user declined the plan


@dataclass
class JournaledTools:
    """The executor's tools; each call and its result go to the journal."""

    context: ToolContext
    journal: Journal
    step: str
    hooks: RunHooks
    secret_values: tuple[str, ...] = ()  # the checkout's secrets: never in a result, journal or log

    @functools.cached_property
    def schemas(self) -> list[dict[str, Any]]:
        """The tool schemas sent with each executor request (built when first needed: a test run
        of the gate sends none)."""
        return tool_schemas()

    def run(self, call: ToolCall) -> ToolResult:
        result = dispatch(call, self.context)
        if self.secret_values:
            result = ToolResult(redact_exact(result.text, self.secret_values), result.is_error,
                                redact_exact(result.data, self.secret_values))
        self.journal.append("tool_call", step=self.step, id=call.id, name=call.name, arguments=call.arguments,
                            is_error=result.is_error, result=trim_middle(result.text, TOOL_RESULT_JOURNAL_CHARS),
                            data=result.data or None)
        if self.hooks.on_tool_result is not None:
            self.hooks.on_tool_result(call, result)
        return result

    def keep_arguments(self, call_id: str, arguments: str) -> str:
        """Store a tool call's whole arguments in the run's folder (redacted); where, for the history's stand-in."""
        name = f"{self.step}-{re.sub(r'[^A-Za-z0-9_.-]', '_', call_id)[:80]}.json"
        folder = self.journal.path.parent / "arguments"
        folder.mkdir(exist_ok=True)
        (folder / name).write_text(redact(arguments), encoding="utf-8")
        return f"the run's folder (arguments/{name})"


@dataclass
class RunSession:
    run_id: str
    task: str
    config: AgentConfig
    workspace: GitWorkspace
    journal: Journal
    client: RecordingClient
    critics: list[Critic]
    hooks: RunHooks = field(default_factory=RunHooks)
    plan: Plan | None = None
    approved: set[int] = field(default_factory=set)
    secret_values: tuple[str, ...] = ()  # values of the checkout's secret files, redacted everywhere
    executor_role: str = "executor"  # "escalation" when the task was routed to the stronger model
    routed: bool = False  # whether `route = "auto"` has chosen the executor for this run's plan
    # What the planner saw: nothing changes before the first step starts, so that step sees it too.
    _planned_view: str | None = field(default=None, init=False, repr=False)
    # The whole test suite's result on the tree the last gate judged (None when that gate saw none).
    _judged_tests: dict[str, Any] | None = field(default=None, init=False, repr=False)

    def tool_context(self) -> ToolContext:
        policy = SandboxPolicy(env_allow=tuple(self.config.sandbox_env_allow), mounts=tuple(self.config.sandbox_mounts),
                               hidden=self.workspace.user_files)
        return ToolContext(root=self.workspace.root, secret_globs=tuple(self.config.secret_globs),
                           user_files=self.workspace.user_files,
                           test_command=self.config.test_cmd, test_timeout_s=self.config.test_timeout_s,
                           sandbox=self.config.sandbox, sandbox_policy=policy, setup=self.setup)

    @functools.cached_property
    def setup(self) -> ProjectSetup | None:
        """The project's setup_cmd, shared by every step so that it runs once per worktree."""
        if not self.config.setup_cmd:
            return None
        return ProjectSetup(self.config.setup_cmd, self.workspace.root, self.journal.path.parent / "setup.json",
                            self.config.setup_timeout_s, self.config.sandbox, on_result=self._journal_setup,
                            hidden=self.workspace.user_files)

    def _journal_setup(self, result: SetupResult) -> None:
        self.journal.append("setup", **result.record(), ok=result.ok, output=trim_middle(result.output, 4_000))

    def tools(self, step: str) -> JournaledTools:
        """The executor's tools for `step` (or a test run of the gate), journaled."""
        return JournaledTools(self.tool_context(), self.journal, step, self.hooks, self.secret_values)

    def test_command(self) -> Detected | None:
        """The command run_tests runs in this run's worktree, and why (configured or detected)."""
        return resolve_test_command(self.workspace.root, self.config.test_cmd)

    def make_plan(self) -> Plan:
        self._planned_view = self._repo_view()
        plan = make_plan(self.client, self.task, self._planned_view, max_steps=self.config.max_steps,
                         callbacks=self.hooks.planner)
        self.journal.append("plan", steps=[s.model_dump() for s in plan.steps], difficulty=plan.difficulty)
        self.plan = plan
        if self.client.reasoning is not None:  # the steps' labels now choose their requests' reasoning
            self.client.reasoning.plan = plan
        return plan

    def _repo_view(self) -> str:
        return repo_view(self.workspace.root, tuple(self.config.secret_globs), self.workspace.user_files)

    def new_executor(self, plan: Plan, index: int, *, role: str = "executor", takeover: str | None = None) -> Executor:
        """An executor for step `index`, its requests sent as `role`; `takeover`: the case file of a
        stuck step it takes over (an escalation)."""
        step = plan.steps[index]
        view, self._planned_view = self._planned_view or self._repo_view(), None
        outline = "\n".join(f"{i + 1}. {s.title}" for i, s in enumerate(plan.steps))
        prompt = render_prompt(
            "executor_step", task=self.task, plan=outline, step_number=index + 1, step_count=len(plan.steps),
            title=step.title, description=step.description, acceptance=step.acceptance,
            repo_view=view, test_cmd=_test_cmd_line(self.test_command()),
        )
        step_id = f"step-{index + 1}"
        tools = self.tools(step_id)
        # The window holds the prompt and the answer: what the answer may use is not the prompt's.
        prompt_tokens = self.config.context_budget - self.config.role_settings(role).max_completion_tokens
        limits = ExecutorLimits(max_tool_calls=self.config.max_tool_calls, prompt_tokens=max(prompt_tokens, 1024))
        executor = Executor(self.client, tools, limits, callbacks=self.hooks.executor, keep_arguments=tools.keep_arguments,
                            role=role)
        executor.start(render_prompt("executor"), prompt, step_id)
        if takeover is not None:
            executor.tell(render_prompt("escalation_execute", case=takeover))
        return executor

    def escalations_allowed(self) -> int:
        """How many times a stuck step may be escalated: none when escalation is off, or when the
        stronger model executes the whole task already."""
        if self.config.escalation == "off" or self.executor_role == ESCALATION_ROLE:
            return 0
        return self.config.max_escalations

    def run_tests(self, step: str, args: list[str] | None = None) -> ToolResult:
        """The project's tests in the sandbox, journaled like any tool call."""
        call = ToolCall(id=f"{step}-tests", name="run_tests", arguments=json.dumps({"args": args or []}))
        return self.tools(step).run(call)

    def judge(self, plan: Plan, index: int, outcome: StepOutcome, executor: Executor) -> GateResult:
        """The critics' verdicts on the step's diff and a current test result."""
        step, step_id = plan.steps[index], f"step-{index + 1}"
        self._judged_tests = None
        self.judged_index.unlink(missing_ok=True)  # an earlier gate's tree is not this one's
        if not self.critics:
            return GateResult({})
        if executor.edited_since_tests or executor.last_tests is None:
            result = self.run_tests(step_id)
            executor.record_tests(result)
            tests_text, tests_data = result.text, result.data  # no test command: the critics read why
        else:
            tests_text, tests_data = executor.last_tests_text, executor.last_tests
        if (tests_data or {}).get("ran") is False:
            tests_text = NO_TESTS_NOTE + tests_text
        if executor.last_tests is not None and self._is_whole_suite(executor.last_tests):
            self._judged_tests = executor.last_tests
        diff = trim_middle(redact(self.workspace.diff(staged=self.judged_index)), CRITIC_DIFF_CHARS)
        tests = trim_middle(redact(tests_text), 20_000)
        with index_snapshot(self.workspace.root, self.judged_index) as tree:
            review = StepUnderReview(
                task=self.task, title=step.title, description=step.description, acceptance=step.acceptance,
                summary=outcome.summary, diff=diff, tests=tests, agents=agents_md(tree, tuple(self.config.secret_globs)),
                changed=tuple(self._judged_paths()),
            )
            evidence = Evidence(tree, [tests], tuple(self.config.secret_globs), self._redact)
            gate = Gate(self.client, self.critics, tools=self._critic_tools(tree, step_id, evidence, tests_data),
                        evidence=evidence, on_verdict=self.hooks.on_verdict).judge(review, step_id)
        self._journal_outcomes(gate, step_id)
        return gate

    def _redact(self, text: str) -> str:
        """Text as the critics are shown it: keys and the checkout's secret values redacted."""
        return redact_exact(redact(text), self.secret_values) if self.secret_values else redact(text)

    def _journal_outcomes(self, gate: GateResult, step_id: str) -> None:
        """Skipped critics and dropped findings, each with its reason, before the gate's own event."""
        for name, outcome in gate.outcomes.items():
            if outcome.skipped is not None:
                self.journal.append("critic_skipped", step=step_id, critic=name, reason=outcome.skipped)
            for dropped in outcome.dropped:
                self.journal.append("finding_dropped", step=step_id, critic=name, **dropped.as_json(),
                                    approved_after_drops=outcome.approved_after_drops)

    def _judged_paths(self) -> list[str]:
        """The paths the judged tree changes since the last commit."""
        env = {"GIT_INDEX_FILE": str(self.judged_index)}
        names = git(self.workspace.root, "diff", "--cached", "--name-only", "-z", "--no-renames", "HEAD", env=env)
        return [name for name in names.split("\0") if name]

    def _critic_tools(self, tree: Path, step_id: str, evidence: Evidence, tests: dict[str, Any] | None) -> CriticTools:
        """The critics' tools for one gate: context tools over the judged `tree`, run_tests, and the
        probe and browser tools (on scratch copies of the judged tree; `tests` is its test result).
        What a critic's runs show it may be quoted as evidence."""
        context = ToolContext(root=tree, secret_globs=tuple(self.config.secret_globs))
        budget = ToolBudget(self.config.critic_tool_calls, self.config.critic_tool_bytes)
        runs = [0]

        def run_tests(call: ToolCall) -> ToolResult:
            runs[0] += 1
            if runs[0] > QA_MAX_TEST_RUNS:
                return ToolResult(f"run_tests: refused: critics may run the tests {QA_MAX_TEST_RUNS} times per gate; "
                                  "judge from the results you have", is_error=True)
            result = self.tools(step_id).run(call)
            evidence.test_outputs.append(redact(result.text))  # a critic may quote its own run
            return result

        def record(critic: str, call: ToolCall, result: ToolResult) -> None:
            if call.name in CONTEXT_TOOLS:  # run_tests is journaled as the executor's test runs are
                self.journal.append("critic_tool_call", step=step_id, critic=critic, **tool_call_record(call, result))

        qa = QASetup(self.tool_context(), self.judged_index, tests,
                     find_app(self.workspace.root, self.config.app_cmd, self.config.app_url),
                     self.journal.path.parent, step_id, record=lambda kind, fields: self.journal.append(kind, **fields),
                     shown=evidence.test_outputs.append)
        return CriticTools(context, budget, {"run_tests": run_tests}, self.secret_values, record,
                           kits=lambda critic: QAKit(qa, critic.name))

    @property
    def judged_index(self) -> Path:
        """The index holding the tree the last gate's critics judged: the tree a passed gate commits,
        whatever a critic's own test run wrote in the checkout afterwards."""
        return self.journal.path.parent / "judged.index"

    def final_tests(self, every_step_committed: bool) -> dict[str, Any] | None:
        """The whole test suite's result on the finished branch; journaled as the report's `tests`.

        When every step was committed, the last gate's whole-suite run already tested exactly the
        tree of the last commit (a gate commits the tree it staged for its critics, and nothing edits
        the tree between that run and the staging), so its result stands and the suite is not run a
        second time. Otherwise the suite runs once more.
        """
        reused = self._judged_tests if every_step_committed else None
        data = reused if reused is not None else (self.run_tests("final").data or {})
        tests = {k: data.get(k) for k in TESTS_FIELDS}
        self.journal.append("tests", **tests, reused=reused is not None)
        return tests

    def _is_whole_suite(self, tests: dict[str, Any]) -> bool:
        """Whether a test run was the test command without arguments (not a subset of the tests)."""
        found = self.test_command()
        return found is not None and tests.get("command") == found.command

    def stopped_state(self) -> dict[str, str]:
        """`{"checkout": state}` for the event that ends a run which may be resumed: what the checkout
        held when the run stopped, so `agent resume` can tell the user's later changes from the run's."""
        try:
            return {"checkout": checkout_state(self.workspace)}
        except AgentError:  # git failing now must not hide why the run stopped; resume then stashes
            return {}

    def step_changed(self) -> bool:
        """Whether the step changed anything: the tree its critics judged (else the checkout) against the last commit."""
        if self.judged_index.is_file():
            env = {"GIT_INDEX_FILE": str(self.judged_index)}
            return run_git(self.workspace.root, ("diff", "--cached", "--quiet", "HEAD"), env).returncode != 0
        return bool(self.workspace.changed_files())

    def discard_if_unstarted(self, reason: str) -> None:
        """A run that ends before its first step keeps nothing but its journal, which says why:
        its branch and worktree are removed (a checkout used in place goes back to its branch)."""
        events = list(read_events(self.journal.path))
        if any(e["type"] == "step_started" for e in events):
            return  # work was done: it stays, to resume, inspect or undo
        try:
            if self.workspace.mode == "in_place":
                if any(e["type"] == "run_resumed" for e in events):
                    return  # the checkout may have moved since the start: which branch to go back to is the user's call
                git(self.workspace.root, "checkout", "--quiet", "@{-1}")  # the branch the run started from
            removed = self.workspace.remove()
        except AgentError as exc:  # the run's own error matters more; the journal says what is left
            self.journal.append("workspace_kept", reason=f"could not remove it: {exc}")
            return
        self.journal.append("workspace_discarded", reason=reason, removed=removed)

    def trailers(self, gate: GateResult) -> dict[str, str]:
        trailers = {name.title(): outcome.trailer() for name, outcome in gate.outcomes.items()}
        return {**trailers, "Agent-Run": self.run_id}


def _test_cmd_line(found: Detected | None) -> str:
    if found is None:
        return "none configured or detected (run_tests will say so; the run cannot be verified by tests)"
    return f"{found.command} ({found.reason}; run_tests runs it)"


def journal_path(repo_root: Path, run_id: str) -> Path:
    """Where run `run_id` keeps its journal; a run id that is not a plain name is a UserError."""
    if not is_run_id(run_id):
        raise UserError(f"invalid run id {run_id!r} (see: agent runs)")
    return repo_root / ".agent" / "runs" / run_id / "events.jsonl"
