"""What the sandbox shows of the host: deny by default. No host socket, none of the user's checkout,
no credential under $HOME; the toolchains, the project's virtualenv and dependency folders read-only."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import git, make_repo

from tools.sandbox import SandboxPolicy, detect_sandbox, run_sandboxed

PY = shlex.quote(sys.executable)
BWRAP = detect_sandbox()
pytestmark = pytest.mark.skipif(not BWRAP.available, reason=f"bubblewrap sandbox unavailable: {BWRAP.detail}")


def inside(cmd: str, cwd: Path, env: dict[str, str] | None = None, policy: SandboxPolicy = SandboxPolicy()) -> str:
    outcome = run_sandboxed(cmd, cwd, timeout_s=60, mode="bwrap", output_cap=100_000, extra_env=env, policy=policy)
    return outcome.output


@pytest.fixture
def outside_tmp() -> Iterator[Path]:
    """A folder outside /tmp and $HOME (where a user's repository may well live: /srv, /work, /var)."""
    folder = Path(tempfile.mkdtemp(prefix="agent-test-", dir="/var/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def listening_socket(path: Path) -> socket.socket:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    return server


def socket_probe(paths: list[Path]) -> str:
    code = ("import socket, sys\n"
            "for p in sys.argv[1:]:\n"
            "    s = socket.socket(socket.AF_UNIX)\n"
            "    try:\n"
            "        s.connect(p); print('REACHED', p)\n"
            "    except OSError as e:\n"
            "        print('BLOCKED', p, type(e).__name__)\n")
    return f"{PY} -c {shlex.quote(code)} " + " ".join(shlex.quote(str(p)) for p in paths)


def test_no_host_unix_socket_is_reachable(tmp_path: Path, outside_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    worktree = make_repo(tmp_path / "wt")
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    places = [outside_tmp / "db.sock", tmp_path / "host-tmp.sock", home / "app.sock", home / ".ssh" / "agent.sock"]
    run_dir = Path(tempfile.mkdtemp(prefix="agent-test-", dir="/run")) if os.access("/run", os.W_OK) else None
    if run_dir is not None:
        places.append(run_dir / "docker.sock")  # /run and /var/run: docker, dbus, databases
    servers = [listening_socket(path) for path in places]
    try:
        probe = socket_probe(places)
        outside = run_sandboxed(probe, worktree, timeout_s=30, mode="none", output_cap=100_000).output
        assert outside.count("REACHED") == len(places)  # the probe itself works
        monkeypatch.setenv("SSH_AUTH_SOCK", str(home / ".ssh" / "agent.sock"))
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(outside_tmp))
        output = inside(probe + "; env", worktree, {"HOME": str(home)})
    finally:
        for server in servers:
            server.close()
        if run_dir is not None:
            shutil.rmtree(run_dir, ignore_errors=True)
    assert "REACHED" not in output, output
    assert output.count("BLOCKED") == len(places)
    assert "SSH_AUTH_SOCK" not in output and "XDG_RUNTIME_DIR" not in output
    for hidden in ("/run", "/var/run", "/home", "/srv", "/mnt"):
        assert not inside(f"ls -A {hidden} 2>/dev/null", worktree).strip(), hidden


def test_the_users_checkout_is_invisible_except_the_worktree(tmp_path: Path, outside_tmp: Path) -> None:
    checkout = make_repo(outside_tmp / "project", "calc_bug")
    (checkout / ".env.local").write_text("WEBHOOK_SALT=plumtree-harbor-velvet\n")
    (checkout / "scratch.txt").write_text("the user's own untracked notes\n")
    worktree = checkout / ".agent" / "worktrees" / "run1" / "project"
    git(checkout, "worktree", "add", "-q", str(worktree), "-b", "agent/run1")
    cmd = (f"cat {checkout}/.env.local || echo env-hidden; cat {checkout}/scratch.txt || echo scratch-hidden; "
           f"ls {checkout}/.agent/worktrees; cat ../../../.env.local || echo relative-hidden; "
           "echo made > new.txt; git status --porcelain")
    output = inside(cmd, worktree)
    assert "plumtree" not in output and "own untracked notes" not in output
    assert "env-hidden" in output and "scratch-hidden" in output and "relative-hidden" in output
    assert (worktree / "new.txt").read_text() == "made\n"  # the worktree itself is writable
    assert "?? new.txt" in output  # and git works in it


def _fake_home(home: Path) -> dict[str, list[str]]:
    """A $HOME with toolchains and the credentials that sit beside them; what must be seen and not."""
    files = {
        ".rustup/toolchains/stable/bin/rustc": "rustc", ".cargo/registry/cache/serde.crate": "crate",
        ".cargo/credentials.toml": "[registry]\ntoken = \"cio-cargo-token\"\n",
        ".m2/repository/junit/junit.jar": "jar", ".m2/settings.xml": "<servers><server><password>mvn-pw</password>",
        ".m2/settings-security.xml": "<master>mvn-master</master>", ".gradle/caches/modules/x.jar": "jar",
        ".gradle/gradle.properties": "repoPassword=gradle-pw\n", "go/pkg/mod/example.com/m@v1.0.0/go.mod": "module m",
        ".npm/_cacache/index": "cache", ".npmrc": "//registry.npmjs.org/:_authToken=npm-token-xyz\n",
        ".pyenv/versions/3.11.9/bin/python3": "py", ".nvm/nvm.sh": "nvm", ".ssh/id_rsa": "ssh-private-key",
        ".aws/credentials": "aws-secret", ".docker/config.json": "docker-auth", ".git-credentials": "git-cred",
        ".config/gh/hosts.yml": "gh-token", "go/src/other/secret.go": "other-project-code",
    }
    for rel, text in files.items():
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_text(text)
    cargo = home / ".cargo" / "bin" / "cargo"
    cargo.parent.mkdir(parents=True)
    cargo.write_text("#!/bin/sh\necho fake-cargo-ran\n")
    cargo.chmod(0o755)
    visible = [".rustup/toolchains/stable/bin/rustc", ".cargo/registry/cache/serde.crate", ".m2/repository/junit/junit.jar",
               ".gradle/caches/modules/x.jar", "go/pkg/mod/example.com/m@v1.0.0/go.mod", ".npm/_cacache/index",
               ".pyenv/versions/3.11.9/bin/python3", ".nvm/nvm.sh"]
    return {"visible": visible, "hidden": [rel for rel in files if rel not in visible]}


def test_home_toolchains_are_visible_and_credentials_are_not(tmp_path: Path) -> None:
    worktree = make_repo(tmp_path / "wt")
    home = tmp_path / "home"
    expected = _fake_home(home)
    cmd = " ; ".join(f"cat \"$HOME/{rel}\" >/dev/null 2>&1 && echo 'SEEN {rel}' || echo 'GONE {rel}'"
                     for rel in expected["visible"] + expected["hidden"])
    cmd += "; cargo; touch \"$HOME/.cargo/planted\" || echo cargo-read-only"
    env = {"HOME": str(home), "PATH": f"{home}/.cargo/bin{os.pathsep}{os.environ['PATH']}"}
    output = inside(cmd, worktree, env)
    for rel in expected["visible"]:
        assert f"SEEN {rel}" in output, output
    for rel in expected["hidden"]:
        assert f"GONE {rel}" in output, output
    assert "fake-cargo-ran" in output and "cargo-read-only" in output
    assert not (home / ".cargo" / "planted").exists()


def test_a_maven_settings_file_without_a_password_stays(tmp_path: Path) -> None:
    worktree = make_repo(tmp_path / "wt")
    home = tmp_path / "home"
    (home / ".m2").mkdir(parents=True)
    (home / ".m2" / "settings.xml").write_text("<mirrors><mirror><url>https://mirror.example</url></mirror></mirrors>")
    assert "mirror.example" in inside("cat \"$HOME/.m2/settings.xml\"", worktree, {"HOME": str(home)})


def test_the_checkouts_dependency_folders_and_virtualenv_are_shown_read_only(tmp_path: Path) -> None:
    checkout = make_repo(tmp_path / "project")
    (checkout / "node_modules" / "left-pad").mkdir(parents=True)
    (checkout / "node_modules" / "left-pad" / "index.js").write_text("module.exports = 'padded';\n")
    (checkout / "packages" / "web" / "node_modules" / "react").mkdir(parents=True)
    venv_bin = checkout / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (checkout / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (venv_bin / "project-tool").write_text("#!/bin/sh\necho project-venv-first\n")
    (venv_bin / "project-tool").chmod(0o755)
    worktree = checkout / ".agent" / "worktrees" / "run1" / "project"
    git(checkout, "worktree", "add", "-q", str(worktree), "-b", "agent/run1")
    cmd = ("cat node_modules/left-pad/index.js; ls packages/web/node_modules; project-tool; echo \"$VIRTUAL_ENV\"; "
           "touch node_modules/planted || echo deps-read-only")
    output = inside(cmd, worktree)
    assert "padded" in output and "react" in output and "project-venv-first" in output
    assert f"{checkout}/.venv" in output
    assert "deps-read-only" in output and not (checkout / "node_modules" / "planted").exists()
    assert not (worktree / "node_modules").exists()  # the mount point is not left behind
    assert git(worktree, "status", "--porcelain") == ""


def test_setup_policy_leaves_dependency_folders_to_the_setup(tmp_path: Path) -> None:
    checkout = make_repo(tmp_path / "project")
    (checkout / "node_modules" / "old").mkdir(parents=True)
    worktree = checkout / ".agent" / "worktrees" / "run1" / "project"
    git(checkout, "worktree", "add", "-q", str(worktree), "-b", "agent/run1")
    inside("mkdir -p node_modules/fresh", worktree, policy=SandboxPolicy(network=True, dependencies=False))
    assert sorted(p.name for p in (worktree / "node_modules").iterdir()) == ["fresh"]
    assert "fresh" in inside("ls node_modules", worktree)  # the worktree's own now wins
