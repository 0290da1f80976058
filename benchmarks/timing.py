"""Timing helper shared by the benchmark scripts (run them as ``python benchmarks/<name>.py``)."""

import time


def best_time(fn, repeats: int) -> float:
    """Best wall-clock time of ``fn()`` over ``repeats`` calls, after one warm-up call.

    The minimum is the least disturbed by other jobs on a shared machine.
    """
    fn()  # warm-up: tracing, allocation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
