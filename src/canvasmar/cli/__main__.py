"""`python -m canvasmar.cli ...`: the same as the `canvasmar` command."""

from canvasmar.cli import main

raise SystemExit(main())
