"""Replay: run the real operator against recorded incident cases.

Holds the in-memory Kubernetes API emulator (``kubetriage.replay.emulator``) that
``kubetriage diagnose``, ``kubetriage eval``, ``kubetriage demo`` and the test suite
start, load case objects into, and point the operator at.
"""
