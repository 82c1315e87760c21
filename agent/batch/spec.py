"""The batch spec: YAML validated by pydantic, resolved to one `Target` per repository or matching file.

Every error is one line naming the spec file, the line and the key, e.g.
`batch.yaml:7: targets[1].glob: Input should be a valid string`: the YAML is composed into a node
tree so a pydantic error location can be traced back to where it was written.
"""

from __future__ import annotations

import re
import string
import urllib.parse
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from agent.config_sources import describe_error, did_you_mean
from agent.errors import UserError
from agent.gitrepo import GitError, git, open_repo

# libyaml's loader where PyYAML was built with it (the usual wheels are): the same documents and
# line marks, parsed in C.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Scalar = str | int | float | bool
MAX_SHOWN_ERRORS = 10  # more than this and the rest are counted: the first ones are what to fix


class SpecError(UserError):
    """The spec file is missing or wrong; the message names the file, the line and the key."""


class _Strict(BaseModel):
    # A misspelt key ("tagets", "glb") must fail loudly, never be ignored.
    model_config = ConfigDict(extra="forbid")


class TargetSpec(_Strict):
    repo: str = Field(min_length=1)
    vars: dict[str, Scalar] = Field(default_factory=dict)
    glob: str | None = Field(None, min_length=1)
    id: str | None = Field(None, min_length=1)

    @field_validator("id")
    @classmethod
    def _id_template(cls, value: str | None) -> str | None:
        if value is not None:
            template_fields(value)
        return value


class BatchSpec(_Strict):
    task: str = Field(min_length=1)
    targets: list[TargetSpec] = Field(min_length=1)
    vars: dict[str, Scalar] = Field(default_factory=dict)  # defaults for every target
    test_cmd: str | None = None
    allow_no_tests: bool | None = None
    # Configuration overrides for every target's run (flags beat env beat .agent.toml).
    model: str | None = None
    provider: str | None = None
    base_url: str | None = None
    critics: list[str] | str | None = None
    no_critics: bool = False
    max_steps: int | None = None
    max_revisions: int | None = None
    max_tool_calls: int | None = None
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    escalation: str | None = None  # advise | execute | off, checked by the configuration
    max_escalations: int | None = None
    route: str | None = None  # auto | off
    max_tokens_per_run: int | None = None  # each target's run
    max_cost_usd: float | None = None

    # `file:line: key` for a top-level key, set once the spec's YAML is read (see `where`).
    _locator: "_Locator | None" = PrivateAttr(default=None)

    @field_validator("task")
    @classmethod
    def _task_template(cls, value: str) -> str:
        template_fields(value)
        return value

    def flags(self) -> dict[str, Any]:
        """The configuration overrides the spec sets, as `create_session` takes them."""
        keys = ("model", "provider", "base_url", "critics", "max_steps", "max_revisions", "max_tool_calls",
                "test_cmd", "allow_no_tests", "requests_per_minute", "tokens_per_minute", "escalation",
                "max_escalations", "route", "max_tokens_per_run", "max_cost_usd")
        return {key: getattr(self, key) for key in keys if getattr(self, key) is not None}

    @property
    def source(self) -> str:
        """The spec file's name as errors give it (empty for a spec not read from a file)."""
        return self._locator.name if self._locator is not None else ""

    def where(self, key: str) -> str:
        """Where a top-level key is written: `batch.yaml:3: max_steps` (just the key for a spec not read from a file)."""
        return self._locator.where((key,)) if self._locator is not None else key


@dataclass(frozen=True)
class Target:
    """One run to make: its id, the repository's top level, its variables and its rendered task."""

    id: str
    repo: Path
    vars: dict[str, str]
    task: str
    line: int  # where the target is declared in the spec
    url: str | None = None  # the spec's git URL, when it gave one: what a Ray worker clones


def template_fields(template: str) -> list[str]:
    """The `{name}` variables a template uses; ValueError for `{}` , `{a.b}` or unbalanced braces."""
    names: list[str] = []
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:  # Python's words ("expected '}' before end of string"): say it plainly
        brace = "a '}' with no '{' before it" if "Single '}'" in str(exc) else "a '{' that is never closed"
        raise ValueError(f"has {brace} (write {{{{ and }}}} for literal braces)") from None
    for _, name, _, _ in fields:
        if name is None:
            continue
        if not name.isidentifier():
            raise ValueError(f"{{{name}}} is not a variable name (write {{{{ and }}}} for literal braces)")
        names.append(name)
    return names


