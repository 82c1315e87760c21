"""The executor's tools by name: the schemas sent to the model and the dispatch of its calls.

A tool is a pydantic argument model (its docstring and Field descriptions are what the model
reads) and a function `(args, ctx) -> ToolResult`. Every mistake the model can fix - an unknown
tool, broken JSON, a missing argument, a path outside the workspace - comes back as an error
result; bugs in the tools themselves propagate.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Collection, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.llm.types import ToolCall
from tools.paths import DEFAULT_SECRET_GLOBS, PathRefused
from tools.sandbox import SandboxPolicy
from tools.setup import ProjectSetup
from tools.trim import trim_middle

SandboxMode = Literal["auto", "bwrap", "none"]


class PatchOutcome(Protocol):
    """What a patch engine answers: applied or not, and a message for the model."""

    ok: bool
    message: str


PatchHook = Callable[[str, Path], PatchOutcome]


@dataclass
class ToolContext:
    """Everything a tool needs besides its arguments; one per executor step."""

    root: Path
    secret_globs: tuple[str, ...] = DEFAULT_SECRET_GLOBS
    user_files: tuple[str, ...] = ()  # a run in place: the user's untracked files, which no tool touches
    test_command: str | None = None  # None: detected from the project (pytest)
    test_timeout_s: float = 300.0
    sandbox: SandboxMode = "auto"
    sandbox_policy: SandboxPolicy = field(default_factory=SandboxPolicy)
    setup: ProjectSetup | None = None  # the project's setup_cmd, run before the first test run
    output_cap: int = 40_000  # characters of any one tool result
    # Applies a `write_patch` patch instead of tools.patch.apply_patch (dry runs, other engines).
    patch_hook: PatchHook | None = None


@dataclass
class ToolResult:
    """A tool's answer: text for the model, and structured data for the journal."""

    text: str
    is_error: bool = False
    data: dict[str, Any] = field(default_factory=dict)


class ToolArgs(BaseModel):
    """Base of every tool's arguments: unknown arguments are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


A = TypeVar("A", bound=ToolArgs)


@dataclass(frozen=True)
class Tool(Generic[A]):
    name: str
    args_model: type[A]
    run: Callable[[A, ToolContext], ToolResult]

    def schema(self) -> dict[str, Any]:
        """The OpenAI `tools=[...]` entry for this tool."""
        parameters = clean_schema(self.args_model.model_json_schema())
        parameters.pop("description", None)  # the docstring is the tool's description, said once
        description = " ".join((self.args_model.__doc__ or "").split())
        return {"type": "function",
                "function": {"name": self.name, "description": description, "parameters": parameters}}


def clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema without pydantic's noise: no titles, optional fields as plain types."""
    node = {key: _clean(value) for key, value in schema.items() if not (key == "title" and isinstance(value, str))}
    variants = node.get("anyOf")
    if isinstance(variants, list) and len(variants) == 2 and {"type": "null"} in variants:
        # `x: int | None = None` is an optional argument to the model, not a nullable one.
        (kept,) = [v for v in variants if v != {"type": "null"}]
        del node["anyOf"]
        node = {**kept, **node}
    if "default" in node and node["default"] is None:
        del node["default"]
    if node.get("type") == "object" and "properties" in node:
        node["properties"] = {name: clean_schema(sub) for name, sub in node["properties"].items()}
        node.setdefault("additionalProperties", False)
    return node


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return clean_schema(value)
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


class FinishStepArgs(ToolArgs):
    """End this step: say what was changed and how it was verified. The step's diff and the latest
    test result then go to the reviewers; call this only when the step's acceptance is met."""

    summary: str = Field(min_length=1, description="What was changed and how it was verified, in a few sentences.")


def finish_step(args: FinishStepArgs, ctx: ToolContext) -> ToolResult:
    """Mark the step finished; the executor loop sees `data["finish"]` and hands over to the gate."""
    return ToolResult(text="Step finished; sent to the reviewers.", data={"finish": True, "summary": args.summary})


