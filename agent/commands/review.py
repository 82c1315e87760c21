"""`agent review`: the critics on a pull request's diff, rendered for CI, optionally posted to GitHub.

Shape: check the flags, find the diff, cut it into parts, run every critic on every part at once,
merge, render, write, post, pick the exit code (1 when a finding reaches --fail-on).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.config import AgentConfig, load_config
from agent.redact import redact
from agent.critic_tools import AGENTS_MD_CHARS, CriticTools, ToolBudget, agents_md
from agent.errors import UserError
from agent.llm.usage import UsageLedger
from agent.review.critique import PartVerdict, ReviewRun, pr_text, review_critics, user_message
from agent.review.diff import Changes, read_changes, resolve_refs
from agent.review.formats import FORMATS, render_json, render_markdown
from agent.review.github_plan import GitHubPlan, build_plan
from agent.review.merge import build_result
from agent.review.model import ReviewResult, parse_severity
from agent.review.parts import CHARS_PER_TOKEN, DiffPart, part_budget_chars, split_parts
from agent.review import post as posting  # `post` is also the --post flag's name
from agent.review.post import load_plan, post_target, read_event
from agent.review.sarif import render_sarif
from agent.review.secrets import redacted, review_secret_values
from agent.recorder import RedactingClient
from agent.gitrepo import open_repo
from agent.snapshot import commit_snapshot
from critics.registry import Critic
from critics.evidence import Evidence
from critics.verdict import Severity
from tools.registry import ToolContext

PART_TOKENS_ENV = "AGENT_REVIEW_PART_TOKENS"  # per-request diff budget, to force splitting
DEFAULT_REQUEST_CHANGES_AT: Severity = "high"


def review_command(repo: Path, *, base: str | None, head: str, critics: str | None, fmt: str, output: Path | None,
                   fail_on: str | None, post: bool, github_api_url: str | None, flags: dict[str, Any],
                   post_from: Path | None = None, part_tokens: int | None = None) -> int:
    """Run the review; the exit code: 0, or 1 when a finding is at or above --fail-on."""
    env = os.environ
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    threshold = _severity(fail_on)
    if post_from is not None:
        _say(_post_saved(post_from, env, github_api_url))
        return 0
    target = post_target(env, github_api_url) if post else None  # missing env fails before any model call
    result, plan = _review(repo, base, head, critics, flags, env, threshold, _part_tokens(part_tokens, env))
    rendered = _render(fmt, result, plan)
    token = env.get("GITHUB_TOKEN") or ""
    _write(rendered.replace(token, "[REDACTED]") if len(token) >= 6 else rendered, output)
    if env.get("GITHUB_STEP_SUMMARY"):
        with open(env["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as summary:
            summary.write(render_markdown(result))
    if target is not None:
        _say(posting.post(target, plan))
    return 1 if threshold is not None and result.fails(threshold) else 0


def _review(repo: Path, base: str | None, head: str, critics: str | None, flags: dict[str, Any],
            env: Mapping[str, str], threshold: Severity | None, part_tokens: int | None) -> tuple[ReviewResult, GitHubPlan]:
    repo_root = open_repo(repo)
    config = load_config(repo_root, {**flags, **({"critics": critics} if critics else {})}, env)
    chosen = review_critics(config.critics, repo_root)
    refs = resolve_refs(repo_root, base, head)
    changes = read_changes(repo_root, refs, tuple(config.secret_globs))
    secrets = review_secret_values(repo_root, refs, changes, tuple(config.secret_globs))
    event = read_event(env)
    pr = pr_text(event.title, event.body) if event else pr_text(None, None)
    parts, too_big = split_parts(changes.files, _budget(config, chosen, pr, part_tokens))
    skipped = len(changes.skipped) + len(too_big)
    if parts:
        _say(f"reviewing {len(changes.files)} file(s) between {refs.base[:12]} and {refs.head[:12]} in {len(parts)} "
             f"part(s) with {', '.join(c.name for c in chosen)}; {skipped} skipped")
    else:
        _say(f"nothing to review between {refs.base[:12]} and {refs.head[:12]}; {skipped} file(s) skipped")
    for critic in chosen if parts else ():  # no model is asked when there is nothing to review: no key needed
        config.require_key(critic.name)
    with commit_snapshot(repo_root, refs.head) as tree:
        verdicts = _run_critics(config, chosen, parts, pr, threshold or DEFAULT_REQUEST_CHANGES_AT, tree,
                                secrets) if parts else []
    result = redacted(build_result(refs.base, refs.head, [c.name for c in chosen], verdicts, _reviewed(changes, parts),
                                   sorted([*changes.skipped, *too_big], key=lambda s: s.path)), secrets)
    plan = build_plan(result, changes.right_lines(), threshold or DEFAULT_REQUEST_CHANGES_AT,
                      event.pull_number if event else None)
    return result, plan


def _run_critics(config: AgentConfig, critics: list[Critic], parts: list[DiffPart], pr: str,
                 unreviewed: Severity, tree: Path, secrets: tuple[str, ...]) -> list[PartVerdict]:
    """Every critic on every part, reading the head `tree` with the context tools."""
    from agent.llm.client import LLMClient  # the SDK takes a second to import: not for a bad flag or --post-from

    secret_globs = tuple(config.secret_globs)
    tools = CriticTools(ToolContext(root=tree, secret_globs=secret_globs),
                        ToolBudget(config.critic_tool_calls, config.critic_tool_bytes))
    inner = LLMClient(config.role_settings, UsageLedger())
    client = RedactingClient(inner, secrets) if secrets else inner  # the secret values never leave in a request
    try:
        run = ReviewRun(client, critics, on_verdict=_progress, tools=tools, agents=agents_md(tree, secret_globs),
                        evidence=Evidence(tree, secret_globs=secret_globs, redact=redact),
                        unreviewed_severity=unreviewed)
        return run.run(parts, pr)
    finally:
        client.close()


def _reviewed(changes: Changes, parts: list[DiffPart]) -> set[str]:
    """Paths a finding may name: every file in the diff that the critics saw."""
    return {path for part in parts for path in part.files} | {f.path for f in changes.files}


def _budget(config: AgentConfig, critics: list[Critic], pr: str, part_tokens: int | None) -> int:
    """Diff characters per request: the override, else the context minus the answer and the prompt."""
    if part_tokens is not None:
        return part_tokens * CHARS_PER_TOKEN
    completion = max((config.role_settings(c.name).max_completion_tokens for c in critics), default=0)
    empty = DiffPart(1, 1, [], "")
    # The prompt around the diff, the AGENTS.md it may carry, and what the critic's tools may return.
    prompt = (max((len(c.system_prompt) for c in critics), default=0) + len(user_message(empty, pr))
              + AGENTS_MD_CHARS + config.critic_tool_bytes)
    return part_budget_chars(config.context_budget, completion, prompt)


def _part_tokens(given: int | None, env: Mapping[str, str]) -> int | None:
    raw = given if given is not None else env.get(PART_TOKENS_ENV)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise UserError(f"{PART_TOKENS_ENV}={raw!r} is not a whole number of tokens") from None
    if value < 100:
        raise UserError(f"the review part budget must be at least 100 tokens (got {value})")
    return value


def _severity(fail_on: str | None) -> Severity | None:
    if fail_on is None:
        return None
    try:
        return parse_severity(fail_on)
    except ValueError as exc:
        raise UserError(f"--fail-on: {exc}") from None


def _render(fmt: str, result: ReviewResult, plan: GitHubPlan) -> str:
    if fmt == "json":
        return render_json(result)
    if fmt == "sarif":
        return render_sarif(result)
    if fmt == "github":
        return plan.model_dump_json(indent=2) + "\n"
    return render_markdown(result)


def _write(text: str, output: Path | None) -> None:
    """Standard output, or the file replaced atomically (a reader never sees half a review)."""
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _post_saved(path: Path, env: Mapping[str, str], api_url: str | None) -> str:
    """`--post-from FILE`: post a payload an earlier, unprivileged job wrote; no repository is read."""
    target = post_target(env, api_url)
    return posting.post(target, load_plan(path))


def _progress(verdict: PartVerdict) -> None:
    note = "" if verdict.readable else " (unreadable answer)"
    if verdict.dropped:
        note += f" ({len(verdict.dropped)} unsupported finding(s) dropped)"
    _say(f"{verdict.critic} on part {verdict.part}: {verdict.verdict.verdict}, "
         f"{len(verdict.verdict.findings)} finding(s){note}")


def _say(line: str) -> None:
    sys.stderr.write(f"review: {line}\n")  # one write: critics report from several threads
    sys.stderr.flush()
