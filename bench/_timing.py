"""What the benchmark scripts share: the median wall time of a call (run as
`python bench/<script>.py`, which puts this folder on sys.path)."""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable


def median_ms(fn: Callable[[], Any], repeats: int) -> float:
    """Milliseconds of fn(), the median of `repeats` timed calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)
