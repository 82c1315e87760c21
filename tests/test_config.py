"""Configuration: flags > env > file > defaults per key, roles, keys from the environment only,
and one clear line for every mistake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.config import AgentConfig, load_config
from agent.errors import ConfigError, UserError
from tools.paths import DEFAULT_SECRET_GLOBS

SECRET = "sk-test-0123456789abcdef-never-shown"


def write(repo: Path, text: str, name: str = ".agent.toml") -> Path:
    path = repo / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(repo: Path, flags: dict[str, object] | None = None, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(repo, flags or {}, env or {})
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_defaults_without_any_file(tmp_path: Path) -> None:
    config = load_config(tmp_path, {}, {})
    assert config.model == "zai-glm-4.7"
    assert config.provider == "cerebras"
    assert config.base_url == "https://api.cerebras.ai/v1"
    assert (config.temperature, config.top_p) == (1.0, 0.95)
    assert config.critics == ["reviewer", "qa", "security", "performance"]
    assert (config.max_steps, config.max_revisions, config.max_tool_calls) == (12, 2, 40)
    assert config.test_cmd is None and config.sandbox == "auto" and config.context_budget == 131_072
    assert config.config_file is None
    assert set(config.sources.values()) == {"default"}


def test_flags_beat_env_beat_file_beat_defaults_per_key(tmp_path: Path) -> None:
    write(tmp_path, 'model = "file-model"\nbase_url = "http://file.example/v1"\ntest_cmd = "make test"\n'
                    'max_steps = 5\ncritics = ["reviewer"]\n')
    env = {"AGENT_MODEL": "env-model", "AGENT_TEST_CMD": "pytest -q", "AGENT_CRITICS": "qa, security"}
    config = load_config(tmp_path, {"model": "flag-model", "critics": None}, env)
    assert config.model == "flag-model"  # flag over env over file
    assert config.test_cmd == "pytest -q"  # env over file
    assert config.critics == ["qa", "security"]  # a None flag is "not given"
    assert config.base_url == "http://file.example/v1" and config.max_steps == 5  # file over default
    assert config.max_revisions == 2  # default
    assert config.sources["model"] == "flag" and config.sources["test_cmd"] == "env"
    assert config.sources["base_url"] == "file" and config.sources["max_revisions"] == "default"
    assert config.origin("model") == "flag --model"
    assert config.origin("critics") == "env AGENT_CRITICS"
    assert config.origin("max_steps") == f"file {tmp_path / '.agent.toml'}"


def test_pyproject_tool_agent_section(tmp_path: Path) -> None:
    write(tmp_path, '[project]\nname = "x"\n\n[tool.agent]\nmax_revisions = 4\n\n[tool.agent.roles.planner]\n'
                    'model = "big-planner"\n', "pyproject.toml")
    config = load_config(tmp_path, {}, {})
    assert config.max_revisions == 4
    assert config.role_settings("planner").model == "big-planner"
    assert config.config_file == tmp_path / "pyproject.toml"


def test_agent_toml_wins_over_pyproject(tmp_path: Path) -> None:
    write(tmp_path, "[tool.agent]\nmax_revisions = 4\n", "pyproject.toml")
    write(tmp_path, "max_revisions = 1\n")
    config = load_config(tmp_path, {}, {})
    assert config.max_revisions == 1 and config.config_file == tmp_path / ".agent.toml"


def test_pyproject_without_tool_agent_is_no_configuration(tmp_path: Path) -> None:
    write(tmp_path, '[project]\nname = "x"\n', "pyproject.toml")
    assert load_config(tmp_path, {}, {}).config_file is None


@pytest.mark.parametrize("provider, url", [
    ("cerebras", "https://api.cerebras.ai/v1"), ("zai", "https://api.z.ai/api/paas/v4"),
    ("openrouter", "https://openrouter.ai/api/v1"), ("openai", "https://api.openai.com/v1"),
    ("vllm", "http://localhost:8000/v1"),
])
def test_base_url_defaults_to_the_providers(tmp_path: Path, provider: str, url: str) -> None:
    config = load_config(tmp_path, {}, {"AGENT_PROVIDER": provider})
    assert config.base_url == url and config.sources["base_url"] == "default"


def test_user_secret_globs_extend_the_built_in_list(tmp_path: Path) -> None:
    write(tmp_path, 'secret_globs = ["*.secret", ".env"]\n')
    globs = load_config(tmp_path, {}, {}).secret_globs
    assert globs[: len(DEFAULT_SECRET_GLOBS)] == list(DEFAULT_SECRET_GLOBS)
    assert globs[len(DEFAULT_SECRET_GLOBS):] == ["*.secret"]


def test_role_defaults(tmp_path: Path) -> None:
    config = load_config(tmp_path, {}, {"CEREBRAS_API_KEY": SECRET})
    planner, executor, reviewer = (config.role_settings(r) for r in ("planner", "executor", "reviewer"))
    assert (planner.reasoning, planner.max_completion_tokens) == (True, 8192)
    assert (executor.reasoning, executor.max_completion_tokens) == (True, 16384)
    assert (reviewer.reasoning, reviewer.max_completion_tokens) == (False, 4096)
    assert reviewer.api_key == SECRET and reviewer.provider == "cerebras"
    assert (reviewer.temperature, reviewer.top_p) == (1.0, 0.95)


def test_critic_reasoning_switch_raises_the_critic_budget(tmp_path: Path) -> None:
    write(tmp_path, 'critic_reasoning = true\ncritics = ["reviewer", "docs"]\n')
    config = load_config(tmp_path, {}, {})
    for critic in ("reviewer", "docs"):
        assert config.role_settings(critic).reasoning is True
        assert config.role_settings(critic).max_completion_tokens == 12288
    assert config.role_names() == ["planner", "executor", "reviewer", "docs"]


def test_role_section_overrides_the_top_level(tmp_path: Path) -> None:
    write(tmp_path, 'temperature = 0.6\n[roles.planner]\nmodel = "frontier"\nprovider = "openrouter"\n'
                    "reasoning = false\nmax_completion_tokens = 40000\ntop_p = 0.8\n"
                    '[roles.security]\nbase_url = "http://127.0.0.1:9000/v1"\nreasoning = true\n')
    env = {"CEREBRAS_API_KEY": "cerebras-key", "OPENROUTER_API_KEY": "openrouter-key"}
    config = load_config(tmp_path, {}, env)
    planner = config.role_settings("planner")
    assert (planner.model, planner.provider) == ("frontier", "openrouter")
    assert planner.base_url == "https://openrouter.ai/api/v1"
    assert planner.api_key == "openrouter-key"  # the role's provider's key variable
    assert (planner.reasoning, planner.max_completion_tokens) == (False, 40000)
    assert (planner.temperature, planner.top_p) == (1.0, 0.8)  # the section's sampling replaces the top level's
    executor = config.role_settings("executor")
    assert (executor.model, executor.api_key, executor.temperature) == ("zai-glm-4.7", "cerebras-key", 0.6)
    security = config.role_settings("security")
    assert security.base_url == "http://127.0.0.1:9000/v1" and security.max_completion_tokens == 12288


def test_budget_over_40000_names_file_and_key(tmp_path: Path) -> None:
    write(tmp_path, "[roles.planner]\nmax_completion_tokens = 50000\n")
    assert config_error(tmp_path) == \
        f"{tmp_path / '.agent.toml'}: roles.planner.max_completion_tokens: must be at most 40000 (got 50000)"


def test_pyproject_errors_name_the_tool_agent_path(tmp_path: Path) -> None:
    write(tmp_path, "[tool.agent]\nmax_steps = 13\n", "pyproject.toml")
    assert config_error(tmp_path) == f"{tmp_path / 'pyproject.toml'}: tool.agent.max_steps: must be at most 12 (got 13)"


def test_temperature_and_top_p_both_changed_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "temperature = 0.6\ntop_p = 0.8\n")
    assert "set temperature or top_p, not both" in config_error(tmp_path)
    write(tmp_path, "[roles.qa]\ntemperature = 0.6\ntop_p = 0.8\n")
    assert "roles.qa: set temperature or top_p, not both" in config_error(tmp_path)


def test_one_sampling_value_may_change_and_the_other_keeps_its_default(tmp_path: Path) -> None:
    write(tmp_path, "temperature = 0.6\ntop_p = 0.95\n")
    config = load_config(tmp_path, {}, {})
    assert (config.temperature, config.top_p) == (0.6, 0.95)


def test_sampling_rule_holds_across_layers(tmp_path: Path) -> None:
    write(tmp_path, "top_p = 0.5\n")
    message = config_error(tmp_path, flags={"temperature": 0.7})
    assert "temperature (flag --temperature), top_p (file" in message and "not both" in message


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, 'model = "glm"\nmax_steps = = 3\n')
    message = config_error(tmp_path)
    assert message.startswith(f"{tmp_path / '.agent.toml'}:2: invalid TOML (line 2")


def test_values_of_the_wrong_type_are_reported_not_crashed_on(tmp_path: Path) -> None:
    write(tmp_path, 'provider = ["zai"]\n[roles.qa]\nprovider = 3\n')
    assert config_error(tmp_path).endswith(": provider: must be one of cerebras, zai, vllm, openrouter or openai "
                                           "(got ['zai']) (and 1 more)")
    write(tmp_path, 'max_steps = "5"\n')
    assert config_error(tmp_path).endswith(": max_steps: must be an integer (got '5')")


def test_unknown_keys_are_errors_with_a_hint(tmp_path: Path) -> None:
    write(tmp_path, "max_step = 3\n")
    assert config_error(tmp_path).endswith("max_step: unknown key; did you mean 'max_steps'?")
    write(tmp_path, '[roles.planner]\nmodle = "x"\n')
    assert config_error(tmp_path).endswith("roles.planner.modle: unknown key; did you mean 'model'?")
    write(tmp_path, "colour = 3\n")
    assert "colour: unknown key (known keys: model, base_url" in config_error(tmp_path)


def test_unknown_role_section_is_an_error_unless_a_persona_exists(tmp_path: Path) -> None:
    write(tmp_path, '[roles.planer]\nmodel = "x"\n[roles.docs]\nreasoning = true\n')
    assert "roles.planer: unknown role; did you mean 'planner'?" in config_error(tmp_path)
    write(tmp_path, '[roles.docs]\nreasoning = true\n')
    assert "roles.docs: unknown role" in config_error(tmp_path)
    (tmp_path / ".agent" / "critics").mkdir(parents=True)
    (tmp_path / ".agent" / "critics" / "docs.md").write_text("You review documentation.\n")
    assert load_config(tmp_path, {}, {}).role_settings("docs").reasoning is True


@pytest.mark.parametrize("text, where, var", [
    (f'api_key = "{SECRET}"\n', "api_key", "CEREBRAS_API_KEY"),
    (f'provider = "zai"\n[roles.planner]\napi_key = "{SECRET}"\n', "roles.planner.api_key", "ZAI_API_KEY"),
    (f'[roles.qa]\nprovider = "openrouter"\nopenrouter_api_key = "{SECRET}"\n', "roles.qa.openrouter_api_key",
     "OPENROUTER_API_KEY"),
])
def test_api_key_in_the_file_is_refused(tmp_path: Path, text: str, where: str, var: str) -> None:
    write(tmp_path, text)
    message = config_error(tmp_path)
    assert f": {where}: API keys are never read from a configuration file" in message
    assert var in message and SECRET not in message


def test_bad_environment_and_flag_values_name_their_origin(tmp_path: Path) -> None:
    assert config_error(tmp_path, env={"AGENT_PROVIDER": "azure"}).startswith(
        "AGENT_PROVIDER: must be one of cerebras, zai, vllm, openrouter or openai (got 'azure')")
    assert config_error(tmp_path, env={"AGENT_BASE_URL": "api.example.com"}).startswith(
        "AGENT_BASE_URL: must be an http")
    assert config_error(tmp_path, flags={"critics": "reviewer,Bad"}).startswith("--critics: 'Bad' is not a critic name")
    assert config_error(tmp_path, flags={"max_steps": 20}) == "--max-steps: must be at most 12 (got 20)"


@pytest.mark.parametrize("provider, env, expected", [
    ("cerebras", {"OPENAI_API_KEY": "o", "AGENT_API_KEY": "a"}, None),  # cerebras reads CEREBRAS_API_KEY only
    ("zai", {"OPENAI_API_KEY": "o", "ZAI_API_KEY": "z", "AGENT_API_KEY": "a"}, "a"),
    ("zai", {"OPENAI_API_KEY": "o", "ZAI_API_KEY": "z"}, "z"),
    ("openrouter", {"OPENAI_API_KEY": "o", "OPENROUTER_API_KEY": "r"}, "r"),
    ("openai", {"OPENAI_API_KEY": "o"}, "o"),
])
def test_key_variables_per_provider(tmp_path: Path, provider: str, env: dict[str, str], expected: str | None) -> None:
    config = load_config(tmp_path, {"provider": provider}, env)
    assert config.role_settings("executor").api_key == expected


def test_missing_key_is_a_user_error_naming_the_variable(tmp_path: Path) -> None:
    config = load_config(tmp_path, {}, {})
    with pytest.raises(UserError, match=r"^no API key: set CEREBRAS_API_KEY \(provider cerebras, role planner\)$"):
        config.require_key("planner")
    assert load_config(tmp_path, {}, {"CEREBRAS_API_KEY": SECRET}).require_key("planner").api_key == SECRET


def test_local_endpoint_runs_without_a_key(tmp_path: Path) -> None:
    config = load_config(tmp_path, {"provider": "vllm"}, {})
    assert config.require_key("executor").api_key == "unused"
    remote = load_config(tmp_path, {"provider": "vllm", "base_url": "https://gpu.example.com/v1"}, {})
    with pytest.raises(UserError, match="AGENT_API_KEY"):
        remote.require_key("executor")


def test_the_key_never_appears_in_any_view(tmp_path: Path) -> None:
    write(tmp_path, '[roles.qa]\nprovider = "zai"\n')
    config = load_config(tmp_path, {}, {"CEREBRAS_API_KEY": SECRET, "ZAI_API_KEY": SECRET + "-zai"})
    views = [repr(config), str(config), config.model_dump_json(), json.dumps(config.redacted()),
             str(config.model_dump()), repr(AgentConfig.model_validate(config.model_dump()))]
    assert not any(SECRET in view for view in views)
    redacted = config.redacted()
    assert redacted["api_keys"]["cerebras"] == {"present": True, "env": "CEREBRAS_API_KEY"}
    assert redacted["api_keys"]["zai"] == {"present": True, "env": "ZAI_API_KEY"}
    assert redacted["roles"]["qa"]["api_key"] == "set"
