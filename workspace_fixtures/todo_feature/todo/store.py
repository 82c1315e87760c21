"""The todo list: items with an id, a title, an optional due date and a done flag."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Optional


@dataclass
class Item:
    id: int
    title: str
    due: Optional[date] = None
    done: bool = False

    def to_json(self) -> dict:
        data = asdict(self)
        data["due"] = self.due.isoformat() if self.due else None
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Item":
        due = date.fromisoformat(data["due"]) if data.get("due") else None
        return cls(id=data["id"], title=data["title"], due=due, done=data.get("done", False))


@dataclass
class TodoList:
    items: list[Item] = field(default_factory=list)

    def add(self, title: str, due: Optional[date] = None) -> Item:
        """Append a new item and return it; ids are never reused."""
        if not title.strip():
            raise ValueError("a todo needs a title")
        next_id = max((item.id for item in self.items), default=0) + 1
        item = Item(id=next_id, title=title.strip(), due=due)
        self.items.append(item)
        return item

    def get(self, item_id: int) -> Item:
        """The item with `item_id`, or KeyError."""
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def remove(self, item_id: int) -> Item:
        """Delete the item with `item_id` and return it, or KeyError."""
        item = self.get(item_id)
        self.items.remove(item)
        return item

    def pending(self) -> list[Item]:
        """Items not done yet, soonest due first, undated last."""
        open_items = [item for item in self.items if not item.done]
        return sorted(open_items, key=lambda item: (item.due is None, item.due or date.max, item.id))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps([item.to_json() for item in self.items], indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> "TodoList":
        if not path.exists():
            return cls()
        return cls(items=[Item.from_json(data) for data in json.loads(path.read_text())])
