"""Finding a repository's test command the way its developers run it, and saying why."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tools.testdetect import detect_test_command, runner_of

PY = sys.executable


def project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


CASES = [
    ({"tests/test_a.py": ""}, f"{PY} -m pytest -q", "pytest"),
    ({"pytest.ini": "[pytest]\n"}, f"{PY} -m pytest -q", "pytest"),
    ({"conftest.py": ""}, f"{PY} -m pytest -q", "pytest"),
    ({"setup.cfg": "[tool:pytest]\naddopts = -q\n"}, f"{PY} -m pytest -q", "pytest"),
    ({"pyproject.toml": "[tool.pytest.ini_options]\n"}, f"{PY} -m pytest -q", "pytest"),
    ({"mod.py": "", "test_mod.py": ""}, f"{PY} -m pytest -q", "pytest"),  # root-level tests, no config
    ({"mod.py": "", "mod_test.py": ""}, f"{PY} -m pytest -q", "pytest"),
    ({"package.json": json.dumps({"scripts": {"test": "jest"}}), "package-lock.json": "{}"}, "npm test --", "jest"),
    ({"package.json": json.dumps({"scripts": {"test": "vitest run"}}), "pnpm-lock.yaml": ""}, "pnpm test", "vitest"),
    ({"package.json": json.dumps({"scripts": {"test": "mocha"}}), "yarn.lock": ""}, "yarn test", "mocha"),
    ({"package.json": json.dumps({"scripts": {"test": "node --test"}})}, "npm test --", "node"),
    ({"package.json": json.dumps({"scripts": {"test": "tsc && ./run-tests.sh"}})}, "npm test --", "npm"),
    # npm init's placeholder only fails: the test framework or test files decide instead.
    ({"package.json": json.dumps({"scripts": {"test": 'echo "Error: no test specified" && exit 1'},
                                  "devDependencies": {"vitest": "^3"}})}, "npx vitest run", "vitest"),
    ({"package.json": json.dumps({"devDependencies": {"jest": "^29"}}), "yarn.lock": ""}, "yarn jest", "jest"),
    ({"package.json": json.dumps({"name": "x"}), "src/a.test.js": ""}, "node --test", "node"),
    ({"go.mod": "module x\n", "x_test.go": ""}, "go test -json ./...", "go"),
    ({"Cargo.toml": "[package]\nname = 'x'\n"}, "cargo test --no-fail-fast", "cargo"),
    ({"pom.xml": "<project/>"}, "mvn -B test", "maven"),
    ({"pom.xml": "<project/>", "mvnw": "#!/bin/sh\n"}, "./mvnw -B test", "maven"),
    ({"build.gradle.kts": ""}, "gradle test", "gradle"),
    ({"settings.gradle": "", "gradlew": ""}, "./gradlew test", "gradle"),
    ({"CMakeLists.txt": "project(x)\nenable_testing()\nadd_test(NAME a COMMAND a)\n"},
     "cmake -S . -B build -DCMAKE_BUILD_TYPE=Debug && cmake --build build -j 2 && ctest --test-dir build --output-on-failure",
     "ctest"),
    ({"Makefile": "all:\n\tcc x.c\n\ntest: all\n\t./run\n"}, "make test", "make"),
]


@pytest.mark.parametrize("files, command, runner", CASES, ids=[next(iter(c[0])) + f"-{i}" for i, c in enumerate(CASES)])
def test_detects_the_command_its_developers_run(tmp_path: Path, files: dict, command: str, runner: str) -> None:
    found = detect_test_command(project(tmp_path, files))
    assert found is not None and (found.command, found.runner) == (command, runner)
    assert found.reason  # doctor and the run's first lines say why


@pytest.mark.parametrize("files", [
    {"pyproject.toml": "[project]\nname = 'x'\n", "x.py": ""},
    {"package.json": json.dumps({"scripts": {"test": 'echo "Error: no test specified" && exit 1'}})},
    {"CMakeLists.txt": "project(x)\nadd_executable(x x.c)\n"},  # no tests declared
    {"Makefile": "all:\n\tcc x.c\ntest_output := x\n"},  # a variable named test..., not a target
    {"README.md": "# nothing here\n"},
    {"tests/fixture.json": "{}"},  # a tests/ folder without Python in it is not pytest's
])
def test_finds_nothing_where_there_are_no_tests(tmp_path: Path, files: dict) -> None:
    assert detect_test_command(project(tmp_path, files)) is None


def test_the_reason_names_what_was_found(tmp_path: Path) -> None:
    found = detect_test_command(project(tmp_path, {"package.json": json.dumps({"scripts": {"test": "mocha"}}),
                                                   "pnpm-lock.yaml": ""}))
    assert found is not None and found.reason == "package.json scripts.test (mocha), run with pnpm"


def test_dependency_folders_are_not_searched_for_test_files(tmp_path: Path) -> None:
    project(tmp_path, {"package.json": "{}", "node_modules/dep/a.test.js": ""})
    assert detect_test_command(tmp_path) is None


@pytest.mark.parametrize("command, runner", [
    ("pytest -q", "pytest"), ("python -m unittest", "unittest"), ("go test ./pkg/...", "go"),
    ("cargo test -p core", "cargo"), ("./mvnw test", "maven"), ("./gradlew check", "gradle"),
    ("ctest --test-dir build", "ctest"), ("npx jest --ci", "jest"), ("node --test test/", "node"),
    ("make test", "unknown"),
])
def test_a_configured_command_names_its_runner(command: str, runner: str) -> None:
    assert runner_of(command) == runner
