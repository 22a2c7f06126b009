"""exposure layer (see docs/architecture.md)."""
