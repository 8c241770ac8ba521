"""What the benchmark scripts share: timing, running commands, byte-compiling pgpath."""

from __future__ import annotations

import compileall
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pgpath


def precompile() -> None:
    """Byte-compile pgpath as an install would (an editable install under
    PYTHONDONTWRITEBYTECODE would otherwise recompile every module on every run)."""
    compileall.compile_dir(Path(pgpath.__file__).parent, quiet=1)


def median_time(fn: Callable[[], None], runs: int, before: Callable[[], None] | None = None,
                ) -> float:
    times = []
    for _ in range(runs):
        if before:
            before()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired_medians(fn: Callable[[], None], baseline: Callable[[], None], runs: int,
                   before: Callable[[], None] | None = None) -> tuple[float, float]:
    """Medians of ``fn`` and ``baseline``, run in turns: on a noisy machine both see the
    same stretches of noise, which timing one after the other would not give them."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for f, out in ((fn, times[0]), (baseline, times[1])):
            if before:
                before()
            start = time.perf_counter()
            f()
            out.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def run_checked(args: list[str], ok: tuple[int, ...] = (0,), expect: str = "") -> str:
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode not in ok or expect not in proc.stdout:
        raise SystemExit(f"{args[:4]} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return proc.stdout
