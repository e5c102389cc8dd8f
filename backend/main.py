"""ASGI entry point of the API: `uvicorn backend.main:app` (as serve.sh, the Dockerfile and Compose run it)."""

from backend.api.app import create_app

app = create_app()
