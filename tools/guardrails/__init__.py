"""Guardrails: rule matching, the check, and the starter rules."""
