"""Live data in the database: the lines, stations and boards the API serves.

- `catalogue_sync`: copies the line catalogue (lines, stations, their order on each line) into the database (the
  migrate step, `python -m backend.migrate`, is its only writer), and checks that it is there for the others.
- `queries`: the read side for the public API (lines with traffic and freshness, boards, station search).
- `repository`: the write side used by workers (departures, vehicle positions, traffic, line snapshots).

May import: backend.config, backend.db, backend.catalogue.
"""
