"""Live data for one line, from the real upstreams: departures, train positions, traffic status.

`live_data.LiveDataService.fetch_line(line)` is the workers' entry point; it tries the sources of `scrapers/` in
SOURCE_ORDER and returns the normalised records of `records`, with every upstream fault recorded as a
`SourceAttempt` instead of raised. This package reads `backend.config` and `backend.catalogue`; it knows nothing
of the database, the task bus or the API (the worker persists what it returns).
"""
