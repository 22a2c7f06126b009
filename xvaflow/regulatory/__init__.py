"""regulatory layer (see docs/architecture.md)."""
