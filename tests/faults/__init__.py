"""Fault-injection suite: the real operator under injected faults (see docs/faults.md)."""
