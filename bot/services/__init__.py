"""Use cases that need the store and the outside world, talking to Discord through small protocols (no discord)."""
