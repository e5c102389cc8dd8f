"""How fast this machine runs plain Python right now, printed by the benchmarks beside their figures: the same code
drains a cycle in very different times on a shared machine's quiet and busy days, and only its ratios to a peer run
side by side travel from one day to another."""

from __future__ import annotations

import time

LOOP = 10_000_000


def python_loop_seconds(tries: int = 3) -> float:
    """The best of `tries` timings (CPU seconds) of a loop of ten million additions."""
    best = float("inf")
    for _ in range(tries):
        started = time.process_time()
        total = 0
        for number in range(LOOP):
            total += number
        best = min(best, time.process_time() - started)
    return best


def machine_speed() -> str:
    return f"a loop of ten million Python additions takes {python_loop_seconds():.2f} CPU s (best of 3)"
