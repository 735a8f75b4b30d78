"""The code that does I/O: sources a cache reads secrets through (see DESIGN.md, Layout)."""
