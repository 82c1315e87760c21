"""Which command runs a repository's tests, found the way its developers run them, and why."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from tools.project_env import project_python

Runner = Literal["pytest", "unittest", "npm", "jest", "vitest", "mocha", "node", "go", "cargo", "maven",
                 "gradle", "ctest", "make", "unknown"]
NPM_PLACEHOLDER = "no test specified"  # `npm init`'s default test script, which only fails
# Lockfile → the package manager that wrote it (checked in this order).
LOCKFILES = (("pnpm-lock.yaml", "pnpm"), ("yarn.lock", "yarn"), ("bun.lockb", "bun"), ("bun.lock", "bun"),
             ("package-lock.json", "npm"), ("npm-shrinkwrap.json", "npm"))
MAKE_TEST_TARGET = re.compile(r"^test\s*:(?!=)", re.MULTILINE)
CMAKE_TESTS = re.compile(r"^\s*(enable_testing|add_test|include\s*\(\s*CTest|gtest_discover_tests)\b",
                         re.MULTILINE | re.IGNORECASE)
JS_TEST_FILE = re.compile(r"\.(test|spec)\.[cm]?[jt]sx?$")
PY_ROOT_TEST = re.compile(r"^(test_.*|.*_test)\.py$")
# Folders that hold dependencies or build output, never the project's own tests.
SKIP_DIRS = frozenset({"node_modules", ".git", ".venv", "venv", "target", "build", "dist", ".agent", "vendor"})


@dataclass(frozen=True)
class Detected:
    """A test command, the runner whose output it prints, and why it was chosen."""

    command: str
    runner: Runner
    reason: str


def detect_test_command(root: Path) -> Detected | None:
    """The command the repository at `root` runs its tests with, or None when it has no tests we know."""
    for probe in PROBES:
        found = probe(root)
        if found is not None:
            return found
    return None


def runner_of(command: str) -> Runner:
    """The runner a configured command most likely is, for choosing how to read its output."""
    words = set(re.split(r"[\s/=]+", command))
    for runner, marks in RUNNER_MARKS:
        if words & marks:
            return runner
    if re.search(r"\bgo\s+test\b", command):
        return "go"
    if re.search(r"\bnode\b.*--test\b", command):
        return "node"
    return "unknown"


RUNNER_MARKS: tuple[tuple[Runner, frozenset[str]], ...] = (
    ("pytest", frozenset({"pytest", "py.test"})), ("unittest", frozenset({"unittest"})),
    ("cargo", frozenset({"cargo"})), ("maven", frozenset({"mvn", "mvnw"})),
    ("gradle", frozenset({"gradle", "gradlew"})), ("ctest", frozenset({"ctest"})),
    ("jest", frozenset({"jest"})), ("vitest", frozenset({"vitest"})), ("mocha", frozenset({"mocha"})),
)


def python_tests(root: Path) -> Detected | None:
    """pytest when the project configures it or keeps Python tests in tests/."""
    why = _pytest_config(root)
    if why is None:
        return None
    return Detected(f"{shlex.quote(_python(root))} -m pytest -q", "pytest", why)


def _python(root: Path) -> str:
    """The project virtualenv's interpreter when pytest is installed there, else this interpreter."""
    home = Path(os.environ["HOME"]) if os.environ.get("HOME") else None
    return str(project_python(root, home) or sys.executable)


def _pytest_config(root: Path) -> str | None:
    for name in ("pytest.ini", "conftest.py"):
        if (root / name).is_file():
            return f"{name} found"
    if _has_section(root / "setup.cfg", "[tool:pytest]"):
        return "setup.cfg has [tool:pytest]"
    if _has_section(root / "tox.ini", "[pytest]"):
        return "tox.ini has [pytest]"
    if "pytest" in _read_toml(root / "pyproject.toml").get("tool", {}):
        return "pyproject.toml has [tool.pytest]"
    tests = root / "tests"
    if tests.is_dir() and any(tests.rglob("*.py")):
        return "Python files in tests/"
    return None


def python_root_tests(root: Path) -> Detected | None:
    """Root-level test_*.py / *_test.py: pytest when this interpreter has it, else unittest."""
    found = sorted(p.name for p in root.iterdir() if p.is_file() and PY_ROOT_TEST.match(p.name))
    if not found:
        return None
    python = shlex.quote(_python(root))
    if python != shlex.quote(sys.executable) or importlib.util.find_spec("pytest") is not None:
        return Detected(f"{python} -m pytest -q", "pytest", f"Python test files at the root ({found[0]})")
    # unittest discovers one file pattern at a time: test_*.py when there are such files.
    pattern = "'test_*.py'" if any(n.startswith("test_") for n in found) else "'*_test.py'"
    return Detected(f"{python} -m unittest discover -v -p {pattern}", "unittest",
                    f"Python test files at the root ({found[0]}) and no pytest")


