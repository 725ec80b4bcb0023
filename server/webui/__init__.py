"""The local web page for people: approvals queue, patterns, sessions and metrics."""
