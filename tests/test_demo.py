"""`pgpath demo` runs end to end on its own throwaway cluster."""

from __future__ import annotations

import pytest

from pgpath.demo import run_demo
from tests.conftest import Server

pytestmark = pytest.mark.pg


def test_demo_walks_through_every_step(server: Server) -> None:
    lines: list[str] = []
    bindir = server.cluster.bindir if server.cluster else None
    assert run_demo(bindir, echo=lines.append) == 0
    text = "\n".join(lines)
    for command in ("$ pgpath show", "$ pgpath settings", "$ pgpath diff", "$ pgpath apply",
                    "$ pgpath resolve app -D prime", "$ pgpath rollback"):
        assert command in text
    assert 'search_path  "alpha, prime"' in text  # the one-literal mistake, before
    assert "verified: nothing differs" in text
    # The last settings listing equals the first: the rollback restored everything.
    settings = [i for i, line in enumerate(lines) if line.startswith("== ") and "settings" in line]
    assert len(settings) == 2 and lines[settings[0] + 1] == lines[settings[1] + 1]
    assert text.rstrip().endswith("Cluster stopped and removed.")
