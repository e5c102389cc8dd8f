"""The stub upstream: real payload shapes for every catalogue line, faults, admin endpoints, command line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from backend.catalogue import get_catalogue
from backend.config import REPO_DIR
from backend.devtools.upstream import DEFAULT_VMTR_ORIGIN, Fault, StubUpstream
from backend.services.scrapers.prim import (
    monitoring_ref,
    parse_general_message,
    parse_navitia_stop_areas,
    parse_stop_monitoring,
    siri_line_ref,
)
from backend.services.scrapers.ratp_board import parse_board, row_time
from backend.services.scrapers.ratp_http import NETWORK_SEGMENTS, parse_stop_points, ratp_line_code
from backend.services.scrapers.vmtr import INIT_EVENT, parse_event, parse_vehicles, room_query
from backend.services.times import utc_now
from backend.services.topology import LineTopology

PRIM_HEADERS = {"apiKey": "stub-key"}


@pytest.fixture(scope="module")
def running() -> Iterator[StubUpstream]:
    with StubUpstream(hang_seconds=2.0) as stub:
        yield stub


@pytest.fixture
def stub(running: StubUpstream) -> Iterator[StubUpstream]:
    running.state.clear_faults()
    running.state.reset_stats()
    running.state.latency_ms = 0.0
    yield running
    running.state.clear_faults()
    running.state.latency_ms = 0.0


@pytest.fixture
def http(stub: StubUpstream) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stub.base_url, timeout=5.0) as client:
        yield client


def test_fault_specs_are_read_from_the_command_line_syntax() -> None:
    assert Fault.parse("prim:timeout") == Fault(source="prim", kind="timeout")
    assert Fault.parse("ratp/next-passages:malformed@rer:A*3") == Fault(
        source="ratp", kind="malformed", line="rer:A", route="next-passages", count=3
    )
    for bad in ("prim", "boat:timeout", "prim:melted", "prim/board:timeout", "prim:timeout*0"):
        with pytest.raises(ValueError, match=r"fault|unknown|count"):
            Fault.parse(bad)


def test_every_schedulable_line_is_served_in_the_shapes_the_sources_read(
    stub: StubUpstream, http: httpx.Client
) -> None:
    catalogue = get_catalogue()
    for line in catalogue.schedulable_lines():
        topology = LineTopology(line.id, catalogue.stations_for(line.id))
        segment = NETWORK_SEGMENTS[line.network]

        points = parse_stop_points(http.get(f"/horaires/api/getStopPoints/{segment}/{ratp_line_code(line)}").json())
        assert {topology.station_for_name(point.name) for point in points} == set(topology.station_ids), line.id

        navitia = http.get(
            f"/marketplace/v2/navitia/lines/line:IDFM:{line.idfm_line_id}/stop_areas", headers=PRIM_HEADERS
        )
        areas = dict(parse_navitia_stop_areas(navitia.json()))
        assert len(areas) == len(topology.station_ids)

        middle = points[len(points) // 2]
        now = utc_now()
        visits = parse_stop_monitoring(
            http.get(
                "/marketplace/stop-monitoring",
                params={"MonitoringRef": monitoring_ref(middle.stop_area_id or "")},
                headers=PRIM_HEADERS,
            ).json()
        ).visits
        own = [visit for visit in visits if visit.idfm_line_id == line.idfm_line_id]
        assert own, line.id
        assert all(now - timedelta(seconds=5) <= visit.expected_at <= now + timedelta(hours=1) for visit in own)

        board = http.get(
            f"/horaires/blocs-horaires-next-passages/{segment}/{middle.line_ref}/{middle.stop_place_ref}",
            params={"stopPlaceName": middle.name, "type": "now", "sens": "B"},
        )
        rows = [row for parsed in parse_board(board.json()) for row in parsed.rows]
        assert rows, line.id
        assert all(row_time(row, now) is not None for row in rows), line.id

        messages = http.get(
            "/marketplace/general-message",
            params={"LineRef": siri_line_ref(line.idfm_line_id or "")},
            headers=PRIM_HEADERS,
        )
        parse_general_message(messages.json(), now)
        assert messages.headers["X-Stub-Upstream"] == "replayed"


def test_bus_lines_have_a_stop_list(http: httpx.Client) -> None:
    for code in ("38", "N01", "395"):
        points = parse_stop_points(http.get(f"/horaires/api/getStopPoints/busratp/{code}").json())
        assert len(points) >= 5


async def test_vehicle_socket_speaks_engine_io_and_lists_vehicles(stub: StubUpstream) -> None:
    url = f"{stub.vmtr_socket_url}?{room_query('C01371', 'A')}"
    async with connect(url, origin=Origin(DEFAULT_VMTR_ORIGIN), ping_interval=None) as websocket:
        opened = await websocket.recv()
        assert isinstance(opened, str)
        assert opened.startswith("0")
        assert json.loads(opened[1:])["pingInterval"] == 25000
        await websocket.send("40")
        connected = await websocket.recv()
        assert isinstance(connected, str)
        assert connected.startswith("40{")
        event = parse_event(str(await websocket.recv()))

    assert event is not None
    assert event[0] == INIT_EVENT
    vehicles = parse_vehicles(event[1])
    assert vehicles
    assert all(vehicle.direction == "A" for vehicle in vehicles)


async def test_vehicle_socket_refuses_another_origin(stub: StubUpstream) -> None:
    url = f"{stub.vmtr_socket_url}?{room_query('C01371', 'A')}"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, origin=Origin("https://example.org")):
            pass
    assert refused.value.response.status_code == 403


def test_unknown_ids_get_the_upstreams_answers(http: httpx.Client) -> None:
    unknown_stop = http.get(
        "/marketplace/stop-monitoring", params={"MonitoringRef": "STIF:StopArea:SP:1:"}, headers=PRIM_HEADERS
    )
    delivery = unknown_stop.json()["Siri"]["ServiceDelivery"]["StopMonitoringDelivery"][0]
    assert "STIF:StopArea:SP:1:" in delivery["ErrorCondition"]["ErrorInformation"]["ErrorText"]
    assert http.get("/horaires/api/getStopPoints/metro/99").status_code == 404
    navitia = http.get("/marketplace/v2/navitia/lines/line:IDFM:C99999/stop_areas", headers=PRIM_HEADERS)
    assert navitia.status_code == 404


def test_prim_wants_an_api_key(http: httpx.Client) -> None:
    assert http.get("/marketplace/general-message", params={"LineRef": "STIF:Line::C01371:"}).status_code == 401


def test_faults_are_set_listed_applied_and_cleared_over_http(http: httpx.Client) -> None:
    added = http.post(
        "/__stub/faults", json={"source": "prim", "kind": "rate_limit", "line": "metro:1", "retry_after": 7, "count": 2}
    )
    assert added.status_code == 200
    assert http.get("/__stub/faults").json() == added.json()
    params = {"LineRef": "STIF:Line::C01371:"}

    limited = [http.get("/marketplace/general-message", params=params, headers=PRIM_HEADERS) for _ in range(3)]
    other_line = http.get(
        "/marketplace/general-message", params={"LineRef": "STIF:Line::C01372:"}, headers=PRIM_HEADERS
    )

    assert [response.status_code for response in limited] == [429, 429, 200]
    assert limited[0].headers["Retry-After"] == "7"
    assert other_line.status_code == 200
    assert http.get("/__stub/faults").json() == []  # used up
    stats = http.get("/__stub/stats").json()
    assert stats["requests"]["prim.general-message"] == 4
    assert stats["faults_applied"]["prim.general-message:rate_limit"] == 2

    http.post("/__stub/faults", json={"faults": [{"source": "ratp", "kind": "server_error"}], "replace": True})
    assert http.get("/horaires/api/getStopPoints/metro/1").status_code == 500
    assert http.delete("/__stub/faults").json() == []
    assert http.get("/horaires/api/getStopPoints/metro/1").status_code == 200
    assert http.post("/__stub/faults", json={"source": "prim", "kind": "melted"}).status_code == 422

    assert http.post("/__stub/stats/reset").json()["requests"] == {}


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        ("ratp:truncated", lambda r: r.status_code == 200 and r.text.startswith("[") and not r.text.endswith("]")),
        ("ratp:empty", lambda r: r.status_code == 200 and r.content == b""),
        ("ratp:malformed", lambda r: r.status_code == 200 and r.text.startswith("<html>")),
        ("ratp:forbidden", lambda r: r.status_code == 403 and "Access denied" in r.text),
        ("ratp:challenge", lambda r: r.status_code == 403 and "Just a moment..." in r.text),
        ("ratp:unknown_id", lambda r: r.status_code == 404),
    ],
)
def test_fault_kinds_change_the_answer(stub: StubUpstream, http: httpx.Client, fault: str, check: object) -> None:
    stub.set_faults(fault)

    response = http.get("/horaires/api/getStopPoints/metro/1")

    assert check(response)  # type: ignore[operator]


def test_latency_and_timeouts(stub: StubUpstream, http: httpx.Client) -> None:
    assert http.post("/__stub/latency", json={"ms": 150}).json() == {"latency_ms": 150.0}
    started = time.monotonic()
    http.get("/horaires/api/getStopPoints/metro/1")
    assert time.monotonic() - started >= 0.15

    stub.state.latency_ms = 0
    stub.set_faults("ratp:timeout")
    with pytest.raises(httpx.ReadTimeout):
        http.get("/horaires/api/getStopPoints/metro/1", timeout=0.5)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_command_line_starts_the_stub_with_faults_and_latency() -> None:
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_DIR),
        "SETTINGS_ENV_FILES": "false",
        "STUB_UPSTREAM_FAULTS": "vmtr:server_error",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "backend.devtools.upstream",
            "--port",
            str(port),
            "--latency-ms",
            "20",
            "--fault",
            "prim:server_error@metro:1",
        ],
        cwd=REPO_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                faults = httpx.get(f"{base}/__stub/faults", timeout=1).json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "stub did not start"
                time.sleep(0.1)
        assert {(fault["source"], fault["kind"], fault["line"]) for fault in faults} == {
            ("vmtr", "server_error", None),
            ("prim", "server_error", "metro:1"),
        }
        assert httpx.get(f"{base}/__stub/stats").json()["latency_ms"] == 20
        failing = httpx.get(
            f"{base}/marketplace/general-message", params={"LineRef": "STIF:Line::C01371:"}, headers=PRIM_HEADERS
        )
        assert failing.status_code == 500
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert f"PRIM_BASE_URL=http://127.0.0.1:{port}/marketplace" in output
    assert f"VMTR_SOCKET_URL=ws://127.0.0.1:{port}/socket.io/" in output
    assert "replayed data" in output


def test_in_process_stubs_take_free_ports_and_stop_cleanly() -> None:
    with StubUpstream() as first, StubUpstream() as second:
        assert first.port != second.port
        assert httpx.get(f"{first.base_url}/").status_code == 200
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{first.base_url}/", timeout=1)
