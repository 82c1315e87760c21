"""The error kinds the product distinguishes, and the exit code each ends a command with.

Three kinds are handled apart: what the model can fix goes back to it as a tool result (never
an exception), what the user must fix is a `UserError` (one line, exit 2, printed at the CLI
edge only), and bugs propagate untouched.
"""

from __future__ import annotations


class AgentError(Exception):
    """Base of every error the CLI edge turns into a one-line message."""

    exit_code: int = 1


class UserError(AgentError):
    """Something the user must fix: a bad flag, file, repository or missing key."""

    exit_code = 2


class ConfigError(UserError):
    """A configuration file or value is invalid; the message names the file and key."""


class ModelAPIError(AgentError):
    """The model API failed after retries."""

    exit_code = 3


class AuthError(UserError):
    """The endpoint refused the credentials (401/403): retrying cannot help."""


class ContextLengthError(ModelAPIError):
    """The request is longer than the model's context; the caller must shrink it."""

    def __init__(self, message: str, current: int | None = None, limit: int | None = None):
        super().__init__(message)
        self.current = current
        self.limit = limit


class RunInterrupted(AgentError):
    """Ctrl-C during a run: the journal is marked interrupted and the run is resumable."""

    exit_code = 130
