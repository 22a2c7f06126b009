"""xva layer (see docs/architecture.md)."""
