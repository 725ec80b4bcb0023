"""The baseline: a hello-world MCP server on the same SDK, one trivial tool."""

from mcp.server.mcpserver import MCPServer

app = MCPServer("hello")


@app.tool()
def hello(name: str = "world") -> str:
    """Say hello."""
    return f"hello {name}"


if __name__ == "__main__":
    app.run()
