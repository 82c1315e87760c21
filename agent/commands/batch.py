"""`agent batch SPEC.yaml`: the same gated task over many targets, `--jobs` at once, one shared rate limiter."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Callable, Iterable

from rich.console import Console
from rich.text import Text

from agent.batch.limiter import RateLimiter
from agent.batch.results import (
    RETRIED, ResultsFile, TargetResult, markdown_report, report_path, write_atomic, write_predictions,
)
from agent.batch.runner import BatchRun, LeftBehind, left_behind, run_all
from agent.batch.spec import BatchSpec, Target, load_targets
from agent.batch.view import BatchView, print_summary
from agent.commands.run import terminate_as_interrupt
from agent.console import make_console
from agent.config import AgentConfig, load_config
from agent.errors import UserError
from agent.preflight import preflight
from agent.runlock import RunLock

INTERRUPTED_EXIT = 130
RAY_INSTALL = "pip install 'glm-agent[ray]'"
LOCAL_RAY = "local"  # `--ray` without an address: start a local Ray instance


def batch_command(spec: Path, *, jobs: int, resume: bool, dry_run: bool, results: Path | None,
                  predictions: Path | None, console: Console | None = None,
                  limiter: RateLimiter | None = None, after_load: Callable[[], None] | None = None,
                  ray: str | None = None, retries: int = 1) -> int:
    """Run every target of the spec; 0 when all succeeded, 1 otherwise, 130 when interrupted.

    `console` and `limiter` are for tests and benchmarks (a virtual clock); the CLI passes neither.
    `after_load` is called once the model stack has been loaded (in the background), or once it is
    clear none will be (a dry run, a finished spec). `ray`: run on a Ray cluster at that address
    (`local` starts one), a dead worker's target tried `retries` more times.
    """
    if ray is not None and importlib.util.find_spec("ray") is None:
        raise UserError(f"--ray needs Ray, an optional extra: {RAY_INSTALL}")
    batch_spec, targets = load_targets(spec)
    console = console or make_console()
    if dry_run:
        check_configs(batch_spec, targets, require_keys=False)  # what the run would refuse, bar a key
        print_targets(targets, console)
        if after_load is not None:  # a dry run loads no model stack
            after_load()
        return 0
    configs = check_configs(batch_spec, targets)
    store = ResultsFile(results or default_results(spec))
    store.path.parent.mkdir(parents=True, exist_ok=True)
    # One batch at a time per results file: a second one would run the same targets again.
    owner = RunLock.acquire_file(store.path, f"the batch results file {store.path}")
    try:
        return _run_batch(batch_spec, targets, configs, store, jobs=jobs, resume=resume, predictions=predictions,
                          console=console, limiter=limiter, after_load=after_load, ray=ray, retries=retries)
    finally:
        owner.release()


def _run_batch(batch_spec: BatchSpec, targets: list[Target], configs: dict[Path, AgentConfig], store: ResultsFile,
               *, jobs: int, resume: bool, predictions: Path | None, console: Console, limiter: RateLimiter | None,
               after_load: Callable[[], None] | None, ray: str | None, retries: int) -> int:
    """`batch_command` once the spec is checked and the results file is this process's own."""
    batch_id = str(store.path.resolve())
    done = _previous_results(store, resume)
    left = left_behind([t for t in targets if t.id not in done], batch_id) if resume else LeftBehind()
    for result in left.finished.values():  # finished before a kill kept their lines from the file
        store.append(result)
    done |= left.finished
    todo = [t for t in targets if t.id not in done]
    batch = BatchRun(batch_spec.flags(), limiter or shared_limiter(configs), no_critics=batch_spec.no_critics,
                     batch_id=batch_id, resume_runs=(left.to_continue | store.interrupted_runs()) if resume else {},
                     endpoints=endpoints(configs.values(), batch_spec.no_critics), after_load=after_load)
    view = BatchView(console, todo, skipped=len(targets) - len(todo))
    batch.on_event = view.on_event
    with terminate_as_interrupt(), view:
        if ray is None:
            new = run_all(todo, batch, jobs, on_start=view.start, on_finish=_recorder(store, view))
        else:
            from agent.batch.ray_runner import RayOptions, run_on_ray  # imports Ray: only when asked for

            options = RayOptions(None if ray == LOCAL_RAY else ray, retries)
            new = run_on_ray(todo, batch, jobs, options, on_start=view.start, on_finish=_recorder(store, view))
    finished = [r for t in targets if (r := done.get(t.id) or new.get(t.id)) is not None]
    notes = _write_outputs(store.path, predictions, finished, next(iter(configs.values())))
    interrupted = len(finished) < len(targets) or any(r.status == "interrupted" for r in finished)
    if interrupted:
        unstarted = len(targets) - len(finished)
        notes.append(f"interrupted ({unstarted} target(s) not started): finished targets are in {store.path}; "
                     "continue with --resume")
    busy = sum(r.status == "busy" for r in finished)
    if busy:
        notes.append(f"{busy} target(s) busy: their run is in use by another agent process; once it ends, "
                     "retry them with --resume")
    print_summary(console, finished, notes)
    if interrupted:
        return INTERRUPTED_EXIT
    return 0 if all(r.status == "succeeded" for r in finished) else 1


