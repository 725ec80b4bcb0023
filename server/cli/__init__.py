"""The command line face: `factorops` and its sub-commands."""
