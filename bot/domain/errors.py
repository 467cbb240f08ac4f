"""Errors that mean 'the member asked for something that cannot be done'. Pure Python."""

from __future__ import annotations


class UserError(Exception):
    """A mistake the member can fix: shown to them as a short ephemeral message, never logged as a failure."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
