"""Workers: consume line-fetch tasks from the bus, fetch the line's live data, write it with the task's outcome.

`python -m backend.workers.worker` is one worker replica. May import: backend.config, backend.db, backend.bus,
backend.tasks, backend.registry, backend.budget, backend.catalogue, backend.services, backend.livedata,
backend.logs (checked by `lint-imports`, see backend/pyproject.toml).
"""