def javascript_tests(root: Path) -> Detected | None:
    """package.json's test script run with the lockfile's package manager, or its test framework."""
    package = _read_json(root / "package.json")
    if package is None:
        return None
    manager = next((tool for lock, tool in LOCKFILES if (root / lock).is_file()), "npm")
    scripts = package.get("scripts") if isinstance(package.get("scripts"), dict) else {}
    script = scripts.get("test")
    if isinstance(script, str) and script.strip() and NPM_PLACEHOLDER not in script:
        runner = runner_of(script)
        # npm hands arguments after `--` to the script; the model's run_tests arguments go there.
        command = "npm test --" if manager == "npm" else f"{manager} test"
        return Detected(command, runner if runner != "unknown" else "npm",
                        f"package.json scripts.test ({script.strip()}), run with {manager}")
    deps = {**_dict(package.get("devDependencies")), **_dict(package.get("dependencies"))}
    for name, command in (("vitest", "vitest run"), ("jest", "jest"), ("mocha", "mocha")):
        if name in deps:
            runner_cmd = {"npm": "npx", "pnpm": "pnpm exec", "yarn": "yarn", "bun": "bunx"}[manager]
            return Detected(f"{runner_cmd} {command}", name, f"package.json depends on {name} and has no test script")
    if (root / "test").is_dir() or any(_walk_matches(root, JS_TEST_FILE)):
        return Detected("node --test", "node", "JavaScript test files and no test script (node's built-in runner)")
    return None


def go_tests(root: Path) -> Detected | None:
    if not (root / "go.mod").is_file():
        return None
    return Detected("go test -json ./...", "go", "go.mod found")


def rust_tests(root: Path) -> Detected | None:
    if not (root / "Cargo.toml").is_file():
        return None
    return Detected("cargo test --no-fail-fast", "cargo", "Cargo.toml found (every test binary runs, failing or not)")


def java_tests(root: Path) -> Detected | None:
    """Maven or Gradle, through the wrapper when the repository commits one."""
    if (root / "pom.xml").is_file():
        if (root / "mvnw").is_file():
            return Detected("./mvnw -B test", "maven", "pom.xml and a committed Maven wrapper (mvnw)")
        return Detected("mvn -B test", "maven", "pom.xml found")
    gradle = next((n for n in ("build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts")
                   if (root / n).is_file()), None)
    if gradle is None:
        return None
    if (root / "gradlew").is_file():
        return Detected("./gradlew test", "gradle", f"{gradle} and a committed Gradle wrapper (gradlew)")
    return Detected("gradle test", "gradle", f"{gradle} found")


def cmake_tests(root: Path) -> Detected | None:
    """Configure, build and run CTest in build/ when CMakeLists.txt declares tests."""
    lists = root / "CMakeLists.txt"
    if not lists.is_file() or not CMAKE_TESTS.search(lists.read_text(encoding="utf-8", errors="replace")):
        return None
    command = "cmake -S . -B build -DCMAKE_BUILD_TYPE=Debug && cmake --build build -j 2 && ctest --test-dir build --output-on-failure"
    return Detected(command, "ctest", "CMakeLists.txt enables CTest tests")


def make_tests(root: Path) -> Detected | None:
    for name in ("GNUmakefile", "Makefile", "makefile"):
        path = root / name
        if path.is_file() and MAKE_TEST_TARGET.search(path.read_text(encoding="utf-8", errors="replace")):
            return Detected("make test", "make", f"{name} has a test target")
    return None


# Most specific first: a language's own configuration beats a generic Makefile, and a Makefile beats
# guessing from file names.
PROBES: tuple[Callable[[Path], Detected | None], ...] = (
    python_tests, javascript_tests, go_tests, rust_tests, java_tests, cmake_tests, make_tests, python_root_tests,
)


def _walk_matches(root: Path, pattern: re.Pattern[str], limit: int = 2000) -> list[Path]:
    """Files under `root` (not in dependency or build folders) whose name matches; at most `limit` looked at."""
    found: list[Path] = []
    stack, seen = [root], 0
    while stack and seen < limit:
        for entry in stack.pop().iterdir():
            seen += 1
            if entry.is_dir() and not entry.is_symlink() and entry.name not in SKIP_DIRS:
                stack.append(entry)
            elif pattern.search(entry.name):
                found.append(entry)
    return found


def _has_section(path: Path, header: str) -> bool:
    return path.is_file() and header in path.read_text(encoding="utf-8", errors="replace")


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8", errors="replace")) if path.is_file() else {}
    except tomllib.TOMLDecodeError:
        return {}


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace")) if path.is_file() else None
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}
