"""The pipeline's processes for a test: settings pointing them at the broker, the database and the stub upstream,
the stub started and waited for, a fleet waited for."""

from __future__ import annotations

import httpx

from backend.tests.pipeline.probe import PipelineProbe
from backend.tests.support.processes import ServiceProcess, Services, eventually, service_env
from backend.tests.support.services import KafkaBroker, free_port


def kafka_env(postgres_url: str, broker: KafkaBroker, names: dict[str, str], **extra: object) -> dict[str, str]:
    settings: dict[str, object] = {
        "database_url": postgres_url,
        "kafka_bootstrap_servers": broker.bootstrap,
        "scheduler_interval_seconds": 3600,  # one cycle at start unless a test asks for more
        **names,
    }
    return service_env(**{**settings, **extra})


async def wait_for_fleet(probe: PipelineProbe, count: int, timeout: float = 60) -> None:
    async def fleet_ready() -> bool:
        live = await probe.live_workers()
        return len(live) == count and all(w.assigned_partitions for w in live)

    await eventually(fleet_ready, timeout=timeout, message=f"{count} workers each owning partitions")


def configure(stack: Services, **settings: object) -> None:
    """Settings for the services started from now on."""
    stack.env.update({key.upper(): str(value) for key, value in settings.items()})


def stub_env(stack_port: int) -> dict[str, object]:
    """Point the live sources at the stub upstream (replayed data) on loopback."""
    base = f"http://127.0.0.1:{stack_port}"
    return {
        "prim_api_key": "stub",
        "prim_base_url": f"{base}/marketplace",
        "ratp_base_url": base,
        "vmtr_socket_url": f"ws://127.0.0.1:{stack_port}/socket.io/",
        "source_order": "prim,ratp_http",
        "playwright_seeding_enabled": "false",
    }


async def start_stub(stack: Services, *args: str, latency_ms: int | None = None) -> int:
    """Start the stub upstream (`backend/devtools/upstream.py`, with `args`) on a free port, once it answers."""
    port = free_port()
    latency = ("--latency-ms", str(latency_ms)) if latency_ms is not None else ()
    stack.start("upstream", "--port", str(port), *latency, *args)

    async def answering() -> bool:
        try:
            async with httpx.AsyncClient() as client:
                return (await client.get(f"http://127.0.0.1:{port}/__stub/stats")).status_code == 200
        except httpx.HTTPError:
            return False

    await eventually(answering, timeout=30, message="the stub upstream")
    return port


def start_workers(stack: Services, count: int, *args: str) -> list:  # type: ignore[type-arg]
    return [stack.start("worker", "--fetcher", "none", *args) for _ in range(count)]


async def live_count(probe: PipelineProbe, count: int) -> bool:
    return len(await probe.live_workers()) == count


async def running_task_owner(probe: PipelineProbe) -> str | None:
    running = [t for t in await probe.tasks() if t.status == "running"]
    return running[0].worker_id if running else None


async def slow_fleet_with_a_running_task(
    stack: Services, probe: PipelineProbe, lines: list[str], workers: int, *, kafka: bool
) -> tuple[str, ServiceProcess]:
    """Workers fetching from the stub upstream at 700 ms a request, one task each at a time; returns the id and the
    process of a worker caught in the middle of a task."""
    port = await start_stub(stack, latency_ms=700)
    configure(stack, **stub_env(port), scheduler_lines=",".join(lines), worker_concurrency=1)
    fleet = [stack.start("worker") for _ in range(workers)]
    if kafka:
        await wait_for_fleet(probe, workers)
    else:
        await eventually(lambda: live_count(probe, workers), timeout=60, message=f"{workers} live workers")
    stack.start("scheduler")
    owner_id = await eventually(lambda: running_task_owner(probe), timeout=30, message="a running task")
    pids = {row.id: row.pid for row in await probe.workers()}
    return owner_id, next(w for w in fleet if w.pid == pids[owner_id])
