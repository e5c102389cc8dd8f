"""Tests of the stub upstream: real shapes for every line, faults, admin endpoints, command line."""
