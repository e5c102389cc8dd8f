"""Tests of the live-data sources and service, against recorded payloads and the stub upstream on loopback."""
