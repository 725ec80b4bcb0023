"""The hooks face: client hook events (stdin JSON) in, the client's own answer format out."""
