"""Centralized structured logging: one setup for every process, the `system_logs` sink, and the log search.

- `setup.configure_logging(settings, service)`: stdout lines plus the database sink, called once per process.
- `sink`: the logging handler and its background writer (bounded queue, batches, drops counted, never blocks).
- `context`: the request id and other per-task fields merged into every record (contextvars).
- `repository`: reading logs back (filters, text search, keyset paging, the live tail).
- `retention`: deleting old logs and finished task runs.

May import: backend.config, backend.db. Imported by every process's entry point and by backend.api.
"""

from backend.logs.context import bind_log_context, current_request_id
from backend.logs.setup import CentralizedLogging, configure_logging

__all__ = ["CentralizedLogging", "bind_log_context", "configure_logging", "current_request_id"]
