"""The agent's configuration: flags beat the environment beat the file beat defaults, per key.

`load_config` is the only entry point; it reads nothing but the files under `repo` and the `env`
mapping it is given. API keys come from the environment only and are held as `SecretStr`s that
no repr, dump or `redacted()` view ever shows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, get_args
from urllib.parse import urlparse

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError,
                      field_validator, model_validator)

from agent.config_sources import (FileLayer, Source, did_you_mean, flag_name, normalise_flags, one_line,
                                  read_env_layer, read_file_layer, read_keys, refuse_file_keys)
from agent.cost import DEFAULT_PRICES, Price
from agent.errors import ConfigError, UserError
from agent.llm.profiles import (DEFAULT_TEMPERATURE, DEFAULT_TOP_P, GLM_CONTEXT_TOKENS,
                                GLM_MAX_COMPLETION_TOKENS as MAX_COMPLETION_TOKENS, profile_for)
from agent.llm.types import Carrier, Provider, RequestLimits, RoleSettings
from agent.planner import Difficulty
from critics.registry import BUILTIN_CRITICS, DEFAULT_TOOL_BYTES, DEFAULT_TOOL_CALLS, available_critics
from tools.paths import DEFAULT_SECRET_GLOBS
from tools.webapp import check_app_url

PROVIDERS: tuple[Provider, ...] = get_args(Provider)
# Provider facts come from the profiles, their one home; these views are for validation and messages.
DEFAULT_BASE_URLS: dict[Provider, str] = {p: profile_for(p).default_base_url for p in PROVIDERS}
KEY_ENV_VARS: dict[Provider, tuple[str, ...]] = {p: profile_for(p).key_env for p in PROVIDERS}
DEFAULT_MODEL = "zai-glm-4.7"
# The fixed roles and their answer budgets. `escalation` is the stronger model a stuck step (or a task
# routed away from GLM) is handed to; see agent/escalation.py.
ROLE_BUDGETS: dict[str, int] = {"planner": 8192, "executor": 16384, "escalation": 16384}
ESCALATION_ROLE = "escalation"
EscalationMode = Literal["off", "advise", "execute"]
RouteMode = Literal["off", "auto"]
CRITIC_BUDGET, CRITIC_REASONING_BUDGET = 4096, 12288
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
NO_KEY_PLACEHOLDER = "unused"
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
# Reasoning per role: always on, always off, or chosen per request (simple steps off, complex ones on).
ReasoningMode = Literal["on", "off", "auto"]


def _check_url(url: str) -> str:
    if urlparse(url).scheme not in ("http", "https"):
        raise ValueError(f"must be an http:// or https:// URL (got {url!r})")
    return url


Url = Annotated[str, AfterValidator(_check_url)]


def _check_sampling(temperature: float | None, top_p: float | None) -> None:
    if temperature not in (None, DEFAULT_TEMPERATURE) and top_p not in (None, DEFAULT_TOP_P):
        raise ValueError(f"set temperature or top_p, not both (GLM 4.7: adjust one and leave the other "
                         f"at its default; got temperature={temperature}, top_p={top_p})")


class RoleConfig(BaseModel):
    """One `[roles.<name>]` section; every key falls back to the top level when absent."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    model: str | None = None
    base_url: Url | None = None
    provider: Provider | None = None
    reasoning: bool | ReasoningMode | None = None  # true/false mean "on"/"off"
    max_completion_tokens: int | None = Field(None, ge=1, le=MAX_COMPLETION_TOKENS)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    # How earlier reasoning goes back, for a proxy that differs from its provider's profile.
    reasoning_carrier: Carrier | None = None

    @model_validator(mode="after")
    def _one_not_both(self) -> "RoleConfig":
        _check_sampling(self.temperature, self.top_p)
        return self


