"""Entry point for `python -m enginebench`."""

from enginebench.cli import main

raise SystemExit(main())
