"""factorops: 12-Factor AgentOps for AI coding assistants, served over MCP.

The import root. The real code lives in the sub-packages `factorops.server`, `factorops.tools`,
`factorops.resources` and `factorops.store`, kept in top-level folders of the repository.
"""

__version__ = "0.1.0"
