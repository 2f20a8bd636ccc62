"""Run the command line with ``python -m int8gate``."""

from int8gate.cli import main

raise SystemExit(main())
