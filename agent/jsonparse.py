"""Tolerant extraction of a JSON object from a model's answer."""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n(.*?)```", re.DOTALL)


def extract_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in `text`: bare, inside a ```json fence, or embedded in prose.

    Raises ValueError with a short reason when there is none.
    """
    stripped = text.strip()
    candidates = [stripped, *(m.group(1).strip() for m in _FENCE.finditer(text))]
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    if not stripped:
        raise ValueError("the answer was empty")
    raise ValueError("no JSON object found in the answer")


def parse_answer(text: str, model: type[M]) -> M:
    """The JSON object in a model's answer, validated as `model`; ValueError naming the first problem."""
    data = extract_json_object(text)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "answer"
        raise ValueError(f"{where}: {first['msg']}") from None


def strict_json_format(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The `response_format` asking the server to answer JSON valid for `schema` (strict mode)."""
    return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": schema}}
