"""Where configuration comes from: the file, the environment and flags, each read into a plain dict,
and every validation problem turned into one line that names its origin."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import SecretStr, ValidationError

from agent.errors import ConfigError

Source = Literal["flag", "env", "file", "default"]

# Top-level keys each environment variable sets (API keys are read separately).
ENV_KEYS: dict[str, str] = {
    "AGENT_MODEL": "model",
    "AGENT_BASE_URL": "base_url",
    "AGENT_PROVIDER": "provider",
    "AGENT_TEST_CMD": "test_cmd",
    "AGENT_CRITICS": "critics",
}
_SECRET_KEY = re.compile(r"(^|[_-])(api[_-]?key|apikey|key|secret|token|password)$", re.IGNORECASE)
_TOML_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")


@dataclass(frozen=True)
class FileLayer:
    """The settings found in one configuration file, and how to name a key inside it."""

    path: Path
    prefix: str  # "" for .agent.toml, "tool.agent." for pyproject.toml
    values: dict[str, Any]

    def where(self, dotted: str) -> str:
        if not dotted:
            return f"{self.path}: {self.prefix.rstrip('.')}" if self.prefix else str(self.path)
        return f"{self.path}: {self.prefix}{dotted}"


def read_file_layer(repo: Path) -> FileLayer | None:
    """`.agent.toml` at the repository root, else `[tool.agent]` in `pyproject.toml`, else None."""
    dedicated = repo / ".agent.toml"
    if dedicated.is_file():
        return FileLayer(dedicated, "", _read_toml(dedicated))
    pyproject = repo / "pyproject.toml"
    if not pyproject.is_file():
        return None
    section = _read_toml(pyproject).get("tool", {})
    section = section.get("agent") if isinstance(section, dict) else None
    if section is None:
        return None
    if not isinstance(section, dict):
        raise ConfigError(f"{pyproject}: tool.agent: must be a table ([tool.agent])")
    return FileLayer(pyproject, "tool.agent.", section)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_LINE.search(message)
        if found is None:
            raise ConfigError(f"{path}: invalid TOML: {message}") from None
        reason = message[: found.start()].strip()
        raise ConfigError(f"{path}:{found.group(1)}: invalid TOML (line {found.group(1)}, "
                          f"column {found.group(2)}): {reason}") from None


def refuse_file_keys(layer: FileLayer, key_hint: Callable[[str], str]) -> None:
    """API keys and other secrets are never read from a file: point at the environment instead.

    `key_hint(dotted)` names the variable(s) to set for the section the key was found in.
    """
    for dotted in _secret_keys(layer.values, ""):
        raise ConfigError(f"{layer.where(dotted)}: API keys are never read from a configuration file; "
                          f"remove it and set {key_hint(dotted)} in the environment")


def _secret_keys(table: Mapping[str, Any], prefix: str) -> list[str]:
    found: list[str] = []
    for name, value in table.items():
        if isinstance(value, Mapping):
            found += _secret_keys(value, f"{prefix}{name}.")
        elif _SECRET_KEY.search(str(name)):
            found.append(f"{prefix}{name}")
    return found


def read_env_layer(env: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The settings the environment sets, and for each key the variable it came from."""
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for var, key in ENV_KEYS.items():
        raw = env.get(var, "").strip()
        if raw:
            values[key] = split_list(raw) if key == "critics" else raw
            origin[key] = var
    return values, origin


def normalise_flags(flags: Mapping[str, object]) -> dict[str, Any]:
    """Flags that were given (None means not given); a comma-separated --critics becomes a list."""
    values = {key: value for key, value in flags.items() if value is not None}
    if isinstance(values.get("critics"), str):
        values["critics"] = split_list(values["critics"])
    return values


def split_list(raw: str) -> list[str]:
    """`"a, b,,c"` → `["a", "b", "c"]`."""
    return [item.strip() for item in raw.split(",") if item.strip()]


def flag_name(key: str) -> str:
    return "--" + key.replace("_", "-")


def did_you_mean(name: str, known: list[str]) -> str:
    """A hint naming the closest known key, or the empty string."""
    close = difflib.get_close_matches(name.replace("-", "_").lower(), known, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def one_line(exc: ValidationError, where: Any, known: dict[str, list[str]]) -> ConfigError:
    """The first validation problem as one line; `where(dotted)` names the origin of a key.

    `known` maps a dotted table path ("" for the top level, "roles.x" for a role) to its keys,
    for did-you-mean hints on unknown keys.
    """
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = [str(part) for part in first["loc"]]
    dotted = ".".join(loc)
    if first["type"] == "extra_forbidden":
        table = ".".join(loc[:-1]) if len(loc) > 1 and loc[0] == "roles" else ""
        keys = known.get("roles.*" if table else "", [])
        text = "unknown key" + (did_you_mean(loc[-1], keys) or f" (known keys: {', '.join(keys)})")
    else:
        text = describe_error(first)
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ConfigError(f"{where(dotted)}: {text}{more}")


def describe_error(error: Any, mapping: str = "table") -> str:
    """One pydantic error in the project's words (`must be at most 12 (got 99)`); `mapping` is
    what the file format calls a mapping (a TOML table, a YAML mapping)."""
    kind, ctx = error["type"], error.get("ctx", {})
    got = _shown(error.get("input"))
    messages = {
        "less_than_equal": lambda: f"must be at most {ctx.get('le')}",
        "greater_than_equal": lambda: f"must be at least {ctx.get('ge')}",
        "greater_than": lambda: f"must be greater than {ctx.get('gt')}",
        "less_than": lambda: f"must be less than {ctx.get('lt')}",
        "int_type": lambda: "must be an integer",
        "int_parsing": lambda: "must be an integer",
        "float_parsing": lambda: "must be a number",
        "bool_parsing": lambda: "must be true or false",
        "too_short": lambda: f"must list at least {ctx.get('min_length')} item(s)",
        "too_long": lambda: f"must list at most {ctx.get('max_length')} item(s)",
        "string_too_short": lambda: "must not be empty",
        "int_from_float": lambda: "must be an integer",
        "float_type": lambda: "must be a number",
        "bool_type": lambda: "must be true or false",
        "string_type": lambda: "must be a string",
        "list_type": lambda: "must be a list",
        "dict_type": lambda: f"must be a {mapping}",
        "model_type": lambda: f"must be a {mapping}",
        "literal_error": lambda: "must be one of " + str(ctx.get("expected", "")).replace("'", ""),
    }
    if kind == "missing":
        return "required key is missing"
    if kind in messages:
        return f"{messages[kind]()} (got {got})"
    message = str(error["msg"]).removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def read_keys(env: Mapping[str, str], key_env: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, SecretStr]]:
    """Each provider's API key from the environment: the first of its variables (`key_env`) that is
    set, with that variable's name. Keys come from the environment only, never from a file."""
    keys: dict[str, tuple[str, SecretStr]] = {}
    for provider, names in key_env.items():
        for name in names:
            value = env.get(name, "").strip()
            if value:
                keys[provider] = (name, SecretStr(value))
                break
    return keys
