"""`pgpath demo` runs end to end on its own throwaway cluster."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from pgpath.cli import app
from tests.conftest import Server

pytestmark = pytest.mark.pg


def test_demo_walks_through_every_step(server: Server) -> None:
    args = ["demo"]
    if server.cluster:
        args += ["--bindir", str(server.cluster.bindir)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stdout + result.stderr
    text = result.stdout
    for command in ("$ pgpath show", "$ pgpath settings", "$ pgpath diff", "$ pgpath apply",
                    "$ pgpath resolve app -D prime", "$ pgpath rollback"):
        assert command in text
    assert 'search_path  "alpha, prime"' in text  # the one-literal mistake, before
    assert "verified: nothing differs" in text
    # The last settings listing equals the first: the rollback restored everything.
    sections = text.split("\n== ")
    settings = [s.split("\n", 2)[2].split("\nCluster stopped")[0].strip() for s in sections
                if s.split("\n", 1)[0].endswith(
        ("settings: every stored search_path", "settings again: the original state"))]
    assert len(settings) == 2 and settings[0] == settings[1]
    assert text.rstrip().endswith("Cluster stopped and removed.")
