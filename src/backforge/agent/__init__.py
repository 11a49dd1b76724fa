"""Driving backforge from an AI coding agent: the MCP server (`backforge mcp`), the JSON shapes
its tools return, and the agent definitions `backforge agent install` writes.

Only `server.py` imports the MCP SDK (the optional `agent` extra); the rest is plain backforge.
"""
