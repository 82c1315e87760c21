"""Prompts live as text files in the `prompts` package; this renders them.

Templates use `string.Template` syntax (`$name`, `$$` for a literal dollar) and rendering fails
on a missing variable, so a prompt can never go out with a hole in it.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from string import Template


@cache
def load_prompt(name: str) -> str:
    """The raw text of `prompts/<name>.md` (name may contain a folder, e.g. `critics/qa`)."""
    resource = resources.files("prompts").joinpath(*f"{name}.md".split("/"))
    return resource.read_text(encoding="utf-8")


def render_prompt(name: str, **values: object) -> str:
    """`prompts/<name>.md` with every `$variable` filled; KeyError names a missing one."""
    return Template(load_prompt(name)).substitute({k: str(v) for k, v in values.items()})


def render_text(template: str, **values: object) -> str:
    """Render a template given as text (a user's persona file), failing on a missing variable."""
    return Template(template).substitute({k: str(v) for k, v in values.items()})
