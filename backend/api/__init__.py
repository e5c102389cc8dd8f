"""The HTTP API: app factory, routers (health, public, system) and their response models.

May import: backend.config, backend.db, backend.bus, backend.catalogue, backend.scaling, backend.logs.
Routers are thin: validate, call a repository or service, shape the response.
"""