class AgentConfig(BaseModel):
    """The resolved configuration of one invocation."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    model: str = DEFAULT_MODEL
    base_url: Url = DEFAULT_BASE_URLS["cerebras"]  # the provider's default when not set
    provider: Provider = "cerebras"
    temperature: float = Field(DEFAULT_TEMPERATURE, ge=0.0, le=2.0)
    top_p: float = Field(DEFAULT_TOP_P, gt=0.0, le=1.0)
    critics: list[str] = Field(default_factory=lambda: list(BUILTIN_CRITICS))
    critic_reasoning: bool | ReasoningMode = False
    # What one critic may spend on its tools in one judgement (read_file, list_files, search, run_tests).
    critic_tool_calls: int = Field(DEFAULT_TOOL_CALLS, ge=0, le=200)
    critic_tool_bytes: int = Field(DEFAULT_TOOL_BYTES, ge=0, le=2_000_000)
    max_steps: int = Field(12, ge=1, le=12)
    max_revisions: int = Field(2, ge=0, le=20)
    max_tool_calls: int = Field(40, ge=1, le=1000)
    test_cmd: str | None = None  # None: detected from the project later
    allow_no_tests: bool = False  # a run in which no test ran may still succeed (a repository without tests)
    test_timeout_s: float = Field(300.0, gt=0)
    context_budget: int = Field(GLM_CONTEXT_TOKENS, ge=4096)
    # Deadlines of one model request (SPEC §3 faults): each is retried like a dropped connection.
    connect_timeout_s: float = Field(RequestLimits.connect_s, gt=0)
    first_token_timeout_s: float = Field(RequestLimits.first_token_s, gt=0)
    idle_timeout_s: float = Field(RequestLimits.idle_s, gt=0)
    min_tokens_per_s: float = Field(RequestLimits.min_tokens_per_s, gt=0)
    request_attempts: int = Field(RequestLimits.attempts, ge=1, le=20)
    sandbox: Literal["auto", "bwrap", "none"] = "auto"
    # Variables a test suite genuinely needs although their names look secret (see README, Safety).
    sandbox_env_allow: list[str] = Field(default_factory=list)
    sandbox_mounts: list[str] = Field(default_factory=list)  # host folders tests see read-only
    setup_cmd: str | None = None  # run once per worktree before its first test run (npm ci, uv sync)
    setup_timeout_s: float = Field(600.0, gt=0)
    # The web app the qa critic drives in a browser: how to start it, and where it answers (loopback only).
    app_cmd: str | None = None  # None: detected (a Procfile's web process), else no browser
    app_url: Annotated[str, AfterValidator(check_app_url)] | None = None  # None: http://127.0.0.1:8000/
    secret_globs: list[str] = Field(default_factory=lambda: list(DEFAULT_SECRET_GLOBS))
    requests_per_minute: int | None = Field(None, ge=1)
    tokens_per_minute: int | None = Field(None, ge=1)
    # A step about to be blocked goes to the escalation role: advice for one more attempt, or an
    # attempt of its own; at most max_escalations times per step. "off": blocked as it stands.
    escalation: EscalationMode = "off"
    max_escalations: int = Field(1, ge=1, le=5)
    route: RouteMode = "off"  # "auto": a task the plan rates beyond GLM is executed by the escalation role
    # The rule `route = "auto"` applies to the plan: any condition met rates the task beyond GLM ("never"/0: unused).
    route_difficulty: Difficulty | Literal["never"] = "hard"  # the planner rates the task at least this
    route_complex_steps: int = Field(4, ge=0, le=12)  # at least this many steps labelled complex
    route_steps: int = Field(0, ge=0, le=12)  # at least this many steps
    # What one run may spend, prompt and completion tokens of every call, and dollars (by `prices`).
    max_tokens_per_run: int | None = Field(None, ge=1)
    max_cost_usd: float | None = Field(None, gt=0)
    prices: dict[str, Price] = Field(default_factory=lambda: dict(DEFAULT_PRICES))
    roles: dict[str, RoleConfig] = Field(default_factory=dict)

    _sources: dict[str, Source] = PrivateAttr(default_factory=dict)
    _origins: dict[str, str] = PrivateAttr(default_factory=dict)
    _file: Path | None = PrivateAttr(default=None)
    _keys: dict[str, tuple[str, SecretStr]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _provider_base_url(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("base_url") is None:
            provider = data.get("provider")
            urls: Mapping[Any, str] = DEFAULT_BASE_URLS  # an invalid provider is reported by its own check
            url = urls.get(provider) if isinstance(provider, str) else None
            data = {**data, "base_url": url or DEFAULT_BASE_URLS["cerebras"]}
        return data

    @field_validator("critics")
    @classmethod
    def _critic_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not _NAME.match(name):
                raise ValueError(f"{name!r} is not a critic name (lowercase letters, digits, - and _)")
            if name in ROLE_BUDGETS:
                raise ValueError(f"{name!r} is not a critic; it is a fixed role")
        return list(dict.fromkeys(names))

    @field_validator("sandbox_env_allow")
    @classmethod
    def _not_the_agents_keys(cls, names: list[str]) -> list[str]:
        own = sorted({name for names in KEY_ENV_VARS.values() for name in names} & set(names))
        if own:
            raise ValueError(f"{', '.join(own)}: the agent's own API key never reaches the tests")
        return names

    @field_validator("sandbox_mounts")
    @classmethod
    def _absolute_mounts(cls, paths: list[str]) -> list[str]:
        relative = [path for path in paths if not path.startswith("/")]
        if relative:
            raise ValueError(f"{relative[0]!r}: give each folder as an absolute path")
        return paths

    @field_validator("secret_globs")
    @classmethod
    def _extend_secret_globs(cls, globs: list[str]) -> list[str]:
        # The user's list extends the built-in deny-list; it can never shrink it.
        return list(dict.fromkeys([*DEFAULT_SECRET_GLOBS, *globs]))

    @field_validator("prices")
    @classmethod
    def _extend_prices(cls, prices: dict[str, Price]) -> dict[str, Price]:
        # The user's table overrides or extends the built-in prices; a model it leaves out keeps its own.
        return {**DEFAULT_PRICES, **prices}

    @model_validator(mode="after")
    def _one_not_both(self) -> "AgentConfig":
        _check_sampling(self.temperature, self.top_p)
        return self

    @property
    def sources(self) -> dict[str, Source]:
        """Where each top-level key's value came from: flag, env, file or default."""
        return {key: self._sources.get(key, "default") for key in _TOP_KEYS}

    def origin(self, key: str) -> str:
        """A readable origin for one key: `flag --model`, `env AGENT_MODEL`, `file .agent.toml`, `default`."""
        return self._origins.get(key, "default")

    @property
    def config_file(self) -> Path | None:
        return self._file

    def role_names(self) -> list[str]:
        """Every role this configuration runs or configures: planner, executor, critics, then other sections."""
        escalation = [ESCALATION_ROLE] if self.escalates else []
        return list(dict.fromkeys(["planner", "executor", *self.critics, *escalation, *self.roles]))

    @property
    def escalates(self) -> bool:
        """Whether a run may call the escalation role (to unblock a step, or to execute a routed task)."""
        return self.escalation != "off" or self.route == "auto"

    def role_settings(self, role: str) -> RoleSettings:
        """Everything the model client needs for `role`: its section over the top level over defaults."""
        section = self.roles.get(role, RoleConfig())
        provider = section.provider or self.provider
        if section.base_url:
            base_url = section.base_url
        elif section.provider and section.provider != self.provider:
            base_url = DEFAULT_BASE_URLS[section.provider]
        else:
            base_url = self.base_url
        reasoning = self.reasoning_mode(role) != "off"
        budget = section.max_completion_tokens or _default_budget(role, reasoning)
        if section.temperature is not None or section.top_p is not None:
            temperature = section.temperature if section.temperature is not None else DEFAULT_TEMPERATURE
            top_p = section.top_p if section.top_p is not None else DEFAULT_TOP_P
        else:
            temperature, top_p = self.temperature, self.top_p
        return RoleSettings(
            model=section.model or self.model, base_url=base_url, api_key=self._key_for(provider, base_url),
            provider=provider, reasoning=reasoning,
            max_completion_tokens=min(budget, profile_for(provider).max_completion_tokens),
            temperature=temperature, top_p=top_p, carrier=section.reasoning_carrier, limits=self.request_limits(),
        )

    def reasoning_mode(self, role: str) -> ReasoningMode:
        """Whether the role reasons: "on", "off", or "auto" (chosen per request by the step's complexity)."""
        section = self.roles.get(role, RoleConfig())
        value = section.reasoning
        if value is None:
            value = True if role in ROLE_BUDGETS else self.critic_reasoning
        return _mode(value)

    def request_limits(self) -> RequestLimits:
        """The deadlines and attempts of every model request."""
        return RequestLimits(connect_s=self.connect_timeout_s, first_token_s=self.first_token_timeout_s,
                             idle_s=self.idle_timeout_s, min_tokens_per_s=self.min_tokens_per_s,
                             attempts=self.request_attempts)

    def require_key(self, role: str) -> RoleSettings:
        """`role_settings(role)`, or a UserError naming the variable to set when the key is missing."""
        settings = self.role_settings(role)
        if settings.api_key is None:
            names = KEY_ENV_VARS[settings.provider]
            wanted = names[0] + (f" (or {', '.join(names[1:])})" if len(names) > 1 else "")
            raise UserError(f"no API key: set {wanted} (provider {settings.provider}, role {role})")
        return settings

    def key_status(self, provider: Provider) -> str | None:
        """The environment variable the provider's key was found in, or None; never the key."""
        found = self._keys.get(provider)
        return found[0] if found else None

    def _key_presence(self, provider: Provider, base_url: str) -> str:
        if self.key_status(provider):
            return "set"
        return "not needed (local endpoint)" if is_local(base_url) else "missing"

    def _key_for(self, provider: Provider, base_url: str) -> str | None:
        found = self._keys.get(provider)
        if found:
            return found[1].get_secret_value()
        return NO_KEY_PLACEHOLDER if is_local(base_url) else None

    def redacted(self) -> dict[str, Any]:
        """A JSON-ready view for display and journals: settings, resolved roles, key presence only."""
        view = self.model_dump(mode="json", exclude={"roles"})
        view["roles"] = {}
        for role in self.role_names():
            settings = self.role_settings(role)
            view["roles"][role] = {
                "model": settings.model, "provider": settings.provider, "base_url": settings.base_url,
                "reasoning": self.reasoning_mode(role), "max_completion_tokens": settings.max_completion_tokens,
                "temperature": settings.temperature, "top_p": settings.top_p,
                "reasoning_carrier": settings.carrier or profile_for(settings.provider).carrier,
                "api_key": self._key_presence(settings.provider, settings.base_url),
            }
        view["api_keys"] = {p: {"present": self.key_status(p) is not None, "env": self.key_status(p)}
                            for p in dict.fromkeys(r["provider"] for r in view["roles"].values())}
        view["sources"] = self.sources
        view["config_file"] = str(self._file) if self._file else None
        return view


