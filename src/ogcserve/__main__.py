"""`python -m ogcserve` runs the command line."""

from ogcserve.cli import main

raise SystemExit(main())
