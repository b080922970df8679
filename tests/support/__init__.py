"""Test helpers shared by unit, integration and benchmark code (not shipped)."""
