"""Context loading: file listing, the repository index, outlines, ranking and packing."""