def render(template: str, values: Mapping[str, str]) -> str:
    """`template` with its `{name}` variables filled in; KeyError naming the first one missing."""
    for name in template_fields(template):
        if name not in values:
            raise KeyError(name)
    return template.format_map(values)


# -- reading the file ------------------------------------------------------------------------------

def load_targets(path: Path) -> tuple[BatchSpec, list[Target]]:
    """Read, validate and resolve the spec at `path`; SpecError (exit 2) on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such batch spec") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the batch spec: {exc.strerror or exc}") from None
    spec, root = parse_spec(text, str(path))
    return spec, resolve_targets(spec, path.resolve().parent, _Locator(str(path), root))


def parse_spec(text: str, name: str) -> tuple[BatchSpec, yaml.Node | None]:
    """The spec in `text` (named `name` in errors) and its YAML node tree."""
    try:
        root = yaml.compose(text, Loader=_LOADER)
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(f"{name}{line}: not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{name}:1: the spec must be a mapping with `task` and `targets`")
    try:
        spec = BatchSpec.model_validate(data)
    except ValidationError as exc:
        raise _Locator(name, root).error(exc) from None
    spec._locator = _Locator(name, root)
    return spec, root


class _Locator:
    """Turns a location in the parsed data (`targets`, 2, `glob`) into a line of the YAML text."""

    def __init__(self, name: str, root: yaml.Node | None):
        self.name, self.root = name, root

    def line(self, loc: tuple[Any, ...]) -> int:
        return self._walk(loc)[0]

    def where(self, loc: tuple[Any, ...]) -> str:
        """`file:line: key` for a location, e.g. `batch.yaml:7: targets[1].glob`."""
        line, key = self._walk(loc)
        return f"{self.name}:{line}: {key}"

    def _walk(self, loc: tuple[Any, ...]) -> tuple[int, str]:
        """The line of the deepest node `loc` reaches, and the key path as written in the YAML."""
        node = self.root
        line = node.start_mark.line + 1 if node is not None else 1
        key = ""
        for part in loc:
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                pair = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
                if pair is not None:
                    line, node = pair[0].start_mark.line + 1, pair[1]
                elif part not in _FIELDS:
                    continue  # a union member's tag (`list[str]`), not a key
                key += f".{part}" if key else part
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                line, key = node.start_mark.line + 1, f"{key}[{part}]"
        return line, key or "(top level)"

    def error(self, exc: ValidationError) -> SpecError:
        """Every problem (up to MAX_SHOWN_ERRORS), a line each, in the order they are written."""
        # A misspelt key is also a missing one: the misspelling comes first, its hint says what was meant.
        errors = sorted(exc.errors(include_url=False),
                        key=lambda e: (e["type"] != "extra_forbidden", self.line(tuple(e["loc"]))))
        problems: dict[str, list[str]] = {}  # a value no member of a union takes: one line, "a list or a string"
        for error in errors:
            problems.setdefault(self.where(tuple(error["loc"])), []).append(self._message(error))
        lines = [f"{where}: {_either(messages)}" for where, messages in problems.items()]
        shown = lines[:MAX_SHOWN_ERRORS] + ([f"(and {len(lines) - MAX_SHOWN_ERRORS} more)"]
                                            if len(lines) > MAX_SHOWN_ERRORS else [])
        if len(shown) == 1:
            return SpecError(shown[0])
        return SpecError(f"the batch spec has {len(lines)} problems:\n" + "\n".join(f"  {line}" for line in shown))

    @staticmethod
    def _message(error: Any) -> str:
        loc = tuple(error["loc"])
        if error["type"] == "extra_forbidden":
            known = _known_keys(loc)
            return f"unknown key{did_you_mean(str(loc[-1]), known)} (known: {', '.join(known)})"
        if error["type"] == "too_short" and loc == ("targets",):
            return "must list at least one target"
        return describe_error(error, mapping="mapping")


def _either(messages: list[str]) -> str:
    """`must be a list (got 3)` and `must be a string (got 3)` → `must be a list or a string (got 3)`."""
    if len(messages) == 1:
        return messages[0]
    heads, tails = zip(*(m.rpartition(" (got ")[::2] if " (got " in m else (m, "") for m in messages))
    if len(set(tails)) == 1 and all(h.startswith("must be ") for h in heads):
        got = f" (got {tails[0]}" if tails[0] else ""
        return "must be " + " or ".join(h.removeprefix("must be ") for h in heads) + got
    return "; ".join(dict.fromkeys(messages))


_FIELDS = frozenset(BatchSpec.model_fields) | frozenset(TargetSpec.model_fields)


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    model = TargetSpec if loc and loc[0] == "targets" and len(loc) > 2 else BatchSpec
    return list(model.model_fields)


# -- resolving targets -----------------------------------------------------------------------------

def resolve_targets(spec: BatchSpec, base: Path, where: _Locator) -> list[Target]:
    """Every target of the spec, globs expanded, tasks rendered; SpecError naming the line on a problem."""
    targets: list[Target] = []
    repos: dict[str, Path] = {}  # each folder asked of git once, however many targets name it
    urls = {entry.repo for entry in spec.targets if is_git_url(entry.repo)}
    for index, entry in enumerate(spec.targets):
        loc = ("targets", index)
        if entry.repo not in repos:
            repos[entry.repo] = _repo(base, entry, where, loc)
        repo = repos[entry.repo]
        values = {**_strings(spec.vars), **_strings(entry.vars)}
        paths = [None] if entry.glob is None else _matches(repo, entry.glob, where, loc)
        for path in paths:
            target_vars = values if path is None else {**values, "path": path}
            target = _target(spec, entry, repo, target_vars, where, loc, path is not None)
            targets.append(replace(target, url=entry.repo) if entry.repo in urls else target)
    _check_unique(targets, where.name)
    return targets


def _repo(base: Path, entry: TargetSpec, where: _Locator, loc: tuple[Any, ...]) -> Path:
    try:
        return open_repo(local_repository(entry.repo, base) if is_git_url(entry.repo) else base / entry.repo)
    except (UserError, GitError) as exc:
        raise SpecError(f"{where.where((*loc, 'repo'))}: {exc}") from None


def _target(spec: BatchSpec, entry: TargetSpec, repo: Path, values: dict[str, str], where: _Locator,
            loc: tuple[Any, ...], globbed: bool) -> Target:
    default_id = Path(entry.repo).name or repo.name
    if "path" in values:
        default_id = f"{default_id}:{values['path']}"
    try:
        target_id = render(entry.id, values) if entry.id else default_id
        if entry.id and globbed and "path" not in template_fields(entry.id):
            target_id = f"{target_id}:{values['path']}"  # one id per matching file
        task = render(spec.task, values)
    except KeyError as exc:
        known = ", ".join(sorted(values)) or "none"
        raise SpecError(f"{where.where(loc)} ({entry.id or default_id}): the template uses "
                        f"{{{exc.args[0]}}}, which this target does not set (its vars: {known})") from None
    return Target(target_id, repo, values, task, where.line(loc))


_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)


def is_git_url(text: str) -> bool:
    """True for `file://…`, `https://…`, `ssh://…` and scp-like `git@host:path` repositories."""
    return _URL.match(text) is not None


def local_repository(url: str, base: Path) -> Path:
    """Where this machine keeps a URL target's repository: a `file://` URL's own folder, else a
    clone under `.agent/repos/` beside the spec, made on first use and left as it is after."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        return Path(urllib.parse.unquote(parsed.path))
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", url.split("://", 1)[-1]).strip("-.")
    copy = base / ".agent" / "repos" / name
    if not copy.is_dir():
        copy.parent.mkdir(parents=True, exist_ok=True)
        git(copy.parent, "clone", "--quiet", url, str(copy))
    return copy


