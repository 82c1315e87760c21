from datetime import date

import pytest

from todo import TodoList


def test_add_assigns_increasing_ids():
    todos = TodoList()
    assert todos.add("a").id == 1
    assert todos.add("b").id == 2


def test_add_rejects_blank_title():
    with pytest.raises(ValueError):
        TodoList().add("  ")


def test_remove_and_unknown_id():
    todos = TodoList()
    item = todos.add("a")
    assert todos.remove(item.id) is item
    with pytest.raises(KeyError):
        todos.remove(item.id)


def test_pending_orders_by_due_date_then_undated():
    todos = TodoList()
    todos.add("later", due=date(2026, 3, 1))
    todos.add("someday")
    todos.add("sooner", due=date(2026, 1, 1))
    assert [item.title for item in todos.pending()] == ["sooner", "later", "someday"]


def test_save_and_load_round_trip(tmp_path):
    path = tmp_path / "todos.json"
    todos = TodoList()
    todos.add("a", due=date(2026, 1, 2))
    todos.save(path)
    assert TodoList.load(path) == todos
