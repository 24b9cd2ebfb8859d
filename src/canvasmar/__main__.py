"""`python -m canvasmar ...`: the same as the `canvasmar` command."""

from canvasmar.cli import main

raise SystemExit(main())
