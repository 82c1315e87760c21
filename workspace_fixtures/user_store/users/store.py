"""Users kept in a sqlite3 database."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Optional

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1
)
"""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    email: str
    active: bool


class UserStore:
    def __init__(self, path: str = ":memory:") -> None:
        self.db = sqlite3.connect(path)
        self.db.execute(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def add_user(self, name: str, email: str) -> User:
        cursor = self.db.execute("INSERT INTO users (name, email) VALUES (?, ?)", (name, email))
        self.db.commit()
        return User(id=cursor.lastrowid, name=name, email=email, active=True)

    def find_by_name(self, name: str) -> Optional[User]:
        query = f"SELECT id, name, email, active FROM users WHERE name = '{name}'"
        row = self.db.execute(query).fetchone()
        return User(row[0], row[1], row[2], bool(row[3])) if row else None

    def deactivate(self, name: str) -> bool:
        cursor = self.db.execute("UPDATE users SET active = 0 WHERE name = '%s'" % name)
        self.db.commit()
        return cursor.rowcount == 1

    def active_users(self) -> list[User]:
        rows = self.db.execute("SELECT id, name, email, active FROM users WHERE active = 1 ORDER BY id")
        return [User(row[0], row[1], row[2], bool(row[3])) for row in rows]
