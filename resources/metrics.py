"""The metrics resource: last week's report as Markdown."""

from __future__ import annotations

from datetime import datetime

from factorops.store.store import Store
from factorops.tools.metrics import report as metrics


def week(store: Store, now: datetime) -> str:
    return metrics.render(metrics.report(store, metrics.MetricsReportInput(period="week"), now))
