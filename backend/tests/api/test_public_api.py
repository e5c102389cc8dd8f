"""The public API answers the shapes of docs/API_CONTRACT.md from what the workers wrote, without a key."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from backend.catalogue import get_catalogue
from backend.clock import utcnow
from backend.db.engine import Database
from backend.db.models import LineDisruption, LineStation, Station
from backend.tests.api import seed


async def test_meta_describes_the_deployment(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/meta")
    assert response.status_code == 200
    assert response.json() == {
        "demo_mode": False,
        "bus": "database",
        "version": "0.1.0",
        "scheduler_interval_seconds": 120.0,
        "stale_after_seconds": 180.0,
        "prim_configured": False,
        "sources": ["prim", "ratp_http", "vmtr"],
    }


async def test_lines_are_grouped_by_network_in_catalogue_order_with_colours(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/lines")).json()
    assert [network["network"] for network in body["networks"]] == ["metro", "rer", "tram", "bus"]
    assert [network["label"] for network in body["networks"]][:2] == ["Métro", "RER"]
    metro = body["networks"][0]["lines"]
    assert [line["code"] for line in metro][:5] == ["1", "2", "3", "3bis", "4"]
    first = metro[0]
    assert first["id"] == "metro:1"
    assert first["colour"] == "#FFCD00"
    assert first["text_colour"] == "#000000"
    assert first["traffic"] is None
    assert first["freshness"]["status"] == "never"
    assert first["freshness"]["stale"] is True
    total = sum(len(network["lines"]) for network in body["networks"])
    assert total == len(get_catalogue().lines)


async def test_lines_carry_traffic_and_freshness(client: httpx.AsyncClient, db: Database) -> None:
    await seed.add(
        db,
        seed.traffic("metro:1", "disrupted", "Trafic perturbé entre Nation et Bérault"),
        seed.snapshot("metro:1", success_age_seconds=30),
        seed.snapshot(
            "metro:2", status="failed", reason="upstream_error", success_age_seconds=3600, error="prim: HTTP 503"
        ),
        seed.snapshot("metro:3", status="no_data", success_age_seconds=20),
        seed.snapshot("metro:4", status="ok", success_age_seconds=200),
    )
    lines = {
        line["id"]: line for network in (await client.get("/api/lines")).json()["networks"] for line in network["lines"]
    }
    assert lines["metro:1"]["traffic"]["level"] == "disrupted"
    assert lines["metro:1"]["traffic"]["message"] == "Trafic perturbé entre Nation et Bérault"
    fresh = lines["metro:1"]["freshness"]
    assert fresh["status"] == "ok"
    assert fresh["stale"] is False
    assert 29 <= fresh["age_seconds"] <= 40
    failed = lines["metro:2"]["freshness"]
    assert failed["status"] == "failed"
    assert failed["reason"] == "upstream_error"
    assert failed["stale"] is True  # an hour is more than 1.5 scheduler intervals of 120 s
    assert "error" not in failed  # the technical cause is for operators (GET /api/system/lines)
    answered_empty = lines["metro:3"]["freshness"]
    assert answered_empty["status"] == "no_data"
    assert answered_empty["stale"] is False
    old = lines["metro:4"]["freshness"]
    assert (old["status"], old["reason"], old["stale"]) == ("stale", "not_fetched", True)  # 200 s > 180 s
    summary = (await client.get("/api/lines")).json()["summary"]
    assert summary["lines_total"] == 4
    assert summary["lines_live"] == 1
    assert (summary["lines_failed"], summary["lines_stale"], summary["lines_no_data"]) == (1, 1, 1)


async def test_line_reference_is_case_insensitive_with_the_usual_aliases(client: httpx.AsyncClient) -> None:
    for network, code, line_id in [
        ("metro", "1", "metro:1"),
        ("METRO", "01", "metro:1"),
        ("metro", "3B", "metro:3bis"),
        ("rer", "a", "rer:A"),
    ]:
        response = await client.get(f"/api/lines/{network}/{code}")
        assert response.status_code == 200, (network, code)
        assert response.json()["line"]["id"] == line_id


async def test_unknown_line_is_a_404_with_a_message(client: httpx.AsyncClient) -> None:
    for path in ["/api/lines/metro/99", "/api/lines/boat/1", "/api/lines/rer/Z"]:
        response = await client.get(path)
        assert response.status_code == 404, path
        assert "unknown" in response.json()["detail"]


async def test_line_detail_orders_stations_and_keeps_the_next_four_departures_per_direction(
    client: httpx.AsyncClient, db: Database
) -> None:
    now = utcnow()
    await seed.add(
        db,
        # Six departures towards Château de Vincennes at Châtelet (one already gone), shuffled.
        *[
            seed.departure("metro:1", "chatelet", "A", minutes, destination="Château de Vincennes", now=now)
            for minutes in (7, 1, 12, -5, 3, 20)
        ],
        seed.departure("metro:1", "chatelet", "R", 2, destination="La Défense", now=now),
        # Another line at the same station must not appear on metro 1's board.
        seed.departure("metro:4", "chatelet", "A", 1, destination="Bagneux", now=now),
        seed.vehicle(
            "metro:1", "MF01-12", "A", previous_station_id="louvre-rivoli", next_station_id="chatelet", progress=0.4
        ),
        seed.snapshot(
            "metro:1",
            attempts=[
                {"source": "prim", "ok": True, "error": None, "duration_ms": 812.5, "requests": 25, "items": 180},
                {
                    "source": "vmtr",
                    "ok": False,
                    "error": "socket closed",
                    "duration_ms": 6000,
                    "requests": 1,
                    "items": 0,
                },
            ],
        ),
    )
    response = await client.get("/api/lines/metro/1")
    assert response.status_code == 200
    body = response.json()
    assert [d["direction"] for d in body["directions"]] == ["A", "R"]
    towards_vincennes = body["directions"][0]
    assert towards_vincennes["terminus"] == "Château de Vincennes"
    stations = towards_vincennes["branches"][0]["stations"]
    expected = [place.station.id for place in get_catalogue().stations_for("metro:1") if place.direction == "A"]
    assert [station["station_id"] for station in stations] == expected
    assert [station["position"] for station in stations] == list(range(len(expected)))
    chatelet = next(station for station in stations if station["station_id"] == "chatelet")
    minutes = [
        round((datetime.fromisoformat(d["expected_at"]) - now).total_seconds() / 60) for d in chatelet["departures"]
    ]
    assert minutes == [1, 3, 7, 12]
    assert {d["line_id"] for d in chatelet["departures"]} == {"metro:1"}
    reverse = next(s for s in body["directions"][1]["branches"][0]["stations"] if s["station_id"] == "chatelet")
    assert [d["destination"] for d in reverse["departures"]] == ["La Défense"]
    assert body["vehicles"] == [
        {
            "vehicle_id": "MF01-12",
            "direction": "A",
            "previous_station_id": "louvre-rivoli",
            "next_station_id": "chatelet",
            "progress": 0.4,
            "stop_status": "in_transit",
            "recorded_at": body["vehicles"][0]["recorded_at"],
        }
    ]
    assert "attempts" not in body  # technical detail: GET /api/system/lines
    assert chatelet["freshness"]["status"] == "never"  # no board row: never fetched


async def test_branched_line_lists_each_branch_and_every_terminus(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/lines/rer/A")).json()
    towards_east = body["directions"][0]
    assert [branch["branch"] for branch in towards_east["branches"]] == [0, 1, 2]
    assert " / " in towards_east["terminus"]


async def test_line_without_stations_has_no_directions(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/lines/bus/38")).json()
    assert body["line"]["id"] == "bus:38"
    assert body["directions"] == []


async def test_bus_stops_fetched_at_run_time_are_shown(client: httpx.AsyncClient, db: Database) -> None:
    await seed.add(db, Station(id="bus-stop-a", name="Arrêt A", search_name="arret a", town=None, lat=None, lon=None))
    await seed.add(
        db,
        LineStation(line_id="bus:38", direction="A", branch=0, position=0, station_id="bus-stop-a", source="prim"),
        seed.departure("bus:38", "bus-stop-a", "A", 4, destination="Porte d'Orléans"),
    )
    body = (await client.get("/api/lines/bus/38")).json()
    station = body["directions"][0]["branches"][0]["stations"][0]
    assert station["name"] == "Arrêt A"
    assert station["departures"][0]["destination"] == "Porte d'Orléans"


async def test_station_search_ignores_accents_case_and_punctuation(client: httpx.AsyncClient) -> None:
    for query, expected_first in [
        ("chatel", "chatelet"),
        ("CHÂTELET", "chatelet"),
        ("châtelet les halles", "chatelet-les-halles"),
        ("hotel de ville", "hotel-de-ville"),
        ("etoile", "charles-de-gaulle-etoile"),
        ("gare-de-l'est", "gare-de-l-est"),
    ]:
        response = await client.get("/api/stations/search", params={"q": query})
        assert response.status_code == 200
        assert response.json()[0]["station_id"] == expected_first, query


async def test_station_search_lists_the_lines_of_each_match(client: httpx.AsyncClient) -> None:
    matches = (await client.get("/api/stations/search", params={"q": "chatelet", "limit": 2})).json()
    assert len(matches) == 2
    chatelet = matches[0]
    assert chatelet["name"] == "Châtelet"
    assert {"metro:1", "metro:4", "metro:7", "metro:11", "metro:14"} <= {line["id"] for line in chatelet["lines"]}
    assert set(chatelet["lines"][0]) == {"id", "network", "code", "name", "colour", "text_colour"}


async def test_station_search_without_match_is_empty(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/stations/search", params={"q": "zzzqqq"})).json() == []


async def test_station_search_rejects_bad_input(client: httpx.AsyncClient) -> None:
    for params in [
        {},
        {"q": ""},
        {"q": " - "},
        {"q": "x" * 101},
        {"q": "a", "limit": 0},
        {"q": "a", "limit": 51},
        {"q": "a", "limit": "x"},
        {"q": "a", "limit": "9" * 5000},
        {"q": "a", "lim": 3},
    ]:
        response = await client.get("/api/stations/search", params=params)
        assert response.status_code == 422, params
        assert response.json()["message"]


async def test_station_detail_shows_every_line_and_their_next_departures(
    client: httpx.AsyncClient, db: Database
) -> None:
    now = utcnow()
    await seed.add(
        db,
        seed.departure("metro:4", "chatelet", "A", 5, now=now),
        seed.departure("metro:1", "chatelet", "A", 2, now=now),
        seed.departure("metro:1", "chatelet", "A", -3, now=now),  # gone more than a minute ago
        *[seed.departure("metro:1", "chatelet", "A", minutes, now=now) for minutes in (9, 8, 7, 6)],
        seed.snapshot("metro:1"),
    )
    response = await client.get("/api/stations/CHATELET")
    assert response.status_code == 200
    body = response.json()
    assert body["station"] == {"id": "chatelet", "name": "Châtelet", "town": "Paris"}
    assert "metro:1" in [line["id"] for line in body["lines"]]
    # At most 4 per line and direction, soonest first.
    assert [d["line_id"] for d in body["departures"]] == ["metro:1", "metro:4", "metro:1", "metro:1", "metro:1"]
    freshness = {row["line_id"]: row["freshness"]["status"] for row in body["freshness"]}
    assert freshness["metro:1"] == "ok"
    assert freshness["metro:4"] == "never"


async def test_unknown_station_is_a_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/stations/nowhere-at-all")
    assert response.status_code == 404
    assert "search" in response.json()["detail"]


async def test_freshness_lists_every_line(client: httpx.AsyncClient, db: Database) -> None:
    await seed.add(db, seed.snapshot("rer:A", status="partial", success_age_seconds=500))
    rows = (await client.get("/api/freshness")).json()
    assert len(rows) == len(get_catalogue().lines)
    rer_a = next(row for row in rows if row["line_id"] == "rer:A")["freshness"]
    assert rer_a["status"] == "stale"  # a partial refresh 500 s ago, and none since (500 s > 1.5 x 120 s)
    assert rer_a["stale"] is True


async def test_a_departure_whose_time_has_passed_is_never_listed(client: httpx.AsyncClient, db: Database) -> None:
    now = utcnow()
    await seed.add(
        db,
        seed.departure("metro:1", "nation", "A", 2, now=now, destination="Coming"),
        seed.departure("metro:1", "nation", "A", 0, now=now - timedelta(seconds=20), destination="Passed"),
        # Seen at the platform 30 s ago by an answer 10 s old: the train has not left yet.
        seed.departure(
            "metro:1",
            "nation",
            "A",
            -0.5,
            now=now,
            fetched_at=now - timedelta(seconds=10),
            vehicle_at_stop=True,
            status="at_platform",
            destination="At platform",
        ),
        # At the platform in an answer 5 minutes old: nothing says it is still there.
        seed.departure(
            "metro:1",
            "nation",
            "R",
            -0.5,
            now=now,
            fetched_at=now - timedelta(minutes=5),
            vehicle_at_stop=True,
            destination="Old platform",
        ),
    )
    body = (await client.get("/api/lines/metro/1")).json()
    nation = next(s for s in body["directions"][0]["branches"][0]["stations"] if s["station_id"] == "nation")
    assert [d["destination"] for d in nation["departures"]] == ["At platform", "Coming"]
    reverse = next(s for s in body["directions"][1]["branches"][0]["stations"] if s["station_id"] == "nation")
    assert reverse["departures"] == []
    station = (await client.get("/api/stations/nation")).json()
    assert "Passed" not in {d["destination"] for d in station["departures"]}
    assert "Old platform" not in {d["destination"] for d in station["departures"]}


async def test_public_endpoints_need_no_key(client: httpx.AsyncClient) -> None:
    for path in ("/api/meta", "/api/lines", "/api/lines/metro/1", "/api/stations/search?q=nation", "/api/freshness"):
        assert (await client.get(path)).status_code == 200, path


async def test_nearest_stations_by_straight_line_with_walking_time(client: httpx.AsyncClient) -> None:
    # 40 m east of Châtelet's shipped point (the catalogue's coordinates, from IDFM's emplacement-des-gares-idf).
    chatelet = get_catalogue().station("chatelet")
    assert chatelet.lat is not None
    assert chatelet.lon is not None
    response = await client.get(
        "/api/stations/near", params={"lat": chatelet.lat, "lon": chatelet.lon + 0.00055, "limit": 3}
    )
    assert response.status_code == 200
    body = response.json()
    assert len(body) == 3
    assert body[0]["station_id"] == "chatelet"
    assert 30 <= body[0]["distance_m"] <= 50
    assert body[0]["walking_minutes"] == 1
    assert [s["distance_m"] for s in body] == sorted(s["distance_m"] for s in body)
    assert "metro:1" in {line["id"] for line in body[0]["lines"]}
    far = body[-1]
    assert far["walking_minutes"] * 75 >= far["distance_m"]


async def test_nearest_stations_refuse_bad_or_far_points_with_a_message(client: httpx.AsyncClient) -> None:
    for params, words in [
        ({"lat": "91", "lon": "2.35"}, "less than or equal to 90"),
        ({"lat": "abc", "lon": "2.35"}, "valid number"),
        ({"lon": "2.35"}, "Field required"),
        ({"lat": "45.76", "lon": "4.83"}, "outside the area the network serves"),  # Lyon
        ({"lat": "48.85", "lon": "2.35", "limit": "0"}, "greater than or equal to 1"),
        ({"lat": "48.85", "lon": "2.35", "radius": "5"}, "unknown query parameter"),
    ]:
        response = await client.get("/api/stations/near", params=params)
        assert response.status_code == 422, params
        assert words in response.text, (params, response.text)


def _disruption(line_id: str, disruption_id: str, *periods: tuple[datetime, datetime], **extra: str) -> LineDisruption:
    return LineDisruption(
        line_id=line_id,
        disruption_id=disruption_id,
        severity=extra.pop("severity", "BLOQUANTE"),
        cause="TRAVAUX",
        title="Métro 1 : Travaux",
        short_message=extra.pop("short_message", "Trafic interrompu"),
        message="En raison de travaux, le trafic est interrompu.",
        periods=[{"begin": begin.isoformat(), "end": end.isoformat()} for begin, end in periods],
        sections=[{"from": "Château de Vincennes", "to": "Nation"}],
        whole_line=False,
        last_update_at=utcnow() - timedelta(hours=2),
        fetched_at=utcnow(),
        **extra,
    )


async def test_a_line_shows_its_current_and_coming_disruptions_and_never_an_ended_one(
    client: httpx.AsyncClient, db: Database
) -> None:
    now = utcnow()
    hour = timedelta(hours=1)
    await seed.add(
        db,
        _disruption("metro:1", "coming", (now + 3 * hour, now + 4 * hour), severity="PERTURBEE"),
        _disruption("metro:1", "info", (now - hour, now + 9 * hour), severity="INFORMATION"),
        _disruption("metro:1", "now", (now - 2 * hour, now - hour), (now - hour / 2, now + hour)),
        _disruption("metro:1", "ended", (now - 3 * hour, now - hour)),  # still listed by PRIM for about an hour
    )
    body = (await client.get("/api/lines/metro/1")).json()
    assert [d["id"] for d in body["disruptions"]] == ["now", "info", "coming"]
    current, info, coming = body["disruptions"]
    assert current["severity"] == "blocking"
    assert current["current"] is True
    # The period holding now, and only the periods not ended.
    assert datetime.fromisoformat(current["period"]["begin"]) == now - hour / 2
    assert len(current["periods"]) == 1
    assert current["sections"] == [{"from_name": "Château de Vincennes", "to_name": "Nation"}]
    assert current["short_message"] == "Trafic interrompu"
    assert info["severity"] == "information"
    assert coming["current"] is False
    assert coming["severity"] == "disturbed"
    assert datetime.fromisoformat(coming["period"]["begin"]) == now + 3 * hour
    # Another line's disruptions are its own.
    assert (await client.get("/api/lines/metro/2")).json()["disruptions"] == []
