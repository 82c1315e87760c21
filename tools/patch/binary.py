"""Git binary patches: read a `GIT binary patch` section (base85, zlib, `literal` or `delta`),
rebuild the new file exactly, and check it against what git recorded (sizes, blob hashes).

Any doubt refuses the file, and with it the whole patch: a binary file is either exactly what
the patch's author had, or untouched.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zlib

from tools.patch.model import BinaryChange, FileEdit, PatchParseError
from tools.patch.result import FileOutcome
from tools.patch.textfile import Blob
from tools.patch.tree import EditRefused, VirtualTree

_SECTION = re.compile(r"^(literal|delta) (\d+)$")
_INDEX = re.compile(r"^index ([0-9a-f]+)\.\.([0-9a-f]+)")
BINARY_DIFFER = re.compile(r"^Binary files (.+) and (.+) differ$")


def index_hashes(line: str) -> tuple[str, str] | None:
    """The (old, new) blob hashes of a git `index` line, if it is one."""
    match = _INDEX.match(line)
    return (match.group(1), match.group(2)) if match else None


def read_section(lines: list[str], start: int) -> tuple[BinaryChange, int]:
    """The forward change of the binary patch whose first `literal`/`delta` line is at `start`,
    and the index after the whole section (a reverse part, if any, is skipped)."""
    change, i = _read_part(lines, start)
    if i < len(lines) and _SECTION.match(lines[i]):
        _, i = _read_part(lines, i)  # the reverse change: not needed to apply forward
    return change, i


def _read_part(lines: list[str], start: int) -> tuple[BinaryChange, int]:
    header = _SECTION.match(lines[start]) if start < len(lines) else None
    if header is None:
        raise PatchParseError("a `GIT binary patch` line must be followed by `literal N` or `delta N`")
    kind, size = header.group(1), int(header.group(2))
    raw = bytearray()
    i = start + 1
    while i < len(lines) and lines[i]:
        raw += _decode_line(lines[i])
        i += 1
    try:
        data = zlib.decompress(bytes(raw))
    except zlib.error:
        raise PatchParseError("a git binary patch's data is damaged (it does not inflate)") from None
    if len(data) != size:
        raise PatchParseError(f"a git binary patch declares {size} bytes but holds {len(data)}")
    return BinaryChange(kind, size, data), i + 1  # type: ignore[arg-type]


def _decode_line(line: str) -> bytes:
    """One base85 line: a length letter (A-Z: 1-26, a-z: 27-52), then the encoded bytes."""
    letter = line[0]
    if "A" <= letter <= "Z":
        length = ord(letter) - ord("A") + 1
    elif "a" <= letter <= "z":
        length = ord(letter) - ord("a") + 27
    else:
        raise PatchParseError(f"a git binary patch line starts with {letter!r}, not a length letter")
    body = line[1:].rstrip()
    if len(body) != (length + 3) // 4 * 5:
        raise PatchParseError("a git binary patch line has the wrong length (was it wrapped or trimmed?)")
    try:
        return base64.b85decode(body)[:length]
    except ValueError:
        raise PatchParseError("a git binary patch line is not base85") from None


def apply_delta(source: bytes, delta: bytes) -> bytes:
    """The target git's delta format builds from `source`; ValueError when it does not fit."""
    want_source, pos = _varint(delta, 0)
    want_target, pos = _varint(delta, pos)
    if want_source != len(source):
        raise ValueError(f"the delta is for a {want_source}-byte file, this one has {len(source)} bytes")
    out = bytearray()
    while pos < len(delta):
        cmd = delta[pos]
        pos += 1
        if cmd & 0x80:
            offset, pos = _packed(delta, pos, cmd, (0x01, 0x02, 0x04, 0x08))
            size, pos = _packed(delta, pos, cmd, (0x10, 0x20, 0x40))
            size = size or 0x10000
            if offset + size > len(source):
                raise ValueError("the delta copies past the end of the file")
            out += source[offset:offset + size]
        elif cmd:
            if pos + cmd > len(delta):
                raise ValueError("the delta ends inside an insertion")
            out += delta[pos:pos + cmd]
            pos += cmd
        else:
            raise ValueError("the delta holds a zero opcode")
    if len(out) != want_target:
        raise ValueError(f"the delta builds {len(out)} bytes, not the {want_target} it declares")
    return bytes(out)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("the delta header is cut short")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _packed(data: bytes, pos: int, cmd: int, bits: tuple[int, ...]) -> tuple[int, int]:
    value = 0
    for i, bit in enumerate(bits):
        if cmd & bit:
            if pos >= len(data):
                raise ValueError("the delta ends inside a copy")
            value |= data[pos] << (8 * i)
            pos += 1
    return value, pos


def blob_hash(data: bytes) -> str:
    """Git's object id for a blob with these bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _check_hash(rel: str, data: bytes | None, expected: str | None, which: str) -> None:
    if not expected or set(expected) == {"0"}:
        return
    actual = blob_hash(data or b"")
    if not actual.startswith(expected):
        raise EditRefused(f"{rel}: the binary patch's {which} is git object {expected}, but this gives "
                          f"{actual[:len(expected)]}; the patch was made against another version of the file")


def plan_binary(edit: FileEdit, tree: VirtualTree) -> FileOutcome:
    """Apply one binary file edit to `tree` in memory; EditRefused when anything does not check."""
    change = edit.binary
    assert change is not None
    if change.kind is None:
        raise EditRefused(f"{edit.path}: the patch says this binary file changed but carries no content "
                          "(`Binary files ... differ`); nothing can be applied from it. Make it with "
                          "`git diff --binary`, or leave the file out of the patch")
    if edit.kind == "create":
        rel = tree.fresh(edit.path)
        if tree.exists(rel):
            raise EditRefused(f"{rel}: the patch creates this file, but it already exists")
        data = _build(rel, b"", change)
        tree.entry(rel).file = Blob(data, 0o755 if edit.executable else None)
        return FileOutcome(rel, "created", True)
    rel = tree.existing(edit.path)
    entry = tree.entry(rel)
    assert entry.file is not None
    source = entry.file.render()
    if edit.kind == "delete":
        _check_hash(rel, source, change.old_hash, "old file")
        entry.file = None
        return FileOutcome(rel, "deleted", True)
    entry.file = Blob(_build(rel, source, change), entry.file.mode)
    return FileOutcome(rel, "applied", True)


def _build(rel: str, source: bytes, change: BinaryChange) -> bytes:
    """The new bytes, checked against the sizes and hashes the patch recorded."""
    _check_hash(rel, source, change.old_hash, "old file")
    if change.kind == "literal":
        data = change.data
    else:
        try:
            data = apply_delta(source, change.data)
        except ValueError as exc:
            raise EditRefused(f"{rel}: the binary delta does not fit this file: {exc}") from None
    _check_hash(rel, data, change.new_hash, "result")
    return data

