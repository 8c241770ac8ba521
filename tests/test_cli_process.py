"""The console entry point as a real process: exit codes and complete output, no database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def pgpath(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pgpath", *args], capture_output=True,
                          text=True, timeout=60)


def test_exit_codes_and_output_survive_the_quick_exit(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("version: 1\nroles:\n" + "".join(f"  r{i}: [app]\n" for i in range(3000)))
    bad.write_text("version: 1\nroles:\n  app: [ok, '']\n")
    ok = pgpath("validate", str(good))
    assert ok.returncode == 0 and ok.stderr == ""
    failed = pgpath("validate", str(bad))
    assert failed.returncode == 1
    assert failed.stderr.splitlines() == [f"pgpath: error: {bad}:3:13: role app: empty schema "
                                          "name (use [] for the empty path)"]
    schema = pgpath("schema")  # a long document, all of it written before the process ends
    assert schema.returncode == 0 and json.loads(schema.stdout)["title"]
    assert pgpath("no-such-command").returncode == 2  # usage errors keep click's code


def test_a_reader_that_goes_away_gets_no_error_message() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "pgpath", "schema"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # as `| head` would
    assert proc.wait(timeout=60) == 1
    assert proc.stderr.read() == b""
