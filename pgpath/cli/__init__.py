"""The command line: parse arguments, call the core, render. Nothing else lives here.

One module per family of commands; importing them registers them on ``app``. The command
modules do not postpone annotations (no ``from __future__ import annotations``): Typer reads
every command's annotations on each run, and evaluating them from strings took 20 ms.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from typing import NoReturn

from . import policy, read  # noqa: F401  (registers the commands)
from .common import app

__all__ = ["app", "main"]


def main() -> NoReturn:
    """Console entry point."""
    # A short-lived process that builds many small objects (policy nodes, catalog rows): the
    # cyclic collector's default thresholds made it spend most of its time collecting.
    gc.set_threshold(200_000, 50, 50)
    try:
        app()  # Typer's standalone mode ends with SystemExit
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except KeyboardInterrupt:
        sys.stderr.write("pgpath: interrupted\n")
        code = 130
    _leave(code)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


def _leave(code: int) -> NoReturn:
    """Flush and end the process without tearing the interpreter down.

    Freeing every object one by one takes a tenth of a second after a diff of 10,000 scopes,
    and there is nothing left to clean up: connections are closed, threads joined, files
    written and closed before a command returns.
    """
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (`pgpath diff ... | head`)
        code = code or 1
    with contextlib.suppress(BrokenPipeError):
        sys.stderr.flush()
    os._exit(code)
