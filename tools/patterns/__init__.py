"""Patterns: records, Markdown files, search, mining, bundles and .agents interop."""
