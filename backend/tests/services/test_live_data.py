"""`LiveDataService.fetch_line` end to end, over loopback HTTP and websockets to the stub upstream."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import timedelta

import pytest

from backend.catalogue import Catalogue
from backend.devtools.replay import RECORDINGS
from backend.devtools.upstream import StubUpstream
from backend.services.live_data import LiveDataService, bus_station_id
from backend.services.records import LineFetchResult, StopList
from backend.services.times import utc_now
from backend.services.topology import LineTopology
from backend.tests.services.conftest import SettingsFactory


def attempt(result: LineFetchResult, source: str) -> dict[str, object]:
    found = [a for a in result.attempts if a.source == source]
    assert found, f"no {source} attempt in {result.attempts}"
    return found[-1].__dict__


@pytest.mark.parametrize("line_id", ["metro:1", "rer:A", "tram:T3a"])
async def test_rail_line_gets_departures_positions_and_traffic(
    service: LiveDataService, catalogue: Catalogue, stub: StubUpstream, line_id: str
) -> None:
    line = catalogue.get(line_id)
    topology = LineTopology(line.id, catalogue.stations_for(line.id))
    before = utc_now()

    result = await service.fetch_line(line)

    after = utc_now()
    assert result.status == "ok", result.error
    assert result.error is None
    assert result.stations == ()

    # Departures: every station, near now, in the direction their terminus lies, ordered.
    departures = result.departures
    assert {d.station_id for d in departures} == set(topology.station_ids)
    for departure in departures:
        assert before - timedelta(seconds=60) <= departure.expected_at <= after + timedelta(hours=2)
        assert departure.expected_at.utcoffset() == timedelta(0)
        assert topology.direction_for_destination(departure.station_id, departure.destination) == departure.direction
        assert (departure.source, departure.line_id, departure.is_realtime) == ("prim", line.id, True)
    order = {station_id: index for index, station_id in enumerate(topology.station_ids)}
    keys = [(order[d.station_id], d.direction, d.expected_at) for d in departures]
    assert keys == sorted(keys)

    # The times are the upstream's: the stub's own departures for that stop and direction at that moment.
    sample = departures[len(departures) // 2]
    stub_line = stub.network.lines[line.id]
    replayed = {
        d.expected_at
        for moment in (before, after)
        for d in stub.network.departures(stub_line, sample.station_id, sample.direction, moment)
    }
    fetched = {
        d.expected_at for d in departures if (d.station_id, d.direction) == (sample.station_id, sample.direction)
    }
    assert fetched <= replayed
    assert min(fetched) <= before + timedelta(seconds=stub_headway(line.network))

    # Positions: on the line's stations, between neighbours, in the direction of travel.
    assert result.positions
    for position in result.positions:
        assert position.previous_station_id in topology.stations
        assert position.next_station_id in topology.stations
        assert position.previous_station_id is not None
        assert position.next_station_id is not None
        assert topology.direction_towards(position.previous_station_id, position.next_station_id) == position.direction
        assert any(
            (position.previous_station_id, position.next_station_id) in itertools.pairwise(sequence)
            for sequence in topology.sequences(position.direction)
        )
        assert position.progress is not None
        assert 0.0 <= position.progress <= 1.0

    assert result.traffic is not None
    assert result.traffic.level in ("normal", "disrupted", "closed")
    assert result.traffic.source == "prim"
    assert [a.source for a in result.attempts if a.ok] == ["prim", "ratp_http:stops", "vmtr", "prim:traffic"]


def stub_headway(network: str) -> int:
    from backend.devtools.replay import HEADWAY_SECONDS

    return HEADWAY_SECONDS[network]


async def test_bus_line_gets_its_stops_from_prim_navitia_in_calling_order(
    service: LiveDataService, catalogue: Catalogue, stub: StubUpstream
) -> None:
    recorded_names = [item["name"] for item in json.loads((RECORDINGS / "ratp_stop_points_bus_38.json").read_text())]

    result = await service.fetch_line(catalogue.get("bus:38"))

    assert result.status == "ok", result.error
    assert result.stations_source == "prim"
    assert [s.name for s in result.stations if s.direction == "A"] == recorded_names
    assert [s.name for s in result.stations if s.direction == "R"] == recorded_names[::-1]
    assert all(s.upstream_ref and s.upstream_ref.startswith("stop_area:IDFM:") for s in result.stations)
    assert all(s.town == "Paris" for s in result.stations)
    station_ids = {s.station_id for s in result.stations}
    assert {d.station_id for d in result.departures} <= station_ids
    assert {d.source for d in result.departures} == {"prim"}
    assert {stop.station_id for stop in result.stops} == station_ids
    assert all(stop.answered for stop in result.stops)
    assert result.traffic is not None
    assert result.traffic.source == "prim"
    requests = stub.stats()["requests"]
    assert requests["prim.navitia"] == 2  # routes, then route schedules; no stop-area look-up besides
    assert requests["prim.stop-monitoring"] == len(station_ids)


async def test_bus_line_reuses_a_kept_stop_list_until_it_is_a_day_old(
    service: LiveDataService, catalogue: Catalogue, stub: StubUpstream
) -> None:
    line = catalogue.get("bus:38")
    first = await service.fetch_line(line)
    kept = StopList(line.id, "prim", utc_now() - timedelta(hours=23), first.stations)
    stub.state.reset_stats()

    again = await service.fetch_line(line, kept)

    assert again.status == "ok", again.error
    assert again.stations == ()  # nothing new to keep
    assert "prim.navitia" not in stub.stats()["requests"]
    assert {d.station_id for d in again.departures} <= {s.station_id for s in first.stations}

    stale = StopList(line.id, "prim", utc_now() - timedelta(hours=25), first.stations)
    refreshed = await service.fetch_line(line, stale)
    assert refreshed.stations == first.stations
    assert stub.stats()["requests"]["prim.navitia"] == 2


async def test_bus_line_keeps_its_stop_list_when_navitia_fails(
    live_settings: SettingsFactory, catalogue: Catalogue, stub: StubUpstream
) -> None:
    line = catalogue.get("bus:38")
    async with LiveDataService(live_settings(source_order="prim")) as service:
        first = await service.fetch_line(line)
        stale = StopList(line.id, "prim", utc_now() - timedelta(days=3), first.stations)
        stub.set_faults("prim/navitia:server_error")

        result = await service.fetch_line(line, stale)

    assert result.status == "ok"  # every stop answered: the departures are true
    assert result.stations == ()
    assert "kept the list of" in (result.error or "")
    assert result.departures


async def test_bus_line_without_prim_key_gets_its_stops_from_ratp(
    live_settings: SettingsFactory, catalogue: Catalogue, stub: StubUpstream
) -> None:
    recorded_names = [item["name"] for item in json.loads((RECORDINGS / "ratp_stop_points_bus_38.json").read_text())]
    async with LiveDataService(live_settings(prim_api_key="")) as service:
        result = await service.fetch_line(catalogue.get("bus:38"))

    assert result.stations_source == "ratp_http"
    assert [s.name for s in result.stations if s.direction == "A"] == recorded_names
    assert {d.source for d in result.departures} == {"ratp_http"}
    assert result.status == "ok", result.error


def test_bus_stop_ids_keep_two_towns_apart(catalogue: Catalogue) -> None:
    assert bus_station_id("Nation", "Paris", catalogue) == "nation"
    assert bus_station_id("Malesherbes", "Paris", catalogue) == "malesherbes"
    assert bus_station_id("Mairie", "Montreuil", catalogue) == "mairie-montreuil"
    assert bus_station_id("Mairie", "Vincennes", catalogue) == "mairie-vincennes"
    # A stop named like a catalogue station of another town is another place.
    assert bus_station_id("Creil", "Paris", catalogue) == "creil-paris"
    assert bus_station_id("Creil", "Creil", catalogue) == "creil"


async def test_departures_come_from_ratp_when_prim_fails(
    service: LiveDataService, catalogue: Catalogue, stub: StubUpstream
) -> None:
    stub.set_faults("prim/stop-monitoring:server_error", "prim/navitia:server_error")

    result = await service.fetch_line(catalogue.get("metro:1"))

    prim = attempt(result, "prim")
    assert prim["ok"] is False
    assert "HTTP 500" in str(prim["error"])
    assert result.departures
    assert {d.source for d in result.departures} == {"ratp_http"}
    assert result.status == "ok", result.error
    assert result.traffic is not None
    assert result.traffic.source == "prim"


async def test_no_source_answering_is_a_failure_with_every_reason(
    service: LiveDataService, catalogue: Catalogue, stub: StubUpstream
) -> None:
    stub.set_faults("prim:server_error", "ratp:server_error", "vmtr:server_error")

    result = await service.fetch_line(catalogue.get("rer:B"))

    assert result.status == "failed"
    assert result.reason == "upstream_error"
    assert result.stops
    assert all(not stop.answered for stop in result.stops)
    assert result.departures == ()
    assert result.positions == ()
    assert result.error is not None
    for reason in ("departures: prim: ", "ratp_http: ", "positions: ", "traffic: ", "HTTP 500"):
        assert reason in result.error
    assert result.traffic is not None
    assert result.traffic.level == "unknown"
    assert all(not a.ok for a in result.attempts)


async def test_without_a_prim_key_prim_is_skipped_and_traffic_is_unknown(
    live_settings: SettingsFactory, catalogue: Catalogue, stub: StubUpstream
) -> None:
    async with LiveDataService(live_settings(prim_api_key="")) as service:
        result = await service.fetch_line(catalogue.get("tram:T2"))

    assert result.status == "ok", result.error
    assert {d.source for d in result.departures} == {"ratp_http"}
    assert result.traffic is not None
    assert result.traffic.level == "unknown"
    assert "PRIM_API_KEY" in (result.traffic.message or "")
    assert "prim.stop-monitoring" not in stub.stats()["requests"]


async def test_stop_answers_are_shared_between_lines_and_concurrent_fetches(
    service: LiveDataService, catalogue: Catalogue, stub: StubUpstream
) -> None:
    metro_1 = catalogue.get("metro:1")

    await asyncio.gather(service.fetch_line(metro_1), service.fetch_line(metro_1))
    await service.fetch_line(catalogue.get("rer:A"))

    # One request per stop area: a stop area both lines call at (IDFM ids differ between metro and RER stop areas
    # of one interchange, and are shared where the lines share one) is asked once.
    areas_1 = {ref.stop_area_id for ref in service.stop_refs("metro:1").values()}
    areas_a = {ref.stop_area_id for ref in service.stop_refs("rer:A").values()}
    assert stub.stats()["requests"]["prim.stop-monitoring"] == len(areas_1 | areas_a)
    assert service.prim.stop_cache_hits >= len(areas_1) + len(areas_1 & areas_a)


async def test_resolved_stop_ids_are_kept_and_handed_to_the_hook(
    live_settings: SettingsFactory, catalogue: Catalogue, stub: StubUpstream
) -> None:
    seen: dict[str, int] = {}

    def remember(line_id: str, refs: object) -> None:
        seen[line_id] = len(refs)  # type: ignore[arg-type]

    async with LiveDataService(live_settings(), on_stop_refs_resolved=remember) as service:
        await service.fetch_line(catalogue.get("metro:14"))
        refs = service.stop_refs("metro:14")
        requests_after_first = dict(stub.stats()["requests"])
        await service.fetch_line(catalogue.get("metro:14"))

    stations = set(LineTopology("metro:14", catalogue.stations_for("metro:14")).station_ids)
    assert set(refs) == stations
    assert all(ref.stop_place_ref and ref.stop_area_id for ref in refs.values())
    assert seen["metro:14"] == len(stations)
    requests = stub.stats()["requests"]
    assert requests["ratp.stop-points"] == requests_after_first["ratp.stop-points"] == 1
    # Every metro 14 station has its IDFM stop area shipped in the catalogue: no look-up by name.
    assert requests.get("prim.navitia", 0) == requests_after_first.get("prim.navitia", 0) == 0
    assert all(ref.source == "catalogue" for ref in refs.values())
