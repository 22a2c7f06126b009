"""products layer (see docs/architecture.md)."""
