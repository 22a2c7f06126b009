"""optimise layer (see docs/architecture.md)."""
