"""The task bus between scheduler and workers: Kafka, or the database-backed queue when no broker is configured.

May import: backend.config, backend.db.
"""
