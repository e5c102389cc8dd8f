"""Development tools: the stub upstream that replays PRIM, ratp.fr and the vehicle socket on loopback.

Used by tests, benchmarks and demo mode (`DEMO_MODE`), never by a real run. May import any part of the backend;
nothing in the backend's processes imports it.
"""
