"""Secret redaction for journals and logs: keys go, ordinary code stays byte for byte."""

from __future__ import annotations

import time

import pytest

from agent.redact import REDACTED, redact, redact_obj

# Built from pieces so the test file itself does not look like it leaks credentials.
OPENAI = "sk-" + "proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8t"
CEREBRAS = "csk-" + "4f9k2m8x7q1w3e5r6t8y9u0i2o4p6a8s"
GITHUB = "ghp_" + "A1b2C3d4" * 5
GITHUB_PAT = "github_pat_" + "11ABCDEFG0" * 4
AWS = "AKIA" + "IOSFODNN7EXAMPLE"
SLACK = "xoxb-" + "123456789012-abcdefABCDEF"
JWT = "eyJhbGciOiJIUzI1NiJ9" + "." + "eyJzdWIiOiIxMjM0NTY3ODkwIn0" + "." + "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
PEM = "-----BEGIN OPENSSH " + "PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\nAAAAMwAAAAtzc2gtZW\n-----END OPENSSH " + "PRIVATE KEY-----"


@pytest.mark.parametrize("text, expected", [
    (f"using key {OPENAI} now", f"using key {REDACTED} now"),
    (f"CEREBRAS_API_KEY={CEREBRAS}", f"CEREBRAS_API_KEY={REDACTED}"),
    (f"export GITHUB_TOKEN={GITHUB}", f"export GITHUB_TOKEN={REDACTED}"),
    (f"remote: {GITHUB_PAT}", f"remote: {REDACTED}"),
    (f"aws id {AWS}.", f"aws id {REDACTED}."),
    (f"slack={SLACK}", f"slack={REDACTED}"),
    (f"cookie {JWT}", f"cookie {REDACTED}"),
    ("Authorization: Bearer abcdef0123456789abcdef", f"Authorization: Bearer {REDACTED}"),
    (f"key file:\n{PEM}\ndone", f"key file:\n{REDACTED}\ndone"),
    ('{"token": "a8f3k2m9x7q1w3e5"}', f'{{"token": "{REDACTED}"}}'),
    ("db_password: 'hunter2hunter2'", f"db_password: '{REDACTED}'"),
    ("SECRET_KEY = 'django-insecure-9x8y7z'", f"SECRET_KEY = '{REDACTED}'"),
    ("PGPASSWORD=s3cretpass psql", f"PGPASSWORD={REDACTED} psql"),
])
def test_known_secret_shapes_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_exact_values_are_redacted_wherever_they_appear() -> None:
    text = "connected with plainvalue42 and again plainvalue42; short ab stays"
    assert redact(text, ["plainvalue42", "ab", ""]) == f"connected with {REDACTED} and again {REDACTED}; short ab stays"


def test_tokens_inside_longer_words_are_left_alone() -> None:
    text = "task-abcdefghijklmnopqrstuvwxyz123 and mask-" + "x1" * 15
    assert redact(text) == text


REALISTIC_MODULE = '''"""Client for the billing API."""

from __future__ import annotations

import os
from dataclasses import dataclass

API_KEY_ENV = "BILLING_API_KEY"
TOKEN_HEADER = "Authorization"
MAX_TOKENS = 40000
max_completion_tokens=131072


@dataclass
class Settings:
    api_key: str | None = None
    token_type: str = "bearer"
    secret_name: str = "billing"
    password_min_length: int = 12


class Client:
    def __init__(self, settings: Settings) -> None:
        api_key = os.environ["BILLING_API_KEY"]
        self.api_key = settings.api_key or api_key
        self.headers = {TOKEN_HEADER: f"Bearer {self.api_key}"}
        self.cache_key = f"user:{settings.secret_name}"

    def get_token(self):
        token = self._session.post("/oauth/token", data={"grant_type": "client_credentials"})
        return token.json()["access_token"]

    def rotate_keys(self, keys: list[str], key_id: int = 0) -> dict[str, str]:
        secret = self.vault.read(f"secret/{key_id}")
        password = getpass.getpass("Password: ")
        return {"key": keys[key_id], "secret": secret, "password": password}


def tokenize(text: str) -> list[str]:
    tokens = text.split()
    return [t for t in tokens if t not in {"key", "token", "secret"}]
'''


def test_ordinary_code_is_untouched() -> None:
    assert redact(REALISTIC_MODULE) == REALISTIC_MODULE


def test_redact_obj_walks_journal_events() -> None:
    event = {
        "kind": "tool_result",
        "usage": {"prompt_tokens": 1234, "reasoning_tokens": 99},
        "config": {"api_key": "plain-but-configured", "base_url": "https://api.cerebras.ai/v1", "token": ""},
        "messages": [{"role": "tool", "content": f"env says CEREBRAS_API_KEY={CEREBRAS}"}, ("tuple", OPENAI)],
        "ok": True,
        "count": None,
    }
    assert redact_obj(event, extra_values=["https://never-matches"]) == {
        "kind": "tool_result",
        "usage": {"prompt_tokens": 1234, "reasoning_tokens": 99},
        "config": {"api_key": REDACTED, "base_url": "https://api.cerebras.ai/v1", "token": ""},
        "messages": [{"role": "tool", "content": f"env says CEREBRAS_API_KEY={REDACTED}"}, ("tuple", REDACTED)],
        "ok": True,
        "count": None,
    }
    assert event["config"]["api_key"] == "plain-but-configured"  # the input is not modified


def test_redaction_is_fast_on_large_text() -> None:
    text = (REALISTIC_MODULE * 800) + f"\nCEREBRAS_API_KEY={CEREBRAS}\n"  # about 1.2 MB
    started = time.perf_counter()
    out = redact(text, ["plainvalue42"])
    elapsed = time.perf_counter() - started
    assert out.endswith(f"CEREBRAS_API_KEY={REDACTED}\n")
    assert elapsed < 3.0, f"redacting {len(text):,} characters took {elapsed:.2f} s"
