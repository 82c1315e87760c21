"""The environment a sandboxed command gets: the user's, minus everything a user would call a secret.

A variable is dropped when its name says it holds a credential (keys, tokens, passwords, DSNs,
JWTs, auth configs, connection strings), when it points at a host socket (an agent, a bus, a
daemon), or when its value looks like one (a URL with a password in it, a JWT), whatever its name.
`sandbox_env_allow` keeps a named variable a test suite genuinely needs.
"""

from __future__ import annotations

import re
from typing import Collection, Mapping

# Names of variables that hold credentials. Case-insensitive; `_` and the ends of the name delimit words.
SECRET_NAME = re.compile(
    r"(^|_)(API_?KEY|KEYS?|KEY_ID|PAT|PASS|PWD|PASSPHRASE|DSN)$"  # DB_PASS, MYSQL_PWD, SENTRY_DSN, GH_PAT
    r"|TOKENS?(_|$)|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_?KEY|JWT"  # npm_config__authToken, CI_JOB_JWT_V2
    r"|(^|_)O?AUTH(_|$|TOKEN)|AUTHORIZATION|AUTH_?CONFIG|COOKIE"  # DOCKER_AUTH_CONFIG, HTTP_AUTHORIZATION
    r"|(^|_)(DATABASE|DB|REDIS|MONGO(DB)?|AMQP|RABBITMQ|BROKER|CELERY_BROKER)_(URL|URI)$"
    r"|CONN(ECTION)?_?STR(ING)?",
    re.IGNORECASE,
)
# Variables that point a program at a host socket or agent: unreachable inside, and never needed.
SOCKET_NAMES = frozenset({"SSH_AUTH_SOCK", "SSH_AGENT_PID", "GPG_AGENT_INFO", "DBUS_SESSION_BUS_ADDRESS",
                          "DOCKER_HOST", "XDG_RUNTIME_DIR", "WAYLAND_DISPLAY", "DISPLAY", "XAUTHORITY"})
# The working-directory variables match `(^|_)PWD$` but hold a path, not a password.
NOT_SECRET = frozenset({"PWD", "OLDPWD"})
# Values that are credentials whatever the variable is called: a URL carrying a password, a JWT.
SECRET_VALUE = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@|\beyJ[A-Za-z0-9_-]{8,}\.eyJ", re.IGNORECASE)


def is_secret_variable(name: str, value: str) -> bool:
    """Whether environment variable `name=value` looks like a credential or a host socket."""
    if name.upper() in SOCKET_NAMES:
        return True
    if name.upper() not in NOT_SECRET and SECRET_NAME.search(name):
        return True
    return bool(SECRET_VALUE.search(value))


def scrub_env(env: Mapping[str, str], allow: Collection[str] = ()) -> dict[str, str]:
    """`env` without any variable that looks like a credential; the names in `allow` are kept."""
    return {name: value for name, value in env.items() if name in allow or not is_secret_variable(name, value)}


def scrubbed_names(env: Mapping[str, str], allow: Collection[str] = ()) -> list[str]:
    """The names `scrub_env` drops from `env` (for a diagnosis; never the values)."""
    return sorted(name for name in env if name not in allow and is_secret_variable(name, env[name]))
