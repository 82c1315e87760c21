"""A tiny todo list kept in a JSON file."""

from todo.store import Item, TodoList

__all__ = ["Item", "TodoList"]
