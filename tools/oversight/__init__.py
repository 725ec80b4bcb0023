"""Human oversight and validation: approvals, gates, routing."""
