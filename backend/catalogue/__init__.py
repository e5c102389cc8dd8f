"""The line catalogue: every RATP-relevant line (metro, RER, tram, bus), its colours and IDFM id, and the ordered
stations of each rail line, read from the data files in `data/`.

Pure Python with no database or network access; it imports nothing from the rest of the backend, and every other
part (sources, scheduler, workers, API) may import it. Use `get_catalogue()` for the shared, cached instance.

It also ships the IDFM stop area ids of the rail lines' stations, taken from IDFM's stop reference data
(`data/stop_areas.csv`; provenance and dates in `data/README.md`).
"""

from backend.catalogue.catalogue import Catalogue, get_catalogue, load_catalogue, parse_line_list
from backend.catalogue.loader import Route
from backend.catalogue.models import CatalogueDataError, Line, LineStation, Station, StopAreaIds, UnknownLineError
from backend.catalogue.names import normalise_name

__all__ = [
    "Catalogue",
    "CatalogueDataError",
    "Line",
    "LineStation",
    "Route",
    "Station",
    "StopAreaIds",
    "UnknownLineError",
    "get_catalogue",
    "load_catalogue",
    "normalise_name",
    "parse_line_list",
]