def _strings(values: Mapping[str, Scalar]) -> dict[str, str]:
    return {key: (str(v).lower() if isinstance(v, bool) else str(v)) for key, v in values.items()}


def _matches(repo: Path, pattern: str, where: _Locator, loc: tuple[Any, ...]) -> list[str]:
    """Files committed at HEAD (what the run's worktree will hold) matching `pattern`, sorted."""
    regex = glob_regex(pattern)
    tracked = git(repo, "ls-tree", "-r", "--name-only", "-z", "HEAD").split("\0")
    found = sorted(name for name in tracked if name and regex.fullmatch(name))
    if not found:
        raise SpecError(f"{where.where((*loc, 'glob'))}: {pattern!r} matches no file committed in {repo}")
    return found


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex for a path glob: `*` and `?` stay within a folder, `**/` spans any number of folders."""
    out, i = "", 0
    pattern = pattern.strip().removeprefix("./")
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[" and "]" in pattern[i + 1:]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1:end].replace("\\", "\\\\")
            out, i = out + "[" + ("^" + body[1:] if body.startswith("!") else body) + "]", end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def _check_unique(targets: list[Target], name: str) -> None:
    seen: dict[str, Target] = {}
    for target in targets:
        if target.id in seen:
            raise SpecError(f"{name}:{target.line}: target id {target.id!r} is also used at line "
                            f"{seen[target.id].line}; give each target its own `id`")
        seen[target.id] = target
