"""JSON answers: a strict schema derived from a pydantic model, and tolerant extraction of the object."""

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


# Left out of strict schemas: annotations, and bounds not every strict-mode server accepts (the
# model validates them when the answer is parsed, and a repair request names the one broken).
_NOT_STRICT = frozenset({"$defs", "default", "description", "minLength", "maxLength", "minItems", "maxItems",
                         "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "pattern"})


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """`model`'s JSON schema in the strict form structured outputs require: references inlined,
    every property required, no other properties, no titles or defaults (nullable stays `anyOf`)."""
    schema = model.model_json_schema()
    return _strict_node(schema, schema.get("$defs", {}))


def _strict_node(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_strict_node(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _strict_node(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    out = {key: _strict_node(value, defs) for key, value in node.items()
           if key not in _NOT_STRICT and not (key == "title" and isinstance(value, str))}
    if out.get("type") == "object" and "properties" in out:
        out["properties"] = {name: _strict_node(sub, defs) for name, sub in node["properties"].items()}
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out
