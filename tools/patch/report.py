"""The text the model (and the user) reads: a short summary on success, and on refusal which file
and hunk failed, why, and the closest region found, so the next patch can be right."""

from __future__ import annotations

from tools.patch.fileview import FileView
from tools.patch.match import Miss
from tools.patch.model import Hunk
from tools.patch.result import FileOutcome, HunkOutcome

FORMAT_NAMES = {"unified": "unified diff", "search-replace": "search/replace blocks", "v4a": "*** Begin Patch"}


def _span(start: int, length: int) -> str:
    """1-based line range for a 0-based start."""
    return f"line {start + 1}" if length <= 1 else f"lines {start + 1}-{start + length}"


def miss_text(index: int, total: int, hunk: Hunk, miss: Miss, view: FileView) -> str:
    """Why hunk `index` of `total` could not be placed, and what to change."""
    searching = hunk.header.startswith("SEARCH")
    where = hunk.header if searching else f"hunk {index} of {total} ({hunk.header or '@@'})"
    looked_for = "its SEARCH text was" if searching else "its context and removed lines were"
    length = len(hunk.old)
    if miss.reason == "no-context":
        return (f"{where} has no context or removed lines, so nothing says where it goes; include two or "
                "three unchanged lines from the file above and below the change")
    if miss.reason == "ambiguous":
        places = ", ".join(f"line {s + 1}" if miss.method == "elided" else _span(s, length) for s in miss.candidates[:5])
        more = f" and {len(miss.candidates) - 5} more" if len(miss.candidates) > 5 else ""
        fits = "the lines around its elision ('...') fit" if miss.method == "elided" else "matches"
        fix = ("Add lines that differ between those places" if searching else
               "Add context lines that differ between those places, or correct the line numbers in the "
               "@@ header so they point at one of them")
        return f"{where} {fits} {len(miss.candidates)} places equally well ({miss.method}): {places}{more}. {fix}."
    text = f"{where}: {looked_for} not found in the file"
    closest = miss.closest
    if closest is None:
        return text + "; no line of the hunk occurs in the file. Read the file and copy the lines to change exactly"
    lines = [
        text + ".",
        f"  Closest region: {_span(closest.start, closest.length)} ({closest.similarity:.0%} similar). Differences:",
        *(f"    {d}" for d in closest.differences),
    ]
    first = max(1, closest.start + 1 - 3)
    last = min(len(view), closest.start + closest.length + 3)
    copy = "the SEARCH text" if searching else "the context and removed lines"
    lines.append(f"  Re-read lines {first}-{last} and copy {copy} exactly: lines to remove or replace must match "
                 "the file; a few unchanged lines may differ only when every removed line matches.")
    return "\n".join(lines)


def _hunk_summary(hunk: HunkOutcome) -> str:
    where = f"{hunk.method} at line {hunk.line}" if hunk.line is not None else str(hunk.method)
    if hunk.offset:
        where += f" ({hunk.offset:+d})"
    return where


def file_line(outcome: FileOutcome) -> str:
    """One line for one applied file: what happened and how each hunk matched."""
    name = outcome.path if outcome.new_path is None else f"{outcome.path} -> {outcome.new_path}"
    if not outcome.hunks or outcome.action in ("created", "deleted"):
        return f"{outcome.action} {name}"
    methods = ", ".join(_hunk_summary(h) for h in outcome.hunks)
    count = f"{len(outcome.hunks)} hunk{'s' if len(outcome.hunks) != 1 else ''}"
    return f"{outcome.action} {name}: {count} ({methods})"


def success_text(files: list[FileOutcome], fmt: str, dry_run: bool) -> str:
    """The summary of an applied (or, with dry_run, applicable) patch."""
    paths = {f.path for f in files} | {f.new_path for f in files if f.new_path}
    count = f"{len(paths)} file{'s' if len(paths) != 1 else ''}"
    kind = FORMAT_NAMES.get(fmt, fmt)
    head = f"Patch ({kind}) applies cleanly: {count} (dry run, nothing written)." if dry_run \
        else f"Patch ({kind}) applied: {count}."
    return "\n".join([head, *(file_line(f) for f in files)])


def refusal_text(files: list[FileOutcome], reason: str | None = None) -> str:
    """Every failure of a refused patch, and the files that would have applied."""
    failed = [f for f in files if not f.ok]
    lines = [f"Patch refused; no file was changed. {reason or ''}".rstrip()]
    if files:
        lines[0] += f" {len(failed)} of {len(files)} file edits failed; fix them and send the whole patch again."
    for outcome in files:
        if outcome.ok:
            lines.append(f"{outcome.path}: would apply cleanly (not written because another file failed).")
            continue
        if outcome.error:
            named = outcome.error.startswith(outcome.path)
            lines.append(outcome.error if named else f"{outcome.path}: {outcome.error}")
        for hunk in outcome.hunks:
            if not hunk.ok:
                lines.append(f"{outcome.path} {hunk.error}")
    return "\n".join(lines)
