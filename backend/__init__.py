"""RATP Live Tracker backend: API, scheduler, workers and their shared domain code."""
