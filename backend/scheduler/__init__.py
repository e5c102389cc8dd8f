"""The scheduler: every SCHEDULER_INTERVAL_SECONDS it queues one line-fetch task per line, publishes queued tasks
to the bus (Kafka), and reaps what is stuck. `python -m backend.scheduler` runs it.

May import: backend.config, backend.db, backend.bus, backend.tasks, backend.registry, backend.budget,
backend.catalogue, backend.livedata, backend.logs; never backend.workers (checked by `lint-imports`).
"""
