"""The knowledge flywheel: injection and decay, transcripts and their miners."""
