"""Metrics: events, roll-ups and reports."""
