"""market layer (see docs/architecture.md)."""
