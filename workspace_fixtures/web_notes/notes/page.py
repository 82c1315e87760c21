"""The HTML of the one page: the notes, and a form that adds one."""

from __future__ import annotations

from html import escape

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Notes</title></head>
<body>
<main>
<h1>Notes</h1>
<form method="post" action="/note">
  <label for="text">Note</label>
  <input id="text" name="text" type="text">
  <button type="submit">Add</button>
</form>
<ul id="notes">
{items}
</ul>
<p id="count">{count}</p>
</main>
</body>
</html>
"""


def render(notes: list[str]) -> str:
    items = "\n".join(f"<li>{escape(note)}</li>" for note in notes)
    count = "No notes yet." if not notes else f"{len(notes)} note{'s' if len(notes) != 1 else ''}"
    return PAGE.format(items=items, count=count)
