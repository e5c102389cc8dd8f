"""RATP's vehicle socket: where each train of a line is, from the `[POSV - INIT]` event of a socket.io room.

python-socketio's asyncio client speaks socket.io and Engine.IO v4 over aiohttp's websocket (no polling): one
connection per direction (`roomName=LIG:IDFM:<line>&directionId=DIR:IDFM:<line>:A|R`) joins the default namespace,
answers the server's pings and is closed as soon as the vehicle list has arrived or the listen time is over. Two
things the library does not say are kept here:
- the HTTP answer to a refused handshake, which Engine.IO reduces to "Connection error": aiohttp's request tracing
  keeps the upgrade's status and headers (`_Handshake`), so a 403, a 429 and its Retry-After, a 5xx are told apart;
- an event frame that is cut, not JSON or not a `[name, payload]` array, which the library would fail on inside its
  reader task, unseen: `SocketPacket` hands it on as a `bad_response`.
Stop place refs (`ART:IDFM:<n>`) become catalogue stations through the stop registry. The tests run the client
against the stub upstream's python-socketio server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
import socketio
from pydantic import BaseModel, ConfigDict, StrictFloat, StrictInt, StrictStr
from pydantic.alias_generators import to_camel

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
# The name `SocketPacket` gives a frame it could not read; its one argument is the `bad_response`.
MALFORMED_EVENT = "vmtr: malformed frame"
# How long our close waits for the server's; past it aiohttp drops the connection.
CLOSE_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class SocketVehicle:
    vehicle_id: str
    direction: str | None  # the socket's own letter, from vehicleActivity.directionRef
    previous_ref: str | None
    next_ref: str | None
    progress: float | None
    stop_status: str | None
    recorded_at: datetime | None


def room_params(idfm_line_id: str, direction: str) -> dict[str, str]:
    """The query parameters that name one direction's room."""
    return {"roomName": f"LIG:IDFM:{idfm_line_id}", "directionId": f"DIR:IDFM:{idfm_line_id}:{direction}"}


def room_query(idfm_line_id: str, direction: str) -> str:
    """The whole handshake query of a room's websocket: the room, then the Engine.IO parameters (which python-socketio
    adds itself; a client speaking Engine.IO by hand, as the stub's protocol tests do, sends them all)."""
    return urlencode({**room_params(idfm_line_id, direction), "EIO": "4", "transport": "websocket"})


def parse_event(frame: str) -> tuple[str, Any] | None:
    """An Engine.IO message as it comes off the socket (`42["name", payload]`), read as the client reads it
    (`SocketPacket`): (name, payload); None for anything that is not an event frame."""
    if not frame.startswith("42"):
        return None
    name, payload = SocketPacket(encoded_packet=frame[1:]).data
    if name == MALFORMED_EVENT and isinstance(payload, UpstreamError):
        raise payload
    return name, payload


def _event(data: Any) -> tuple[str, Any]:
    """A decoded event's `[name, payload]`, its payload read from JSON when the socket sent it as a string."""
    if not isinstance(data, list) or not data or not isinstance(data[0], str):
        raise UpstreamError("bad_response", "malformed socket event: not a [name, payload] array")
    payload = data[1] if len(data) > 1 else None
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except json.JSONDecodeError:
            raise UpstreamError("bad_response", "malformed socket event payload (not JSON)") from None
    return data[0], payload


class SocketPacket(socketio.packet.Packet):  # type: ignore[misc]  # python-socketio has no type hints
    """python-socketio's packet, its events checked as they are read. A frame that cannot be read becomes a
    `MALFORMED_EVENT` carrying its `bad_response`: raised here, the error would end the library's reader task
    unseen, and the fetch would wait out its listen time instead of saying what came."""

    packet_type: int
    data: Any

    def decode(self, encoded_packet: str | bytes) -> int:
        try:
            attachments: int = super().decode(encoded_packet)
            if self.packet_type == socketio.packet.EVENT:
                self.data = list(_event(self.data))
            return attachments
        except ValueError:  # cut, or not JSON
            error = UpstreamError(
                "bad_response", f"malformed socket event ({len(encoded_packet)} bytes, cut or not JSON)"
            )
        except UpstreamError as exc:
            error = exc
        self.packet_type, self.namespace, self.id = socketio.packet.EVENT, None, None
        self.data = [MALFORMED_EVENT, error]
        return 0


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


class _Handshake:
    """The HTTP answer to one websocket upgrade: Engine.IO turns a refused handshake into a bare "Connection error",
    and only the status (and a 429's Retry-After) says what it was. Filled in by aiohttp's request tracing
    (`_tracing`) for the connection being opened in this context (`_opening`)."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.headers: Mapping[str, str] = {}
        self.failure: BaseException | None = None

    def refusal(self, refused: Exception) -> UpstreamError:
        """Why the connection was not made; a 429 is the caller's (it pauses the source)."""
        status = self.status
        if status is None or status == 101:
            cause = self.failure or refused
            return UpstreamError("connection", f"socket connection failed: {str(cause) or type(cause).__name__}")
        kind: ErrorKind = "blocked" if status in (401, 403) else "server_error" if status >= 500 else "not_found"
        return UpstreamError(kind, f"socket handshake refused with HTTP {status}")


# The handshake of the connection this task is opening: the source's one aiohttp session serves every connection,
# and the upgrade request is traced in the task that asked for it.
_opening: ContextVar[_Handshake | None] = ContextVar("vmtr_handshake", default=None)


async def _answered(
    _session: aiohttp.ClientSession, _context: SimpleNamespace, params: aiohttp.TraceRequestEndParams
) -> None:
    if (handshake := _opening.get()) is not None:
        handshake.status, handshake.headers = params.response.status, params.response.headers


