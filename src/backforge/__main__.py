"""`python -m backforge`: the same command line as the `backforge` script."""

from backforge.cli import main

raise SystemExit(main())
