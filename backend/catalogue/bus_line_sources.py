"""Rebuilds `data/bus_lines.csv` (IDFM line id and web colours of each bus line) from two snapshots of IDFM's line
reference, so the shipped ids and colours can be checked and refreshed rather than trusted (provenance:
`data/README.md`).

    python -m backend.catalogue.bus_line_sources REFERENTIEL_NEWER.js REFERENTIEL_OLDER.js [--check]

Each input is a copy of IDFM's `referentiel-des-lignes` (one object per line with `id_line`, `shortname_line`,
`transportmode`, `transportsubmode`, `operatorname`, `colourweb_hexa`, `textcolourweb_hexa`), as JSON or as the
JavaScript module that wraps it in the repository named in the README. Nothing here touches the network; `--check`
reports whether the shipped file already says what the inputs say, without writing.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.catalogue.colours import readable_text_colour
from backend.catalogue.loader import BUS_COLUMNS, DATA_DIR
from backend.catalogue.stop_area_sources import check_or_write

# Keys of the provenance table in data/README.md; a row of bus_lines.csv names one of them.
AGREED = "agreed-2"  # both snapshots give the line the same id and colour
NEWER_ONLY = "newer"  # the snapshots differ (or only the newer lists it): the newer one is shipped
RATP = "RATP"
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


@dataclass(frozen=True)
class ReferenceLine:
    idfm_line_id: str
    code: str
    submode: str | None
    operator: str | None
    colour: str
    text_colour: str


def read_reference(path: Path) -> list[ReferenceLine]:
    """The bus lines of one `referentiel-des-lignes` snapshot (JSON, or the JS module holding the JSON array)."""
    text = path.read_text(encoding="utf-8")
    start = text.index("[")
    end = text.find("export function", start)
    array = text[start : end if end > 0 else len(text)]
    rows: list[dict[str, Any]] = json.loads(_TRAILING_COMMA.sub(r"\1", array[: array.rindex("]") + 1]))
    return [
        ReferenceLine(
            idfm_line_id=row["id_line"],
            code=(row.get("shortname_line") or row.get("name_line") or "").strip(),
            submode=row.get("transportsubmode"),
            operator=row.get("operatorname"),
            colour=(row.get("colourweb_hexa") or "").upper(),
            text_colour=(row.get("textcolourweb_hexa") or "").upper(),
        )
        for row in rows
        if row.get("transportmode") == "bus" and row.get("id_line")
    ]


def match_line(code: str, reference: list[ReferenceLine]) -> ReferenceLine | None:
    """The reference line a catalogue bus code designates: RATP's line of that number for day buses; for Noctilien
    (N..) the one night bus of that number, whoever runs it (several operators share the Noctilien network)."""
    same_code = [line for line in reference if line.code == code]
    if code.startswith("N"):
        night = [line for line in same_code if line.submode in (None, "nightBus")]
        return night[0] if len(night) == 1 else None
    ratp = [line for line in same_code if line.operator == RATP]
    return ratp[0] if len(ratp) == 1 else None


def bus_line_rows(
    codes: dict[str, str], newer: list[ReferenceLine], older: list[ReferenceLine]
) -> tuple[list[tuple[str, ...]], list[str]]:
    """(rows of bus_lines.csv, codes of the catalogue's lines the newer snapshot does not list)."""
    rows: list[tuple[str, ...]] = []
    missing: list[str] = []
    for code, name in codes.items():
        found = match_line(code, newer)
        if found is None:
            missing.append(code)
            continue
        previous = match_line(code, older)
        same = previous is not None and (previous.idfm_line_id, previous.colour) == (found.idfm_line_id, found.colour)
        source = AGREED if same else NEWER_ONLY
        # The badge text is black or white, whichever reads better, as on the rail lines (IDFM gives white on its
        # red FF1400, a contrast of 3.9; black gives 5.3).
        text_colour = readable_text_colour(found.colour).lstrip("#")
        rows.append((code, name, found.idfm_line_id, found.colour, text_colour, found.operator or "", source))
    return rows, missing


def render_csv(rows: list[tuple[str, ...]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(BUS_COLUMNS)
    writer.writerows(rows)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("newer", type=Path, help="referentiel-des-lignes, newer snapshot")
    parser.add_argument("older", type=Path, help="referentiel-des-lignes, older snapshot")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--check", action="store_true", help="only say whether bus_lines.csv is up to date")
    args = parser.parse_args(argv)

    target = args.data_dir / "bus_lines.csv"
    with target.open(encoding="utf-8", newline="") as handle:
        codes = {row["code"]: row["name"] for row in csv.DictReader(handle)}
    rows, missing = bus_line_rows(codes, read_reference(args.newer), read_reference(args.older))
    text = render_csv(rows)
    if missing:
        print(f"not in the newer reference (left out): {', '.join(missing)}", file=sys.stderr)
    stale = check_or_write({target: text}, check=args.check)
    if args.check:
        return 1 if stale else 0
    agreed = sum(1 for row in rows if row[-1] == AGREED)
    print(f"{len(rows)} bus lines ({agreed} agreed by both snapshots), {len(missing)} left out; rewrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