async def _failed(
    _session: aiohttp.ClientSession, _context: SimpleNamespace, params: aiohttp.TraceRequestExceptionParams
) -> None:
    if (handshake := _opening.get()) is not None:
        handshake.failure = params.exception


def _tracing() -> aiohttp.TraceConfig:
    tracing = aiohttp.TraceConfig()
    tracing.on_request_end.append(_answered)
    tracing.on_request_exception.append(_failed)
    return tracing


class _Room:
    """What one connection brings to the default namespace: the vehicle list, or the error that ends the wait."""

    def __init__(self, client: Any) -> None:
        self._settled = asyncio.Event()
        self._outcome: list[SocketVehicle] | UpstreamError = []
        client.on(INIT_EVENT, self._vehicles)
        client.on(MALFORMED_EVENT, self._settle)
        client.on("connect_error", self._refused)

    def follow(self, client: Any) -> None:
        """Ends the wait when the connection ends (a `41`, an Engine.IO close, a dropped transport). Engine.IO hands
        each message to a task of its own, started before the end is seen: those run first, so a vehicle list sent
        just before the close is still read."""
        self._ended = asyncio.ensure_future(client.eio.wait())
        self._ended.add_done_callback(
            lambda _: self._settle(UpstreamError("connection", "socket closed by the server before sending vehicles"))
        )

    async def vehicles(self) -> list[SocketVehicle]:
        await self._settled.wait()
        if isinstance(self._outcome, UpstreamError):
            raise self._outcome
        return self._outcome

    def _vehicles(self, payload: Any = None) -> None:
        try:
            self._settle(parse_vehicles(payload))
        except UpstreamError as error:
            self._settle(error)

    def _refused(self, data: Any = None) -> None:
        message = data.get("message", data) if isinstance(data, dict) else data
        self._settle(UpstreamError("not_found", f"socket refused the room: {str(message)[:160]}"))

    def _settle(self, outcome: list[SocketVehicle] | UpstreamError) -> None:
        if not self._settled.is_set():
            self._outcome = outcome
            self._settled.set()


def _library_logger(name: str) -> logging.Logger:
    """The library's logger at ERROR unless configured otherwise: the library's own default, without the stderr
    handler it would add to it. The fetch reports what went wrong itself, and Engine.IO warns at every close the
    client makes ("Server sent close packet")."""
    logger = logging.getLogger(name)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.ERROR)
    return logger


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
        self._http: aiohttp.ClientSession | None = None  # opened by the first connection, in the fetches' loop

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def vehicles(
        self, line: Line, direction: str, deadline: Deadline, meter: AttemptMeter
    ) -> list[SocketVehicle]:
        """The vehicles the socket lists for one direction of the line; raises `UpstreamError`."""
        if not line.idfm_line_id:
            raise UpstreamError("not_configured", f"{line.id} has no IDFM line id, which the vehicle socket needs")
        room = room_params(line.idfm_line_id, direction)
        handshake = _Handshake()
        self.breaker.before_request()
        started = self._clock()
        opening = _opening.set(handshake)
        try:
            async with self._semaphore:
                budget = deadline.cap(self.connect_timeout + self.listen_seconds)
                meter.requests += 1
                async with asyncio.timeout(budget):
                    vehicles = await self._session(room, deadline)
        except TimeoutError:
            error = UpstreamError(
                "timeout", f"no {INIT_EVENT} within {self._clock() - started:.1f} s for direction {direction}"
            )
        except socketio.exceptions.ConnectionError as exc:
            if handshake.status == 429:
                wait = retry_after_seconds(handshake.headers.get("Retry-After"))
                raise pause_for_rate_limit(
                    self.breaker, wait, "socket handshake refused with HTTP 429 (rate limited)"
                ) from None
            error = handshake.refusal(exc)
        except (aiohttp.ClientError, OSError) as exc:
            error = UpstreamError("connection", f"socket connection failed: {str(exc) or type(exc).__name__}")
        except UpstreamError as exc:
            error = exc
        except BaseException:
            self.breaker.release()
            raise
        else:
            self.breaker.record_success()
            return vehicles
        finally:
            _opening.reset(opening)
        UpstreamHttp.settle(self.breaker, error)
        raise error

    async def _session(self, room: Mapping[str, str], deadline: Deadline) -> list[SocketVehicle]:
        scheme, netloc, path, query, _ = urlsplit(self.socket_url)
        url = urlunsplit((scheme, netloc, "", "&".join(filter(None, (query, urlencode(room)))), ""))
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(trace_configs=[_tracing()])
        client = socketio.AsyncClient(
            reconnection=False,
            handle_sigint=False,  # the process's own signal handling stays as it is
            serializer=SocketPacket,
            http_session=self._http,
            timestamp_requests=False,
            websocket_extra_options={
                "max_msg_size": MAX_FRAME_BYTES,
                "timeout": aiohttp.ClientWSTimeout(ws_close=CLOSE_TIMEOUT_SECONDS),
            },
            logger=_library_logger("socketio.client"),
            engineio_logger=_library_logger("engineio.client"),
        )
        listening = _Room(client)
        try:
            async with asyncio.timeout(deadline.cap(self.connect_timeout)):
                await client.connect(
                    url,
                    headers={
                        "Origin": self.origin,
                        "User-Agent": DEFAULT_USER_AGENT,
                        "Cache-Control": "no-cache",
                        "Pragma": "no-cache",
                    },
                    transports=["websocket"],
                    socketio_path=path,
                    wait=False,  # the room's acknowledgement (or refusal) comes within the listen time
                )
            listening.follow(client)
            return await listening.vehicles()
        finally:
            await client.disconnect()
