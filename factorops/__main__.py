"""Allow `python -m factorops` as a synonym for the `factorops` console script."""

from factorops.server.cli.main import main

raise SystemExit(main())