class ToolRegistry:
    """Tools keyed by name, in the order they are offered to the model."""

    def __init__(self, tools: Collection[Tool[Any]] = ()) -> None:
        self._tools: dict[str, Tool[Any]] = {}
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool[Any]) -> None:
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name!r} is already registered")
        self._tools[tool.name] = tool

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def schemas(self, names: Collection[str] | None = None) -> list[dict[str, Any]]:
        """OpenAI tool entries for `names` (all tools when None), in registration order."""
        if names is not None:
            unknown = sorted(set(names) - set(self._tools))
            if unknown:
                raise KeyError(f"unknown tools: {', '.join(unknown)}")
        return [_cached_schema(tool) for name, tool in self._tools.items() if names is None or name in names]

    def dispatch(self, call: ToolCall, ctx: ToolContext, names: Collection[str] | None = None) -> ToolResult:
        """Run one tool call; everything the model got wrong comes back as an error result."""
        offered = [n for n in self._tools if names is None or n in names]
        tool = self._tools.get(call.name) if call.name in offered else None
        if tool is None:
            return ToolResult(f"Unknown tool {call.name!r}. The tools are: {', '.join(offered)}.", is_error=True)
        raw = parse_arguments(call.arguments)
        if isinstance(raw, str):
            return ToolResult(f"{call.name}: {raw}", is_error=True)
        try:
            args = tool.args_model.model_validate(raw)
        except ValidationError as exc:
            return ToolResult(f"{call.name}: {describe_validation_error(exc, tool.args_model)}", is_error=True)
        try:
            result = tool.run(args, ctx)
        except PathRefused as exc:
            return ToolResult(f"{call.name}: refused: {exc}", is_error=True)
        result.text = trim_middle(result.text, ctx.output_cap)
        return result


@lru_cache(maxsize=None)
def _schema_of(tool: Tool[Any]) -> str:
    return json.dumps(tool.schema())


def _cached_schema(tool: Tool[Any]) -> dict[str, Any]:
    # Built once and copied out, so a caller mutating its list cannot change the next request.
    return copy.deepcopy(json.loads(_schema_of(tool)))


def parse_arguments(text: str) -> dict[str, Any] | str:
    """The arguments object, or a sentence saying why the text is not one."""
    if not text or not text.strip():
        return {}  # models often send "" for a call without arguments
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        near = text[max(exc.pos - 20, 0): exc.pos + 20].replace("\n", "\\n")
        return (f"the arguments are not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno} "
                f"(near {near!r}). Send one JSON object, e.g. {{\"path\": \"src/app.py\"}}.")
    if not isinstance(value, dict):
        return f"the arguments must be a JSON object, not {type(value).__name__ if value is not None else 'null'}."
    return value


def describe_validation_error(exc: ValidationError, model: type[BaseModel]) -> str:
    """One line per problem (at most three) that the model can act on."""
    expected = ", ".join(model.model_fields) or "no arguments"
    lines: list[str] = []
    for error in exc.errors()[:3]:
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        if error["type"] == "missing":
            lines.append(f"missing required argument {where!r}")
        elif error["type"] == "extra_forbidden":
            lines.append(f"unexpected argument {where!r}")
        else:
            lines.append(f"argument {where!r}: {error['msg']} (got {_short(error.get('input'))})")
    if exc.error_count() > 3:
        lines.append(f"... and {exc.error_count() - 3} more problems")
    return "; ".join(lines) + f". Arguments: {expected}."


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


@lru_cache(maxsize=1)
def default_registry() -> ToolRegistry:
    """The executor's tools of SPEC §4, in the order the model is told about them."""
    from tools import files, search, testrun

    return ToolRegistry([
        Tool("read_file", files.ReadFileArgs, files.read_file),
        Tool("list_files", files.ListFilesArgs, files.list_files),
        Tool("search", search.SearchArgs, search.search),
        Tool("write_patch", files.WritePatchArgs, files.write_patch),
        Tool("write_file", files.WriteFileArgs, files.write_file),
        Tool("run_tests", testrun.RunTestsArgs, testrun.run_tests),
        Tool("finish_step", FinishStepArgs, finish_step),
    ])


def tool_schemas(names: Collection[str] | None = None) -> list[dict[str, Any]]:
    """The `tools=[...]` list for a request: byte-identical from call to call."""
    return default_registry().schemas(names)


def dispatch(call: ToolCall, ctx: ToolContext, names: Collection[str] | None = None) -> ToolResult:
    """Run `call` with the default tools (restricted to `names` when given); never raises for a bad call."""
    return default_registry().dispatch(call, ctx, names)
