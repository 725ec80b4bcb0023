"""The metrics tool's input (Factor V): the one description of its arguments, light to import.

The MCP face registers `metrics_report` from this model at start-up (tools/list needs its schema);
`report` (the implementation, which reads every capability's queries) is imported on its first call.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

Period = Literal["day", "week", "month", "all"]


class MetricsReportInput(BaseModel):
    period: Period = "week"
