"""Toolchain caches in the sandbox: the repository's own, writable and kept across runs; the user's
own caches never written. Real toolchains where installed (Go), real bubblewrap throughout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from conftest import git, make_repo

from tools.sandbox import SandboxPolicy, detect_sandbox, run_sandboxed

BWRAP = detect_sandbox()
pytestmark = pytest.mark.skipif(not BWRAP.available, reason=f"bubblewrap sandbox unavailable: {BWRAP.detail}")
needs_go = pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed (.ci/run installs it)")


def run_worktree(repo: Path, run_id: str) -> Path:
    """A linked worktree where a run keeps it: .agent/worktrees/<id>/<repository name>."""
    worktree = repo / ".agent" / "worktrees" / run_id / repo.name
    git(repo, "worktree", "add", "-q", "--detach", str(worktree))
    return worktree


def commit_all(repo: Path) -> None:
    """Make the folder `repo` a git repository with its files in one commit."""
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "project"]):
        git(repo, *args)


def sandboxed(cmd: str, cwd: Path, home: Path, policy: SandboxPolicy = SandboxPolicy()) -> tuple[int | None, str]:
    outcome = run_sandboxed(cmd, cwd, timeout_s=300, mode="bwrap", output_cap=200_000,
                            extra_env={"HOME": str(home)}, policy=policy)
    return outcome.exit_code, outcome.output


def snapshot(folder: Path) -> dict[str, tuple[int, float]]:
    """Every file under `folder` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime) for p in folder.rglob("*") if p.is_file()}


def user_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / ".cache" / "go-build").mkdir(parents=True)  # the user's own Go build cache
    (home / ".cache" / "go-build" / "README").write_text("the user's cache\n")
    return home


@needs_go
def test_go_reuses_its_build_and_test_cache_across_test_runs_and_runs_without_touching_the_users(tmp_path):
    repo = make_repo(tmp_path / "wordstats", "go_wordstats")
    home = user_home(tmp_path)
    before = snapshot(home)
    passing = "go test -run 'TestWordCountSimple|TestLongest' ./..."
    first_run = run_worktree(repo, "run1")
    code, first = sandboxed(passing, first_run, home)
    assert code == 0, first
    assert "(cached)" not in first
    code, again = sandboxed(passing, first_run, home)
    assert code == 0 and "(cached)" in again, again  # the test results, kept from the first test run
    cache = repo / ".agent" / "cache" / "go-build"
    built = len(snapshot(cache))
    assert built > 50  # the standard library's packages the tests import, compiled once
    code, next_run = sandboxed(passing, run_worktree(repo, "run2"), home)
    assert code == 0, next_run
    # Another run of the repository (another folder, so its test results are its own) compiles
    # only its own package: everything else comes from the repository's cache.
    assert len(snapshot(cache)) - built < built / 10
    assert snapshot(home) == before  # the user's own cache: not one file written


def _module_proxy(where: Path) -> Path:
    """A module proxy folder (GOPROXY=file://) serving example.com/greet v1.0.0."""
    versions = where / "example.com" / "greet" / "@v"
    versions.mkdir(parents=True)
    gomod = "module example.com/greet\n\ngo 1.19\n"
    (versions / "list").write_text("v1.0.0\n")
    (versions / "v1.0.0.info").write_text(json.dumps({"Version": "v1.0.0", "Time": "2024-01-01T00:00:00Z"}))
    (versions / "v1.0.0.mod").write_text(gomod)
    with zipfile.ZipFile(versions / "v1.0.0.zip", "w") as archive:
        archive.writestr("example.com/greet@v1.0.0/go.mod", gomod)
        archive.writestr("example.com/greet@v1.0.0/greet.go",
                         'package greet\n\nfunc Hello(name string) string { return "hello " + name }\n')
    return where


def _go_env(home: Path, proxy: Path) -> dict[str, str]:
    return {**os.environ, "HOME": str(home), "GOPATH": str(home / "go"), "GOMODCACHE": str(home / "go" / "pkg" / "mod"),
            "GOPROXY": f"file://{proxy}", "GOSUMDB": "off", "GOFLAGS": "-mod=mod"}


