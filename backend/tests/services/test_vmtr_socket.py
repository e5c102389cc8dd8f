"""The vehicle socket client (python-socketio over aiohttp) against the stub's python-socketio server: what a refused
handshake's HTTP answer says still reaches the errors through the library, and so do the room's answers."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from backend.catalogue import Catalogue
from backend.devtools.upstream import Fault, StubUpstream
from backend.services.live_data import LiveDataService
from backend.services.resilience import AttemptMeter, Deadline, UpstreamError
from backend.services.scrapers.vmtr import SocketVehicle
from backend.tests.services.conftest import SettingsFactory


async def vehicles(service: LiveDataService, catalogue: Catalogue, direction: str = "A") -> list[SocketVehicle]:
    return await service.vmtr.vehicles(catalogue.get("metro:1"), direction, Deadline(8.0), AttemptMeter("vmtr"))


@contextmanager
def port_with_nobody_listening() -> Iterator[int]:
    """A loopback port held (bound, never listening) so that nothing else takes it: connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


async def refusal(service: LiveDataService, catalogue: Catalogue, direction: str = "A") -> UpstreamError:
    with pytest.raises(UpstreamError) as raised:
        await vehicles(service, catalogue, direction)
    return raised.value


async def test_both_directions_list_their_vehicles_one_handshake_each(
    service: LiveDataService, catalogue: Catalogue, stub: StubUpstream
) -> None:
    forward = await vehicles(service, catalogue, "A")
    backward = await vehicles(service, catalogue, "R")

    assert forward
    assert backward
    assert {vehicle.direction for vehicle in forward} == {"A"}
    assert {vehicle.direction for vehicle in backward} == {"R"}
    assert stub.stats()["requests"]["vmtr.socket"] == 2


@pytest.mark.parametrize(
    ("fault", "kind", "status"),
    [("forbidden", "blocked", 403), ("challenge", "blocked", 403), ("server_error", "server_error", 500)],
)
async def test_a_refused_handshake_is_told_by_its_http_status(
    service: LiveDataService, catalogue: Catalogue, stub: StubUpstream, fault: str, kind: str, status: int
) -> None:
    stub.set_faults(f"vmtr:{fault}")

    error = await refusal(service, catalogue)

    assert (error.kind, error.reason) == (kind, f"socket handshake refused with HTTP {status}")


async def test_a_rate_limited_handshake_pauses_the_socket_for_the_retry_after_it_asked(
    service: LiveDataService, catalogue: Catalogue, stub: StubUpstream
) -> None:
    stub.set_faults(Fault(source="vmtr", kind="rate_limit", retry_after=600))

    limited = await refusal(service, catalogue, "A")
    paused = await refusal(service, catalogue, "R")

    assert limited.kind == "rate_limited"
    assert limited.retry_after == 600
    assert "socket handshake refused with HTTP 429" in limited.reason
    # The pause is the 600 s asked, not the breaker's 30 s cool-down, and the second direction was not sent.
    assert service.breakers["vmtr"].snapshot().retry_in_seconds > 500
    assert paused.not_attempted
    assert stub.stats()["requests"]["vmtr.socket"] == 1


async def test_a_socket_that_cannot_be_reached_is_a_connection_error(
    live_settings: SettingsFactory, catalogue: Catalogue, stub: StubUpstream
) -> None:
    with port_with_nobody_listening() as port:
        async with LiveDataService(live_settings(vmtr_socket_url=f"ws://127.0.0.1:{port}/socket.io/")) as service:
            error = await refusal(service, catalogue)

    assert error.kind == "connection"
    assert error.reason.startswith("socket connection failed: ")


@pytest.mark.parametrize(
    ("fault", "kind", "reason"),
    [
        ("unknown_id", "not_found", "socket refused the room: Unknown room or direction"),
        ("dropped", "connection", "socket closed by the server before sending vehicles"),
        ("malformed", "bad_response", "malformed socket event: not a [name, payload] array"),
    ],
)
async def test_what_the_room_answers_after_the_handshake_is_reported(
    service: LiveDataService, catalogue: Catalogue, stub: StubUpstream, fault: str, kind: str, reason: str
) -> None:
    stub.set_faults(f"vmtr:{fault}")

    error = await refusal(service, catalogue)

    assert (error.kind, error.reason) == (kind, reason)
