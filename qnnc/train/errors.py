"""What stops an experiment: one-line messages in rustc's voice, each with an optional `help`."""
from __future__ import annotations

from ..diagnostics import UserError


class TrainError(UserError):
    """An experiment that cannot run: `message` (rustc voice, one line) and an optional `help`;
    the command's guard prints it as `qnnc: error:` with exit status 1."""

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):  # keep `help` when a worker process sends the error back
        return type(self), (self.message, self.help)


class DataError(TrainError):
    """Missing, unreadable or ill-fitting data."""
