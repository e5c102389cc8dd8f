"""Process lifecycle helpers shared by the long-running services: the body of their `main()`, stop signals and
interruptible sleeps."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any

import uvloop

from backend.config import Settings, get_settings
from backend.logs import CentralizedLogging, configure_logging
from backend.vocabulary import Service

logger = logging.getLogger("backend.lifecycle")


def run_process(
    service: Service,
    main: Callable[[CentralizedLogging], Coroutine[Any, Any, int]],
    settings: Settings | None = None,
) -> int:
    """Every process's `main()`: logging set up as `service`, `main(logs)` run to its exit code on uvloop's event loop
    (as uvicorn runs the API), and the logs flushed and closed however it ends."""
    handle = configure_logging(settings or get_settings(), service)
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main(handle))
    finally:
        handle.close()


def install_stop_signals(stopping: asyncio.Event, name: str) -> None:
    """SIGTERM and SIGINT set `stopping` (a second signal is left to the default: stop now)."""
    loop = asyncio.get_running_loop()

    def _stop(signum: int) -> None:
        logger.info("%s received %s: finishing in-flight work, then stopping", name, signal.Signals(signum).name)
        stopping.set()
        loop.remove_signal_handler(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _stop, signum)


async def sleep_or_stop(stopping: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stopping` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