@needs_go
def test_go_modules_come_from_the_users_module_cache_offline_into_the_repositorys_own(tmp_path):
    home = user_home(tmp_path)
    proxy = _module_proxy(tmp_path / "proxy")
    repo = tmp_path / "hello"
    repo.mkdir()
    (repo / "go.mod").write_text("module example.com/hello\n\ngo 1.19\n\nrequire example.com/greet v1.0.0\n")
    (repo / "hello_test.go").write_text(
        'package hello\n\nimport (\n\t"testing"\n\n\t"example.com/greet"\n)\n\n'
        'func TestHello(t *testing.T) {\n\tif greet.Hello("go") != "hello go" {\n\t\tt.Fatal("wrong")\n\t}\n}\n')
    # The user has run the tests once on this machine: the module is in their cache, go.sum written.
    subprocess.run(["go", "mod", "tidy"], cwd=repo, env=_go_env(home, proxy), check=True, capture_output=True)
    subprocess.run(["go", "clean", "-cache"], cwd=repo, env=_go_env(home, proxy), check=True, capture_output=True)
    commit_all(repo)
    users_modules = snapshot(home / "go")
    assert any("greet@v1.0.0" in name for name in users_modules)
    code, output = sandboxed("go test ./...", run_worktree(repo, "run1"), home)
    assert code == 0, output  # no network inside: the module came from the user's cache
    assert (repo / ".agent/cache/go-mod/example.com/greet@v1.0.0/greet.go").is_file()
    assert snapshot(home / "go") == users_modules
    shutil.rmtree(repo / ".agent" / "cache")  # -modcacherw: the user can remove it like any folder


def test_download_caches_are_the_repositorys_own_and_the_users_stay_read_only(tmp_path):
    repo = make_repo(tmp_path / "proj")
    home = tmp_path / "home"
    (home / ".npm").mkdir(parents=True)
    (home / ".m2" / "repository").mkdir(parents=True)
    worktree = run_worktree(repo, "run1")
    probe = ('for v in npm_config_cache PIP_CACHE_DIR UV_CACHE_DIR GOCACHE GRADLE_USER_HOME; do '
             'eval d=\\$$v; mkdir -p "$d" && echo hit > "$d/probe" && echo "$v ok $d"; done; '
             'echo "maven: $MAVEN_ARGS"; touch ~/.npm/x 2>/dev/null || echo "user npm cache read-only"; '
             'touch ~/.m2/repository/x 2>/dev/null || echo "user maven repository read-only"')
    code, output = sandboxed(probe, worktree, home, SandboxPolicy(network=True, dependencies=False))
    cache = repo / ".agent" / "cache"
    for variable, folder in (("npm_config_cache", "npm"), ("PIP_CACHE_DIR", "pip"), ("UV_CACHE_DIR", "uv"),
                             ("GOCACHE", "go-build"), ("GRADLE_USER_HOME", "gradle")):
        assert f"{variable} ok {cache / folder}" in output, output
        assert (cache / folder / "probe").read_text() == "hit\n"  # kept for the repository's next runs
    assert f"-Dmaven.repo.local={cache / 'maven'} -Dmaven.repo.local.tail={home / '.m2/repository'}" in output
    assert "user npm cache read-only" in output and "user maven repository read-only" in output
    assert not list((home / ".npm").iterdir())


def test_a_project_that_chose_its_maven_repository_keeps_it(tmp_path):
    repo = tmp_path / "proj"
    (repo / ".mvn").mkdir(parents=True)
    (repo / ".mvn" / "maven.config").write_text("-o\n-Dmaven.repo.local=/usr/share/maven-repo\n")
    commit_all(repo)
    home = tmp_path / "home"
    (home / ".m2" / "repository").mkdir(parents=True)
    code, output = sandboxed('echo "maven args: [$MAVEN_ARGS]"', run_worktree(repo, "run1"), home)
    assert "maven args: []" in output


