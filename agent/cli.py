"""The `agent` command line: thin typer commands over `agent.commands.*`.

Implementations are imported inside each command so `agent --help` stays fast. `main` is the
only place where errors become one-line messages and exit codes.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from agent.errors import AgentError

app = typer.Typer(
    name="agent",
    help="A coding agent for GLM 4.7: plans a task, executes each step with tools, and gates every step on four critics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

RepoOpt = Annotated[Path, typer.Option("--repo", help="Repository to work on.")]
ModelOpt = Annotated[Optional[str], typer.Option("--model", help="Model id (env AGENT_MODEL).")]
BaseUrlOpt = Annotated[Optional[str], typer.Option("--base-url", help="OpenAI-compatible endpoint (env AGENT_BASE_URL).")]
ProviderOpt = Annotated[Optional[str], typer.Option("--provider", help="cerebras, zai, vllm, openrouter or openai.")]
MaxTokensOpt = Annotated[Optional[int], typer.Option(
    "--max-tokens-per-run", min=1, help="Stop (resumable, budget_exhausted) before a request could pass this many tokens.")]
MaxCostOpt = Annotated[Optional[float], typer.Option(
    "--max-cost-usd", min=0.0, help="Stop (resumable, budget_exhausted) before a request could pass this cost in US dollars.")]


def _imports_done() -> None:
    """Called by every command once its modules are loaded (a batch: once its SDK load ends).

    The hundreds of thousands of objects the imports make (the SDK's types above all) live as long
    as the process. `main` turns the garbage collector off while they are made: collecting then
    walks them again and again for nothing (~0.1 s of CPU in a batch's start-up). Frozen here, it
    stops walking them for good: no ~70 ms pause per full collection mid-run, ~0.2 s less at exit.
    """
    gc.freeze()
    gc.enable()


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"agent (glm-agent) {version('glm-agent')}")
        raise typer.Exit(0)


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """A coding agent for GLM 4.7: plans a task, executes each step with tools, and gates every step on four critics."""


def _endpoint_flags(model: str | None, base_url: str | None, provider: str | None) -> dict[str, object]:
    return {k: v for k, v in {"model": model, "base_url": base_url, "provider": provider}.items() if v is not None}


def _budget_flags(max_tokens_per_run: int | None, max_cost_usd: float | None) -> dict[str, object]:
    return {k: v for k, v in {"max_tokens_per_run": max_tokens_per_run, "max_cost_usd": max_cost_usd}.items()
            if v is not None}


@app.command()
def run(
    task: Annotated[str, typer.Argument(help="What to do, in plain words.")],
    repo: RepoOpt = Path("."),
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    provider: ProviderOpt = None,
    critics: Annotated[Optional[str], typer.Option("--critics", help="Comma-separated critics to run.")] = None,
    no_critics: Annotated[bool, typer.Option("--no-critics", help="Approve every step without critics.")] = False,
    max_steps: Annotated[Optional[int], typer.Option("--max-steps", min=1, max=12)] = None,
    max_revisions: Annotated[Optional[int], typer.Option("--max-revisions", min=0)] = None,
    test_cmd: Annotated[Optional[str], typer.Option("--test-cmd", help="The project's test command.")] = None,
    allow_no_tests: Annotated[bool, typer.Option(
        "--allow-no-tests", help="Let a run in which no test ran succeed (for a repository that has none).")] = False,
    escalation: Annotated[Optional[str], typer.Option(
        "--escalation", help="A step about to be blocked goes to the escalation role: advise, execute or off.")] = None,
    max_escalations: Annotated[Optional[int], typer.Option("--max-escalations", min=1, help="Escalations per step.")] = None,
    route: Annotated[Optional[str], typer.Option(
        "--route", help="auto: a task the plan rates beyond GLM is executed by the escalation role; off.")] = None,
    app_cmd: Annotated[Optional[str], typer.Option(
        "--app-cmd", help="Starts the web app the qa critic drives in a browser (it listens on $PORT).")] = None,
    app_url: Annotated[Optional[str], typer.Option(
        "--app-url", help="Where that app answers (loopback only; default http://127.0.0.1:8000/).")] = None,
    in_place: Annotated[bool, typer.Option("--in-place", help="Work in the current checkout on a new branch.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print only the final report as JSON.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before starting.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="One line per step.")] = False,
    max_tokens_per_run: MaxTokensOpt = None,
    max_cost_usd: MaxCostOpt = None,
) -> None:
    """Plan TASK, execute each step, gate it on the critics, and commit it on a new branch."""
    from agent.commands.run import run_command
    _imports_done()

    flags = _endpoint_flags(model, base_url, provider) | {
        k: v
        for k, v in {
            "critics": critics, "max_steps": max_steps, "max_revisions": max_revisions, "test_cmd": test_cmd,
            "allow_no_tests": allow_no_tests or None, "escalation": escalation, "max_escalations": max_escalations,
            "route": route, "app_cmd": app_cmd, "app_url": app_url,
        }.items()
        if v is not None
    } | _budget_flags(max_tokens_per_run, max_cost_usd)
    raise typer.Exit(run_command(task, repo, flags, no_critics=no_critics, in_place=in_place,
                                 json_out=json_out, yes=yes, quiet=quiet))


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(help="The run to continue.")],
    repo: RepoOpt = Path("."),
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    provider: ProviderOpt = None,
    escalation: Annotated[Optional[str], typer.Option(
        "--escalation", help="advise, execute or off: how a step about to be blocked is escalated from now on.")] = None,
    max_escalations: Annotated[Optional[int], typer.Option("--max-escalations", min=1, help="Escalations per step.")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
    quiet: Annotated[bool, typer.Option("--quiet")] = False,
    max_tokens_per_run: MaxTokensOpt = None,
    max_cost_usd: MaxCostOpt = None,
) -> None:
    """Continue an interrupted or blocked run from its journal (flags given override the run's own)."""
    from agent.commands.run import resume_command
    _imports_done()

    escalating = {k: v for k, v in {"escalation": escalation, "max_escalations": max_escalations}.items() if v is not None}
    flags = _endpoint_flags(model, base_url, provider) | _budget_flags(max_tokens_per_run, max_cost_usd) | escalating
    raise typer.Exit(resume_command(run_id, repo, flags, json_out=json_out, quiet=quiet))


@app.command()
def runs(repo: RepoOpt = Path(".")) -> None:
    """List the runs recorded in this repository."""
    from agent.commands.runs import runs_command
    _imports_done()

    raise typer.Exit(runs_command(repo))


@app.command()
def show(
    run_id: Annotated[str, typer.Argument()],
    repo: RepoOpt = Path("."),
    json_out: Annotated[bool, typer.Option("--json")] = False,
    diff: Annotated[bool, typer.Option("--diff", help="Print the run's changes as a unified diff.")] = False,
) -> None:
    """Print a run's report (or, with --diff, its changes)."""
    from agent.commands.runs import show_command
    _imports_done()

    raise typer.Exit(show_command(run_id, repo, json_out=json_out, diff=diff))


@app.command()
def undo(run_id: Annotated[str, typer.Argument()], repo: RepoOpt = Path(".")) -> None:
    """Delete a run's branch and worktree."""
    from agent.commands.runs import undo_command
    _imports_done()

    raise typer.Exit(undo_command(run_id, repo))


@app.command("apply-run")
def apply_run(run_id: Annotated[str, typer.Argument()], repo: RepoOpt = Path(".")) -> None:
    """Merge a run's branch into the current branch (refuses a dirty tree)."""
    from agent.commands.runs import apply_run_command
    _imports_done()

    raise typer.Exit(apply_run_command(run_id, repo))


@app.command()
def demo(
    keep: Annotated[bool, typer.Option("--keep", help="Keep the demo repository and print its path.")] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run the whole loop offline on a fixture against the scripted model (no key needed)."""
    from agent.commands.demo import demo_command
    _imports_done()

    raise typer.Exit(demo_command(keep=keep, json_out=json_out))


@app.command()
def apply(
    patch_file: Annotated[str, typer.Argument(help="Patch file, or - for standard input.")],
    repo: RepoOpt = Path("."),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check only; change nothing.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Per-file and per-hunk outcome as JSON.")] = False,
) -> None:
    """Apply a model-written patch atomically: every file or none."""
    from agent.commands.apply import apply_command
    _imports_done()

    raise typer.Exit(apply_command(patch_file, repo, dry_run=dry_run, json_out=json_out))


@app.command()
def review(
    repo: RepoOpt = Path("."),
    base: Annotated[Optional[str], typer.Option("--base", help="Base ref (default: merge base with the default branch).")] = None,
    head: Annotated[str, typer.Option("--head", help="Head ref.")] = "HEAD",
    critics: Annotated[Optional[str], typer.Option("--critics")] = None,
    fmt: Annotated[str, typer.Option("--format", help="markdown, json, sarif or github.")] = "markdown",
    output: Annotated[Optional[Path], typer.Option("--output", help="Write the review here instead of stdout.")] = None,
    fail_on: Annotated[Optional[str], typer.Option("--fail-on", help="Exit 1 when a finding at or above this severity exists.")] = None,
    post: Annotated[bool, typer.Option("--post", help="Post the review to the GitHub pull request.")] = False,
    github_api_url: Annotated[Optional[str], typer.Option("--github-api-url")] = None,
    post_from: Annotated[Optional[Path], typer.Option("--post-from", help="Post a payload written earlier with --format github (the workflow_run job); reviews nothing.")] = None,
    part_tokens: Annotated[Optional[int], typer.Option("--part-tokens", min=100, hidden=True, help="Diff tokens per critic request (forces splitting).")] = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    provider: ProviderOpt = None,
) -> None:
    """Review a diff with the critics, for CI on pull requests."""
    from agent.commands.review import review_command
    _imports_done()

    raise typer.Exit(review_command(
        repo, base=base, head=head, critics=critics, fmt=fmt, output=output, fail_on=fail_on,
        post=post, github_api_url=github_api_url, flags=_endpoint_flags(model, base_url, provider),
        post_from=post_from, part_tokens=part_tokens,
    ))


@app.command()
def batch(
    spec: Annotated[Path, typer.Argument(help="The batch spec (YAML).")],
    jobs: Annotated[int, typer.Option("--jobs", min=1, max=64, help="Targets run at once.")] = 1,
    resume_: Annotated[bool, typer.Option(
        "--resume", help="Skip targets already finished in the results file; continue interrupted runs.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the resolved targets and exit.")] = False,
    results: Annotated[Optional[Path], typer.Option(
        "--results", help="One JSON line per target as it finishes [default: <spec>.results.jsonl].")] = None,
    predictions: Annotated[Optional[Path], typer.Option(
        "--predictions", help="Also write the patches as SWE-bench predictions (JSONL).")] = None,
    ray: Annotated[Optional[str], typer.Option(
        "--ray", metavar="[ADDRESS]",
        help="Run on a Ray cluster: alone, a local Ray instance; or its address (auto, ray://host:10001). "
             "--jobs is then the targets in flight across the cluster.")] = None,
    retries: Annotated[int, typer.Option(
        "--retries", min=0, help="With --ray: times a target is run again when its worker dies.")] = 1,
) -> None:
    """Run the same gated task across many files or repositories."""
    from agent.commands.batch import batch_command

    # The batch loads the model SDK in the background: its imports are done once that is.
    raise typer.Exit(batch_command(spec, jobs=jobs, resume=resume_, dry_run=dry_run, results=results,
                                   predictions=predictions, after_load=_imports_done, ray=ray, retries=retries))


@app.command()
def probe(
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    provider: ProviderOpt = None,
    long_context: Annotated[int, typer.Option("--long-context", help="Prompt size in tokens for the long-context check (0 skips it).")] = 100_000,
    scripted: Annotated[bool, typer.Option("--scripted", help="Probe the built-in scripted server instead of a real endpoint.")] = False,
    repo: RepoOpt = Path("."),
) -> None:
    """Check the endpoint against GLM 4.7's validation checklist."""
    from agent.commands.probe import probe_command
    _imports_done()

    raise typer.Exit(probe_command(_endpoint_flags(model, base_url, provider), repo,
                                   long_context=long_context, scripted=scripted))


@app.command()
def doctor(
    repo: RepoOpt = Path("."),
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    provider: ProviderOpt = None,
) -> None:
    """Print configuration, key presence, endpoint reachability, git and sandbox status."""
    from agent.commands.doctor import doctor_command
    _imports_done()

    raise typer.Exit(doctor_command(repo, _endpoint_flags(model, base_url, provider)))


@app.command("scripted-server")
def scripted_server(
    script: Annotated[Path, typer.Argument(help="Script file (JSON or YAML) of turns per role.")],
    port: Annotated[int, typer.Option("--port", help="0 picks a free port.")] = 0,
    record: Annotated[Optional[Path], typer.Option("--record", help="Append every request here as JSON lines.")] = None,
) -> None:
    """Serve a scripted OpenAI-compatible model on 127.0.0.1, for testing prompts and critics offline."""
    from agent.testing.cli import serve_command
    _imports_done()

    raise typer.Exit(serve_command(script, port=port, record=record))


def optional_value(args: list[str], option: str, default: str) -> list[str]:
    """`args` with `default` after a bare `option` (last, or before another option): `--ray [ADDRESS]`.

    typer gives a string option no optional value; this is the one option that has one.
    """
    out: list[str] = []
    for index, arg in enumerate(args):
        out.append(arg)
        if arg == "--":
            return out + args[index + 1:]
        if arg == option and (index + 1 == len(args) or args[index + 1].startswith("-")):
            out.append(default)
    return out


def main() -> None:
    """Console entry point: one line and an exit code for every error a user can meet."""
    gc.disable()  # while the command's modules load; see _imports_done
    try:
        app(args=optional_value(sys.argv[1:], "--ray", "local"))
    except AgentError as exc:
        print(f"agent: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("agent: interrupted", file=sys.stderr)
        sys.exit(130)
