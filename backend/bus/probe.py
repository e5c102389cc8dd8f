"""A cheap, truthful broker reachability check: one Kafka ApiVersions round trip per bootstrap server.

The request goes through aiokafka's own connection and protocol classes (no client, no metadata, no group).
"""

from __future__ import annotations

import asyncio

from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError
from aiokafka.protocol.admin import ApiVersionRequest


async def kafka_reachable(bootstrap_servers: str, timeout: float = 2.0) -> tuple[bool, str]:
    """Whether some bootstrap server answers an ApiVersions request, and a short reason."""
    reasons: list[str] = []
    for server in (s.strip() for s in bootstrap_servers.split(",") if s.strip()):
        host, _, port = server.rpartition(":")
        try:
            await asyncio.wait_for(_api_versions(host or server, int(port or 9092), timeout), timeout)
            return True, f"{server} answered"
        except (OSError, TimeoutError, ValueError, KafkaError) as exc:
            reasons.append(f"{server}: {type(exc).__name__} {exc}".strip())
    return False, "; ".join(reasons) or "no bootstrap servers configured"


async def _api_versions(host: str, port: int, timeout: float) -> None:
    connection = await create_conn(host, port, client_id="ratp-health", request_timeout_ms=int(timeout * 1000))
    try:
        response = await connection.send(ApiVersionRequest())
        if response.error_code != 0:
            raise ValueError(f"ApiVersions error code {response.error_code}")
    finally:
        connection.close()
