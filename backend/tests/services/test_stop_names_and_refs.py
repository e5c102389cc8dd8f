"""Finding catalogue stations from upstream names (accents, punctuation, official long names) and the stop areas
the catalogue ships for PRIM."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pytest

from backend.catalogue import Catalogue, LineStation, Station
from backend.services.stop_refs import StopRef, StopRefRegistry, shipped_stop_refs
from backend.services.topology import LineTopology


def topology_of(catalogue: Catalogue, line_id: str) -> LineTopology:
    return LineTopology(line_id, catalogue.stations_for(line_id))


@pytest.mark.parametrize(
    ("line_id", "upstream_name", "station_id"),
    [
        # Official long names from IDFM's reference, as Navitia and SIRI give them.
        ("tram:T3b", "Porte d'Asnières - Marguerite Long", "marguerite-long"),
        ("tram:T3b", "Porte d\u2019Asnières \u2013 Marguerite Long", "marguerite-long"),  # curly quote, en dash
        ("tram:T3b", "PORTE D'ASNIERES MARGUERITE LONG", "marguerite-long"),
        ("metro:14", "Porte de Clichy - Tribunal de Paris", "porte-de-clichy"),
        ("metro:13", "Porte de Clichy - Tribunal de Paris", "porte-de-clichy"),
        ("tram:T3b", "Porte de Clichy - Tribunal de Paris", "porte-de-clichy"),
        ("tram:T3b", "Ella Fitzgerald", "ella-fitzgerald-grands-moulins-de-pantin"),
        ("tram:T7", "Porte de l'Essonne", "athis-mons-porte-de-l-essonne"),
        # Accents, case and punctuation.
        ("metro:1", "CHATEAU DE VINCENNES", "chateau-de-vincennes"),
        ("metro:1", "Château-de-Vincennes", "chateau-de-vincennes"),
        ("metro:1", "Palais Royal - Musée du Louvre", "palais-royal-musee-du-louvre"),
        ("metro:1", "La Défense (Grande Arche)", "la-defense"),
        # SNCF feeds put "Gare de" before the name; a station really called "Gare de ..." keeps it.
        ("rer:C", "Gare de Pontoise", "pontoise"),
        ("rer:C", "Gare d'Austerlitz", "gare-d-austerlitz"),
        ("rer:A", "Gare de Lyon", "gare-de-lyon"),
        ("rer:D", "Gare du Nord", "gare-du-nord"),
    ],
)
def test_upstream_names_find_their_station(
    catalogue: Catalogue, line_id: str, upstream_name: str, station_id: str
) -> None:
    assert topology_of(catalogue, line_id).station_for_name(upstream_name) == station_id


def test_names_of_stations_not_on_the_line_find_nothing(catalogue: Catalogue) -> None:
    topology = topology_of(catalogue, "metro:1")
    assert topology.station_for_name("Porte d'Asnières - Marguerite Long") is None
    assert topology.station_for_name("") is None
    assert topology.station_for_name("Atlantis") is None


def test_a_stations_own_name_wins_over_another_stations_alias() -> None:
    gare = Station(id="gare-de-l-est", name="Gare de l'Est", town="Paris")
    landon = Station(id="chateau-landon", name="Château-Landon", town="Paris", aliases=("Gare de l'Est",))
    stops = [
        LineStation(line_id="metro:7", direction="A", branch=0, position=index, station=station)
        for index, station in enumerate((landon, gare))
    ]
    topology = LineTopology("metro:7", stops)
    assert topology.station_for_name("Gare de l'Est") == "gare-de-l-est"
    assert topology.station_for_name("Château Landon") == "chateau-landon"


def test_direction_follows_a_terminus_named_by_its_long_name(catalogue: Catalogue) -> None:
    topology = topology_of(catalogue, "tram:T3b")
    route = catalogue.routes_for("tram:T3b")[0]
    towards_end = (
        "A" if route.station_ids.index("marguerite-long") > route.station_ids.index("porte-de-clichy") else "R"
    )
    assert topology.direction_for_destination("porte-de-clichy", "Porte d'Asnières - Marguerite Long") == towards_end


def test_shipped_stop_refs_give_the_catalogues_zda_ids(catalogue: Catalogue) -> None:
    refs = {ref.station_id: ref for ref in shipped_stop_refs(catalogue, "tram:T3b")}

    assert refs["marguerite-long"] == StopRef(
        station_id="marguerite-long", upstream_name="Marguerite Long", stop_area_id="45496", source="catalogue"
    )
    shipped = catalogue.stop_areas("tram:T3b")
    assert set(refs) == {station_id for station_id, ids in shipped.items() if ids.zda_id}
    assert all(ref.stop_area_id == shipped[ref.station_id].zda_id for ref in refs.values())


def test_shipped_stop_refs_follow_line_order_and_skip_stations_without_a_zda(catalogue: Catalogue) -> None:
    refs = shipped_stop_refs(catalogue, "tram:T1")
    order = list(dict.fromkeys(stop.station.id for stop in catalogue.stations_for("tram:T1")))

    assert [ref.station_id for ref in refs] == [
        station_id for station_id in order if station_id in {r.station_id for r in refs}
    ]
    # IDFM's reference gives T1 at Basilique de Saint-Denis metro 13's ZdA: only its ZdC is shipped.
    assert catalogue.stop_areas("tram:T1")["basilique-de-saint-denis"].zda_id is None
    assert "basilique-de-saint-denis" not in {ref.station_id for ref in refs}
    assert {ref.source for ref in refs} == {"catalogue"}


def test_shipped_stop_refs_of_a_bus_line_are_empty(catalogue: Catalogue) -> None:
    assert shipped_stop_refs(catalogue, "bus:38") == []


def test_shipped_refs_seed_the_registry(catalogue: Catalogue) -> None:
    registry = StopRefRegistry()
    registry.merge("tram:T3b", shipped_stop_refs(catalogue, "tram:T3b"))
    assert registry.for_line("tram:T3b")["marguerite-long"].stop_area_id == "45496"


def test_what_one_process_learnt_is_what_another_loads_and_a_refused_id_is_corrected(catalogue: Catalogue) -> None:
    now = [datetime(2026, 12, 6, 12, 0, tzinfo=UTC)]
    shipped = {"tram:T3a": {ref.station_id: asdict(ref) for ref in shipped_stop_refs(catalogue, "tram:T3a")}}
    first = StopRefRegistry(refresh_after=timedelta(days=7), clock=lambda: now[0])
    first.load(shipped)
    assert first.changes("tram:T3a") is None  # the catalogue's own ids are not the database's to keep
    found = StopRef(station_id="balard", upstream_name="Balard", stop_area_id="71999", source="prim")
    first.merge("tram:T3a", [found], looked_up="prim:stop_areas")
    learnt = first.changes("tram:T3a")
    assert learnt is not None
    assert learnt.refs == (found,)
    assert learnt.looked_up == {"prim:stop_areas": now[0]}
    assert first.changes("tram:T3a") is None  # handed over once

    second = StopRefRegistry(refresh_after=timedelta(days=7), clock=lambda: now[0])
    second.load(shipped)
    second.load_line(learnt)
    assert second.for_line("tram:T3a")["balard"].stop_area_id == "71999"
    assert second.looked_up("tram:T3a", "prim:stop_areas")
    assert second.changes("tram:T3a") is None  # loaded, not learnt: nothing to write back

    # PRIM says it does not know the id: forgotten at once (and written), looked up again once the look-up that
    # named it is an hour old; a week-old look-up is made again whatever happened.
    second.clear_stop_areas("tram:T3a", ["balard"], look_up="prim:stop_areas")
    corrected = second.changes("tram:T3a")
    assert corrected is not None
    assert [ref.stop_area_id for ref in corrected.refs if ref.station_id == "balard"] == [None]
    assert second.looked_up("tram:T3a", "prim:stop_areas")
    now[0] += timedelta(hours=2)
    second.clear_stop_areas("tram:T3a", ["desnouettes"], look_up="prim:stop_areas")  # a shipped id, refused
    assert not second.looked_up("tram:T3a", "prim:stop_areas")
    assert first.looked_up("tram:T3a", "prim:stop_areas")
    now[0] += timedelta(days=7)
    assert not first.looked_up("tram:T3a", "prim:stop_areas")
