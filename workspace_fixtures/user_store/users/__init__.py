"""A small user store over sqlite3."""

from users.store import User, UserStore
from users.tokens import sign, verify

__all__ = ["User", "UserStore", "sign", "verify"]
