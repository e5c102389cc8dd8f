"""The Celery peer of scripts/bench_pipeline.py: Celery 5 on Redis, prefork, one Postgres INSERT per task.

Started by the benchmark as `celery -A celery_peer worker --pool prefork --concurrency N` with CELERY_PEER_BROKER
(redis://...) and CELERY_PEER_DSN (postgresql://...) in the environment; each worker process keeps one database
connection, as a Celery deployment would. Benchmark-only (backend/requirements-bench.txt).
"""

from __future__ import annotations

import os
from typing import Any

import psycopg
from celery import Celery
from celery.signals import worker_process_init

app = Celery("celery_peer", broker=os.environ.get("CELERY_PEER_BROKER", "redis://127.0.0.1:6379/0"))
app.conf.update(task_ignore_result=True, worker_hijack_root_logger=False, broker_connection_retry_on_startup=True)

_connection: dict[str, Any] = {}


@worker_process_init.connect
def _connect(**_: Any) -> None:
    _connection["db"] = psycopg.connect(os.environ["CELERY_PEER_DSN"], autocommit=True)


@app.task(name="celery_peer.record")
def record(task_id: str) -> None:
    """The no-op task's one write: its row."""
    _connection["db"].execute("INSERT INTO celery_peer_tasks (task_id, done_at) VALUES (%s, now())", (task_id,))
