"""Sessions: start, checkpoints, resume and end."""
