"""RATP's vehicle socket: where each train of a line is, from the `[POSV - INIT]` event of a socket.io room.

socket.io over Engine.IO v4 on a plain websocket (`websockets` package), with the little framing it needs: the
server opens with `0{...}`, the client joins the default namespace with `40`, the server answers `40{...}`, pings
(`2`) are answered with pongs (`3`) and events arrive as `42["name", payload]`. One connection per direction
(`roomName=LIG:IDFM:<line>&directionId=DIR:IDFM:<line>:A|R`), closed as soon as the vehicle list has arrived or
the listen time is over. Stop place refs (`ART:IDFM:<n>`) become catalogue stations through the stop registry.
The tests run it against python-socketio's server (the stub upstream's), not against a second reading of the protocol.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, StrictFloat, StrictInt, StrictStr
from pydantic.alias_generators import to_camel
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidStatus, WebSocketException
from websockets.typing import Origin

from backend.catalogue import Line
from backend.services.records import VehiclePositionRecord
from backend.services.resilience import AttemptMeter, CircuitBreaker, Deadline, ErrorKind, UpstreamError
from backend.services.scrapers.cloudflare import DEFAULT_USER_AGENT
from backend.services.stop_refs import StopRefRegistry
from backend.services.times import parse_utc
from backend.services.topology import LineTopology
from backend.services.upstream_http import UpstreamHttp, pause_for_rate_limit, retry_after_seconds, validated

SOURCE = "vmtr"
INIT_EVENT = "[POSV - INIT]"
SOCKET_DIRECTIONS = ("A", "R")
MAX_FRAME_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class SocketVehicle:
    vehicle_id: str
    direction: str | None  # the socket's own letter, from vehicleActivity.directionRef
    previous_ref: str | None
    next_ref: str | None
    progress: float | None
    stop_status: str | None
    recorded_at: datetime | None


def room_query(idfm_line_id: str, direction: str) -> str:
    return urlencode(
        {
            "roomName": f"LIG:IDFM:{idfm_line_id}",
            "directionId": f"DIR:IDFM:{idfm_line_id}:{direction}",
            "EIO": "4",
            "transport": "websocket",
        }
    )


def parse_event(frame: str) -> tuple[str, Any] | None:
    """`42["name", payload]` as (name, payload); None for anything that is not an event frame."""
    if not frame.startswith("42"):
        return None
    body = frame[2:]
    # An event may carry an ack id between the type and the JSON array ("42" + "17" + "[...]").
    body = body.lstrip("0123456789")
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        raise UpstreamError("bad_response", f"malformed socket event ({len(frame)} bytes, cut or not JSON)") from None
    if not isinstance(data, list) or not data or not isinstance(data[0], str):
        raise UpstreamError("bad_response", "malformed socket event: not a [name, payload] array")
    payload = data[1] if len(data) > 1 else None
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except json.JSONDecodeError:
            raise UpstreamError("bad_response", "malformed socket event payload (not JSON)") from None
    return data[0], payload


class _Payload(BaseModel):
    """The socket's camelCase fields (`vehicleId`), read into snake_case attributes."""

    model_config = ConfigDict(extra="ignore", frozen=True, alias_generator=to_camel)


class _VehicleActivity(_Payload):
    direction_ref: StrictStr | None = None


class _VehiclePosition(_Payload):
    previous_stop_place_ref: StrictStr | None = None
    next_stop_place_ref: StrictStr | None = None
    progress_between_stops_percentage: StrictFloat | StrictInt | None = None
    vehicle_stop_status: StrictStr | None = None


class _Vehicle(_Payload):
    vehicle_id: StrictStr | StrictInt | None = None
    recorded_at_time: StrictStr | None = None
    vehicle_activity: _VehicleActivity | None = None
    position: _VehiclePosition | None = None


class VehicleList(_Payload):
    """A `[POSV - INIT]` payload: `{"vehicles": [...]}` (or the bare array)."""

    vehicles: list[_Vehicle]


def parse_vehicles(payload: Any) -> list[SocketVehicle]:
    """The vehicles of a `[POSV - INIT]` payload (those without an id are left out)."""
    answer = validated(
        VehicleList,
        {"vehicles": payload} if isinstance(payload, list) else payload,
        "vehicle list",
        expected='{"vehicles": [...]}',
    )
    vehicles = []
    for entry in answer.vehicles:
        if not entry.vehicle_id:
            continue
        position = entry.position or _VehiclePosition()
        direction_ref = entry.vehicle_activity.direction_ref if entry.vehicle_activity is not None else None
        percentage = position.progress_between_stops_percentage
        vehicles.append(
            SocketVehicle(
                vehicle_id=str(entry.vehicle_id),
                direction=direction_ref.rsplit(":", 1)[-1] if direction_ref is not None else None,
                previous_ref=_text(position.previous_stop_place_ref),
                next_ref=_text(position.next_stop_place_ref),
                progress=None if percentage is None else round(max(0.0, min(float(percentage) / 100.0, 1.0)), 4),
                stop_status=_text(position.vehicle_stop_status),
                recorded_at=parse_utc(entry.recorded_at_time),
            )
        )
    return vehicles


