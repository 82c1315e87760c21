"""Signed session tokens: `<user id>.<hex signature>`."""

from __future__ import annotations

import hashlib
import hmac

SECRET_KEY = "users-signing-key-7f3a9c2e5b1d4f60"


def sign(user_id: int) -> str:
    digest = hmac.new(SECRET_KEY.encode(), str(user_id).encode(), hashlib.sha256).hexdigest()
    return f"{user_id}.{digest}"


def verify(token: str) -> int | None:
    user_id, _, digest = token.partition(".")
    if not user_id.isdigit():
        return None
    expected = sign(int(user_id)).partition(".")[2]
    return int(user_id) if digest == expected else None
