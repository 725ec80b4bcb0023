"""`python -m factorops.server.cli`: the same command line as `factorops`."""

from .main import main

raise SystemExit(main())
