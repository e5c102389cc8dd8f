"""The task bus between scheduler and workers: Kafka, or the database-backed queue when no broker is configured.

May import: backend.config, backend.catalogue (checked by `lint-imports`, see backend/pyproject.toml).
The database-backed queue is not here: it is the `task_runs` table itself (`backend.tasks.repository` claims with
`claim_next`, `workers/database_loop.py` polls it); Kafka only carries "look at task X".
"""
