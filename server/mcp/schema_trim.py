"""Make tool schemas cheaper: every assistant pays for `tools/list` in tokens on every session.

pydantic emits a `title` for every model and field and spells an optional field as
`anyOf: [X, {type: null}]`. Neither helps a model call the tool, so we drop titles and fold
optional unions into X (leaving it out of `required` already says it is optional). Per-item
string bounds are dropped too; the server validates with the full model either way.
"""

from __future__ import annotations

from typing import Any

_ITEM_NOISE = ("minLength", "maxLength")


def trim(schema: Any, in_properties: bool = False) -> Any:
    if isinstance(schema, list):
        return [trim(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if in_properties:  # keys are field names, values are schemas
        return {name: trim(sub) for name, sub in schema.items()}
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "default" and value is None:
            continue
        if key == "items" and isinstance(value, dict):
            # Per-item string bounds repeat on every list; the server still enforces them.
            out[key] = trim({k: v for k, v in value.items() if k not in _ITEM_NOISE})
        elif key in ("properties", "$defs", "definitions"):
            out[key] = trim(value, in_properties=True)
        else:
            out[key] = trim(value)
    any_of = out.get("anyOf")
    if isinstance(any_of, list) and len(any_of) == 2 and {"type": "null"} in any_of:
        other = next(s for s in any_of if s != {"type": "null"})
        del out["anyOf"]
        out = {**other, **out}
    return out