def default_results(spec: Path) -> Path:
    """`batch.yaml` → `batch.results.jsonl` beside it."""
    return spec.with_name(f"{spec.stem}.results.jsonl")


def print_targets(targets: list[Target], console: Console) -> None:
    """The dry run: each resolved target's id, repository, variables and rendered task."""
    for target in targets:
        variables = " ".join(f"{k}={v}" for k, v in target.vars.items()) or "-"
        console.print(Text(f"{target.id}\n  repo: {target.repo}\n  vars: {variables}\n  task: {target.task}"))
    console.print(Text(f"{len(targets)} target(s); nothing was run (--dry-run)"))


def check_configs(spec: BatchSpec, targets: list[Target], *, require_keys: bool = True) -> dict[Path, AgentConfig]:
    """Each repository's configuration with the spec's overrides, checked as `agent run` checks it;
    a bad value, an unknown critic or (with `require_keys`) a missing key stops here."""
    configs: dict[Path, AgentConfig] = {}
    for target in targets:
        if target.repo in configs:
            continue
        try:
            config = load_config(target.repo, spec.flags(), os.environ, flag_where=spec.where)
            preflight(config, target.repo, no_critics=spec.no_critics, require_keys=require_keys)
        except UserError as exc:
            # A spec key's value is wrong for every target alike: the message names the spec's line.
            raise UserError(str(exc) if spec.source and str(exc).startswith(f"{spec.source}:") else f"{target.repo}: {exc}") from None
        configs[target.repo] = config
    return configs


def _roles(config: AgentConfig, no_critics: bool) -> tuple[str, ...]:
    """Every role a run with this configuration calls the model as."""
    return ("planner", "executor", *([] if no_critics else config.critics))


def endpoints(configs: Iterable[AgentConfig], no_critics: bool) -> tuple[str, ...]:
    """Every base URL the batch's runs will call, over every role of every repository."""
    urls = {config.role_settings(role).base_url for config in configs for role in _roles(config, no_critics)}
    return tuple(sorted(urls))


def shared_limiter(configs: dict[Path, AgentConfig]) -> RateLimiter:
    """One limiter for the whole batch: the strictest limits any repository's configuration sets."""
    rpm = [c.requests_per_minute for c in configs.values() if c.requests_per_minute]
    tpm = [c.tokens_per_minute for c in configs.values() if c.tokens_per_minute]
    return RateLimiter(min(rpm) if rpm else None, min(tpm) if tpm else None)


def _previous_results(store: ResultsFile, resume: bool) -> dict[str, TargetResult]:
    done = store.finished()
    if done and not resume:
        raise UserError(f"{store.path} already holds {len(done)} result(s): pass --resume to skip those targets, "
                        "or remove the file (or choose another with --results) to start over")
    return done if resume else {}


def _recorder(store: ResultsFile, view: BatchView) -> Callable[[TargetResult], None]:
    def record(result: TargetResult) -> None:
        # An interrupted target is continued by --resume from its run's journal; one that never
        # started a run has nothing to continue and is simply run again.
        if result.status != "interrupted" or result.run_id:
            store.append(result)
        view.finish(result)

    return record


def _write_outputs(results: Path, predictions: Path | None, finished: list[TargetResult],
                   config: AgentConfig) -> list[str]:
    report = report_path(results)
    write_atomic(report, markdown_report(finished, f"agent batch: {results.name}"))
    notes = [f"results: {results}", f"report: {report}"]
    if predictions is not None:
        write_predictions(predictions, [r for r in finished if r.status not in RETRIED], config.model)
        notes.append(f"predictions: {predictions}")
    return notes
