"""What stops an experiment: one-line messages in rustc's voice, each with an optional `help`."""
from __future__ import annotations


class TrainError(Exception):
    """An experiment that cannot run: `message` (rustc voice, one line) and an optional `help`."""

    def __init__(self, message: str, help: str | None = None):
        super().__init__(message)
        self.message, self.help = message, help

    def __reduce__(self):  # keep `help` when a worker process sends the error back
        return type(self), (self.message, self.help)


class DataError(TrainError):
    """Missing, unreadable or ill-fitting data."""
