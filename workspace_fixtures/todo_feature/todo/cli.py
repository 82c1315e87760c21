"""The command line: add, list and remove todos in a JSON file."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Optional, Sequence

from todo.store import TodoList


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="todo")
    parser.add_argument("--file", type=Path, default=Path("todos.json"))
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="add a todo")
    add.add_argument("title")
    add.add_argument("--due", type=date.fromisoformat, default=None)
    commands.add_parser("list", help="list pending todos")
    remove = commands.add_parser("remove", help="delete a todo")
    remove.add_argument("id", type=int)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    todos = TodoList.load(args.file)
    if args.command == "add":
        item = todos.add(args.title, due=args.due)
        print(f"added {item.id}: {item.title}")
    elif args.command == "list":
        for item in todos.pending():
            due = f" (due {item.due.isoformat()})" if item.due else ""
            print(f"{item.id}. {item.title}{due}")
    elif args.command == "remove":
        try:
            item = todos.remove(args.id)
        except KeyError:
            print(f"no todo with id {args.id}")
            return 1
        print(f"removed {item.id}: {item.title}")
    todos.save(args.file)
    return 0
