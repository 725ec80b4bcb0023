"""The shared kernel: errors, ids, clock-free helpers, paths, config, tokens, redaction."""
