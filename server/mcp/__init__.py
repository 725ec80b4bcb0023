"""The MCP face: the app, tool registration and one module per capability's tools."""
