"""Test support: real services (PostgreSQL, Kafka) and helpers shared by the test suites."""
