"""Developer tools: the scripts under tools/, importable as ``tools.<name>`` by the tests."""
