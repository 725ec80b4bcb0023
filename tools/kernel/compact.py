"""A base model for tool results that leaves out empty fields when serialised.

Tool results are context the assistant pays for in tokens; `"decisions": []` and `"summary": null`
tell it nothing, so they are dropped from the JSON (the model still has them as attributes).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, SerializerFunctionWrapHandler, model_serializer


class CompactModel(BaseModel):
    @model_serializer(mode="wrap")
    def _drop_empty(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None and v != [] and v != {}}
        return data
