"""A cheap, truthful broker reachability check: one Kafka ApiVersions round trip per bootstrap server."""

from __future__ import annotations

import asyncio
import contextlib
import struct

_API_VERSIONS_KEY = 18


async def kafka_reachable(bootstrap_servers: str, timeout: float = 2.0) -> tuple[bool, str]:
    """Whether some bootstrap server answers an ApiVersions request, and a short reason."""
    reasons: list[str] = []
    for server in (s.strip() for s in bootstrap_servers.split(",") if s.strip()):
        host, _, port = server.rpartition(":")
        try:
            await asyncio.wait_for(_api_versions(host or server, int(port or 9092)), timeout)
            return True, f"{server} answered"
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError) as exc:
            reasons.append(f"{server}: {type(exc).__name__} {exc}".strip())
    return False, "; ".join(reasons) or "no bootstrap servers configured"


async def _api_versions(host: str, port: int) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        client_id = b"ratp-health"
        body = struct.pack(">hhih", _API_VERSIONS_KEY, 0, 1, len(client_id)) + client_id
        writer.write(struct.pack(">i", len(body)) + body)
        await writer.drain()
        size = struct.unpack(">i", await reader.readexactly(4))[0]
        payload = await reader.readexactly(size)
        error_code = struct.unpack(">h", payload[4:6])[0]
        if error_code != 0:
            raise ValueError(f"ApiVersions error code {error_code}")
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
