from todo.cli import main


def test_add_then_list(tmp_path, capsys):
    path = str(tmp_path / "todos.json")
    assert main(["--file", path, "add", "buy milk", "--due", "2026-12-01"]) == 0
    assert main(["--file", path, "add", "call mum"]) == 0
    capsys.readouterr()
    assert main(["--file", path, "list"]) == 0
    assert capsys.readouterr().out == "1. buy milk (due 2026-12-01)\n2. call mum\n"


def test_remove_unknown_id_fails(tmp_path, capsys):
    assert main(["--file", str(tmp_path / "todos.json"), "remove", "7"]) == 1
    assert "no todo with id 7" in capsys.readouterr().out
