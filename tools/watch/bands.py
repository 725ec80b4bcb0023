"""Context bands for the watch: the classification itself is the kernel's (tools/kernel/bands.py),
so every layer can name a band; the thresholds are the watch's settings (`WatchSettings`)."""

from __future__ import annotations

from factorops.tools.kernel.bands import Band, BandName, classify

__all__ = ["Band", "BandName", "classify"]
