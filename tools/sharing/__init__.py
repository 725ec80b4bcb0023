"""Sharing the ledger with a team: sync through a git remote."""
