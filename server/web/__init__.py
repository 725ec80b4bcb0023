"""The dashboard face: pages people use to decide approvals and browse records."""
