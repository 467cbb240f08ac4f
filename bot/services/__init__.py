"""Use cases that need the store and the outside world; they talk to Discord through small sender interfaces."""
