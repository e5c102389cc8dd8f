"""ASGI entry point of the API: `uvicorn backend.main:app` (or `python -m backend.api`)."""

from backend.api.app import create_app

app = create_app()
