"""Against a real endpoint: run only with AGENT_LIVE_TESTS=1 and a key (never in CI)."""

import os

import pytest

pytestmark = pytest.mark.live
KEY = os.environ.get("CEREBRAS_API_KEY", "")  # read at import: the suite clears keys before each test
LIVE = os.environ.get("AGENT_LIVE_TESTS") == "1" and bool(KEY)


@pytest.mark.skipif(not LIVE, reason="needs AGENT_LIVE_TESTS=1 and CEREBRAS_API_KEY")
def test_probe_passes_against_the_real_endpoint(cli):
    result = cli("probe", "--long-context", "8000", env={"CEREBRAS_API_KEY": KEY})
    assert result.exit_code == 0, result.stdout + result.stderr
