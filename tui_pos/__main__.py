"""`python -m tui_pos` runs the command line."""

from tui_pos.cli import main

raise SystemExit(main())
