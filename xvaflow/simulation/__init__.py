"""simulation layer (see docs/architecture.md)."""
