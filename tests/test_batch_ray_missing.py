"""`agent batch --ray` where Ray is not installed, and the option's parsing (no Ray needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agent.cli import optional_value
from conftest import make_repo

# The CLI with `import ray` failing as it does where the extra is not installed.
_WITHOUT_RAY = "import sys; sys.modules['ray'] = None; sys.argv[0] = 'agent'; from agent.cli import main; main()"


def test_ray_without_the_extra_exits_2_with_the_install_command(tmp_path: Path):
    repo = make_repo(tmp_path / "repo")
    spec = tmp_path / "batch.yaml"
    spec.write_text('task: "note {path}"\nvars: {path: a}\nbase_url: http://127.0.0.1:9/v1\ntargets:\n  - repo: repo\n')
    proc = subprocess.run([sys.executable, "-c", _WITHOUT_RAY, "batch", str(spec), "--ray"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "agent: --ray needs Ray, an optional extra: pip install 'glm-agent[ray]'"
    assert not (tmp_path / "batch.results.jsonl").exists() and not (repo / ".agent").exists()


def test_ray_takes_an_optional_address():
    assert optional_value(["batch", "s.yaml", "--ray"], "--ray", "local") == ["batch", "s.yaml", "--ray", "local"]
    assert optional_value(["batch", "s.yaml", "--ray", "--jobs", "4"], "--ray", "local") == [
        "batch", "s.yaml", "--ray", "local", "--jobs", "4"]
    assert optional_value(["batch", "s.yaml", "--ray", "auto"], "--ray", "local") == ["batch", "s.yaml", "--ray", "auto"]
    assert optional_value(["run", "--", "--ray"], "--ray", "local") == ["run", "--", "--ray"]
