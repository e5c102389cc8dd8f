"""Database: engines, the data model and its migrations.

May import: backend.config, backend.clock, backend.vocabulary. Imported by every process; imports no other backend
package (checked by `lint-imports`).
"""

from backend.db.engine import Database, create_engine, is_sqlite
from backend.db.migrate import SchemaNotReadyError, upgrade_database, wait_for_schema

__all__ = ["Database", "SchemaNotReadyError", "create_engine", "is_sqlite", "upgrade_database", "wait_for_schema"]
