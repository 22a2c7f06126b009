"""pricing layer (see docs/architecture.md)."""
