"""The sans-IO core: no sockets, no boto3, no asyncio (see DESIGN.md, Layout)."""