_TOP_KEYS: list[str] = [name for name in AgentConfig.model_fields if name != "roles"]
_KNOWN_KEYS: dict[str, list[str]] = {"": list(AgentConfig.model_fields), "roles.*": list(RoleConfig.model_fields),
                                     "prices.*": list(Price.model_fields)}


def is_local(base_url: str) -> bool:
    """True for endpoints on this machine, which may run without a key."""
    return (urlparse(base_url).hostname or "") in LOCAL_HOSTS


def _mode(value: bool | ReasoningMode) -> ReasoningMode:
    if isinstance(value, bool):
        return "on" if value else "off"
    return value


def _default_budget(role: str, reasoning: bool) -> int:
    if role in ROLE_BUDGETS:
        return ROLE_BUDGETS[role]
    return CRITIC_REASONING_BUDGET if reasoning else CRITIC_BUDGET


def load_config(repo: Path, flags: Mapping[str, object], env: Mapping[str, str],
                flag_where: Callable[[str], str] = flag_name) -> AgentConfig:
    """Resolve the configuration for `repo`: flags > env > file > defaults, per key.

    Raises ConfigError (one line naming the file and key, the variable, or the flag) when a
    value is invalid. `flag_where(key)` names where a flag's value was given: `--max-steps` by
    default, a batch spec's line and key for a batch's overrides.
    """
    layer = read_file_layer(repo)
    file_values = layer.values if layer else {}
    env_values, env_vars = read_env_layer(env)
    flag_values = normalise_flags(flags)
    if layer:
        refuse_file_keys(layer, lambda dotted: _key_hint(dotted, env_values, file_values))
        _validate(file_values, layer.where)
    _validate(env_values, lambda dotted: env_vars[dotted.split(".")[0]])
    _validate(flag_values, lambda dotted: flag_where(dotted.split(".")[0]))
    merged = {**file_values, **env_values, **flag_values}
    origins = {key: f"file {layer.path}" for key in file_values if layer} | \
              {key: f"env {var}" for key, var in env_vars.items()} | \
              {key: f"flag {flag_where(key)}" for key in flag_values}
    config = _validate(merged, lambda dotted: _merged_where(dotted, origins))
    _check_role_names(config, repo, layer)
    config._sources = {key: origin.split(" ")[0] for key, origin in origins.items()}
    config._origins = origins
    config._file = layer.path if layer else None
    config._keys = read_keys(env, KEY_ENV_VARS)
    return config


