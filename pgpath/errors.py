"""Exit codes and the one error type meant for the user."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    DIFFERENCES = 2  # diff / audit found something
    UNSAFE = 3  # refused as unsafe


class PgpathError(Exception):
    """An error the user can act on: printed as one line, never with a traceback."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message
