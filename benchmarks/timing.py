"""Wall-clock timing shared by the benchmarks (each benchmark decides how it interleaves and aggregates rounds)."""

import time


def seconds_per_call(fn, iterations, warmup=0):
    """Mean wall-clock seconds of `fn()` over `iterations` calls, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(iterations):
        fn()
    return (time.perf_counter() - start) / iterations


def fastest_call(fn, repeats):
    """The shortest wall-clock seconds of one `fn()` call over `repeats` calls (the least disturbed one)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