def _text(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def vehicles_to_positions(
    vehicles: list[SocketVehicle],
    *,
    line: Line,
    asked_direction: str,
    topology: LineTopology,
    registry: StopRefRegistry,
    received_at: datetime,
) -> tuple[list[VehiclePositionRecord], int]:
    """Positions on catalogue stations, and how many stop refs could not be placed on one."""
    records = []
    unplaced = 0
    for vehicle in vehicles:
        previous = registry.station_for_place(line.id, vehicle.previous_ref) if vehicle.previous_ref else None
        following = registry.station_for_place(line.id, vehicle.next_ref) if vehicle.next_ref else None
        unplaced += (vehicle.previous_ref is not None and previous is None) + (
            vehicle.next_ref is not None and following is None
        )
        # Our directions follow the catalogue's route order, which need not be the socket's letters.
        direction = topology.direction_towards(previous, following) if previous and following else None
        if direction is None:
            direction = vehicle.direction if vehicle.direction in ("A", "R") else asked_direction
        records.append(
            VehiclePositionRecord(
                line_id=line.id,
                vehicle_id=vehicle.vehicle_id,
                direction=direction,
                previous_station_id=previous,
                next_station_id=following,
                progress=vehicle.progress,
                stop_status=vehicle.stop_status,
                recorded_at=vehicle.recorded_at or received_at,
                source=SOURCE,
            )
        )
    return records, unplaced


class VmtrSource:
    def __init__(
        self,
        *,
        socket_url: str,
        origin: str,
        breaker: CircuitBreaker,
        semaphore: asyncio.Semaphore,
        connect_timeout: float,
        listen_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.socket_url = socket_url
        self.origin = origin
        self.breaker = breaker
        self._semaphore = semaphore
        self.connect_timeout = connect_timeout
        self.listen_seconds = listen_seconds
        self._clock = clock

    async def vehicles(
        self, line: Line, direction: str, deadline: Deadline, meter: AttemptMeter
    ) -> list[SocketVehicle]:
        """The vehicles the socket lists for one direction of the line; raises `UpstreamError`."""
        if not line.idfm_line_id:
            raise UpstreamError("not_configured", f"{line.id} has no IDFM line id, which the vehicle socket needs")
        separator = "&" if "?" in self.socket_url else "?"
        url = f"{self.socket_url}{separator}{room_query(line.idfm_line_id, direction)}"
        self.breaker.before_request()
        started = self._clock()
        try:
            async with self._semaphore:
                budget = deadline.cap(self.connect_timeout + self.listen_seconds)
                meter.requests += 1
                async with asyncio.timeout(budget):
                    vehicles = await self._session(url, deadline)
        except TimeoutError:
            error = UpstreamError(
                "timeout", f"no {INIT_EVENT} within {self._clock() - started:.1f} s for direction {direction}"
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status == 429:
                wait = retry_after_seconds(exc.response.headers.get("Retry-After"))
                raise pause_for_rate_limit(
                    self.breaker, wait, "socket handshake refused with HTTP 429 (rate limited)"
                ) from None
            kind: ErrorKind = "blocked" if status in (401, 403) else "server_error" if status >= 500 else "not_found"
            error = UpstreamError(kind, f"socket handshake refused with HTTP {status}")
        except (InvalidHandshake, WebSocketException, OSError) as exc:
            error = UpstreamError("connection", f"socket connection failed: {str(exc) or type(exc).__name__}")
        except UpstreamError as exc:
            error = exc
        except BaseException:
            self.breaker.release()
            raise
        else:
            self.breaker.record_success()
            return vehicles
        UpstreamHttp.settle(self.breaker, error)
        raise error

    async def _session(self, url: str, deadline: Deadline) -> list[SocketVehicle]:
        async with connect(
            url,
            origin=Origin(self.origin),
            additional_headers={"Cache-Control": "no-cache", "Pragma": "no-cache"},
            user_agent_header=DEFAULT_USER_AGENT,
            open_timeout=deadline.cap(self.connect_timeout),
            ping_interval=None,  # Engine.IO runs its own ping/pong in-band
            compression=None,
            max_size=MAX_FRAME_BYTES,
        ) as socket:
            opened = False
            async for message in socket:
                frame = message if isinstance(message, str) else message.decode("utf-8", "replace")
                if frame == "2":
                    await socket.send("3")
                elif frame.startswith("0") and not opened:
                    opened = True
                    await socket.send("40")
                elif frame.startswith("44"):
                    raise UpstreamError("not_found", f"socket refused the room: {frame[2:][:160]}")
                elif frame.startswith("1") or frame.startswith("41"):
                    raise UpstreamError("connection", "socket closed by the server before sending vehicles")
                elif frame.startswith("42"):
                    event = parse_event(frame)
                    if event is not None and event[0] == INIT_EVENT:
                        return parse_vehicles(event[1])
            raise UpstreamError("connection", "socket closed before sending vehicles")