def test_gradle_gets_a_home_of_its_own_with_the_users_distributions_and_dependencies_read_only(tmp_path):
    repo = make_repo(tmp_path / "proj")
    home = tmp_path / "home"
    user = home / ".gradle"
    dist = user / "wrapper" / "dists" / "gradle-8.5-bin" / "5t9huq95ubn472n8rpzujfbqh"
    (dist / "gradle-8.5" / "bin").mkdir(parents=True)
    (dist / "gradle-8.5" / "bin" / "gradle").write_text("#!/bin/sh\n")
    (dist / "gradle-8.5-bin.zip.ok").write_text("")
    (user / "caches" / "modules-2" / "files-2.1").mkdir(parents=True)
    (user / "gradle.properties").write_text("org.gradle.jvmargs=-Xmx1g\n")
    (user / "init.gradle").write_text("// repositories { maven { credentials { password 'hunter2' } } }\n")
    before = snapshot(home)
    own = repo / ".agent" / "cache" / "gradle"
    new_dist = own / dist.relative_to(user)
    probe = (f'echo "home=$GRADLE_USER_HOME ro=$GRADLE_RO_DEP_CACHE"; ls {new_dist}; '
             f'cat {own}/gradle.properties; cat {own}/init.gradle 2>/dev/null || echo "no init.gradle"; '
             f'touch {new_dist}/gradle-8.5-bin.zip.lck && echo "lock taken"; '
             f'mkdir -p $GRADLE_USER_HOME/caches/8.5 && echo "home writable"; '
             f'touch {user}/caches/x 2>/dev/null || echo "user cache read-only"')
    code, output = sandboxed(probe, run_worktree(repo, "run1"), home)
    assert f"home={own} ro={user / 'caches'}" in output, output
    assert "gradle-8.5\n" in output and "gradle-8.5-bin.zip.ok" in output  # the wrapper finds its distribution
    assert "org.gradle.jvmargs=-Xmx1g" in output
    assert "no init.gradle" in output and "hunter2" not in output  # it holds a credential
    assert "lock taken" in output and "home writable" in output and "user cache read-only" in output
    assert snapshot(home) == before


def test_no_cache_outside_a_repository(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    code, output = sandboxed('echo "[$GOCACHE] [$npm_config_cache]"', folder, tmp_path)
    assert "[] [/tmp/npm-cache]" in output  # Go falls back to the private, empty $HOME
    assert not (folder / ".agent").exists()


def test_an_agent_folder_pointing_elsewhere_gets_no_writable_cache(tmp_path):
    elsewhere = tmp_path / "users-own-cache"
    elsewhere.mkdir()
    repo = make_repo(tmp_path / "proj")
    (repo / ".agent").mkdir()
    (repo / ".agent" / "cache").symlink_to(elsewhere)  # planted by a command run in place
    code, output = sandboxed('echo "[$GOCACHE]"; touch $GOCACHE/x 2>/dev/null; echo done', repo, tmp_path / "h")
    assert "[]" in output and not list(elsewhere.iterdir())


DEBIAN_JUNIT = Path("/usr/share/maven-repo/junit/junit/4.13.2")


@pytest.mark.skipif(shutil.which("gradle") is None or not DEBIAN_JUNIT.is_dir(),
                    reason="gradle or Debian's junit4 is not installed (.ci/run installs them)")
def test_gradle_runs_in_the_sandbox_with_a_home_of_its_own_while_the_users_stays_read_only(tmp_path):
    repo = tmp_path / "java_clamp"
    shutil.copytree(Path(__file__).parent.parent / "workspace_fixtures" / "java_clamp" / "src", repo / "src")
    # No network: JUnit from Debian's packaged repository.
    (repo / "build.gradle").write_text("apply plugin: 'java'\nrepositories { maven { url 'file:///usr/share/maven-repo' } }\n"
                                       "dependencies { testCompile 'junit:junit:4.13.2' }\n")
    (repo / "settings.gradle").write_text("rootProject.name = 'clamp'\n")
    commit_all(repo)
    home = tmp_path / "home"
    (home / ".gradle").mkdir(parents=True)  # the user's own: Gradle could not write a single file in it
    (home / ".gradle" / "gradle.properties").write_text("org.gradle.jvmargs=-Xmx512m\n")
    before = snapshot(home)
    code, output = sandboxed("gradle test --offline --no-daemon", run_worktree(repo, "run1"), home)
    assert code == 1 and "5 tests completed, 1 failed" in output, output  # the fixture's bug, found
    assert "clamp.RangeTest > lowersValuesAbove FAILED" in output
    assert (repo / ".agent" / "cache" / "gradle" / "caches").is_dir()
    assert snapshot(home) == before