def _validate(values: dict[str, Any], where: Callable[[str], str]) -> AgentConfig:
    try:
        return AgentConfig.model_validate(values)
    except ValidationError as exc:
        raise one_line(exc, where, _KNOWN_KEYS) from None


def _merged_where(dotted: str, origins: Mapping[str, str]) -> str:
    # Each layer was valid on its own, so what is left is a rule across keys from different layers.
    if not dotted:
        return ", ".join(f"{key} ({origins.get(key, 'default')})" for key in ("temperature", "top_p"))
    return f"{dotted} ({origins.get(dotted.split('.')[0], 'default')})"


def _key_hint(dotted: str, env_values: Mapping[str, Any], file_values: Mapping[str, Any]) -> str:
    """The variables that hold the key for the provider of the section `dotted` is in."""
    provider = env_values.get("provider") or file_values.get("provider") or "cerebras"
    parts = dotted.split(".")
    if len(parts) == 3 and parts[0] == "roles":
        section = file_values.get("roles", {}).get(parts[1], {})
        provider = section.get("provider") or provider
    names: Mapping[Any, tuple[str, ...]] = KEY_ENV_VARS
    return " or ".join(names.get(provider, KEY_ENV_VARS["cerebras"]) if isinstance(provider, str)
                       else KEY_ENV_VARS["cerebras"])


def _check_role_names(config: AgentConfig, repo: Path, layer: FileLayer | None) -> None:
    """A `[roles.x]` section must name a role that exists: a typo would silently configure nothing."""
    known = list(dict.fromkeys([*ROLE_BUDGETS, *available_critics(repo), *config.critics]))
    for name in config.roles:
        if name not in known:
            where = layer.where(f"roles.{name}") if layer else f"roles.{name}"
            raise ConfigError(f"{where}: unknown role{did_you_mean(name, known)} "
                              f"(roles: {', '.join(known)}; custom critics live in .agent/critics/NAME.md)")
