"""The command line: parse arguments, call the core, render. Nothing else lives here.

One module per family of commands; importing them registers them on ``app``.
"""

from __future__ import annotations

import gc
import sys

from . import policy, read  # noqa: F401  (registers the commands)
from .common import app

__all__ = ["app", "main"]


def main() -> None:
    """Console entry point."""
    # A short-lived process that builds many small objects (policy nodes, catalog rows): the
    # cyclic collector's default thresholds made it spend most of its time collecting.
    gc.set_threshold(200_000, 50, 50)
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("pgpath: interrupted\n")
        sys.exit(130)
