"""Run the secretcache command: ``python -m secretcache``."""

from .cli import main

raise SystemExit(main())
