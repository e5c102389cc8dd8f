"""The HTTP API: app factory, routers (health, public, system) and their response models.

May import any domain package (tasks, registry, livedata, budget, bus, logs, scaling, catalogue, db, config);
of the scheduler only its refresh plan (`scheduler.planner`), never the workers (checked by `lint-imports`).
Routers are thin: validate, call a repository or service, shape the response.
"""
