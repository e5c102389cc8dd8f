"""One module per upstream: `prim` (IDFM PRIM), `ratp_http` (ratp.fr, behind Cloudflare), `vmtr` (vehicle socket).

Each turns its upstream's payloads into the normalised records of `backend.services.records`; payload parsing is
kept in pure functions so it can be tested on recorded shapes. Sources import `backend.catalogue` and
`backend.services` helpers only; `backend.services.live_data` is the one that combines them.
"""
