"""`python -m backend.api.openapi [--output FILE]`: print the API's OpenAPI schema (JSON), e.g. for the dashboard's
generated client (`frontend/lib/api`). Builds the app without starting it: no database or broker is touched."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from backend.api.app import create_app
from backend.config import get_settings


def openapi_schema() -> dict[str, Any]:
    # A stand-in key: exporting the schema must neither need the real one nor create the development key file.
    settings = get_settings().model_copy(update={"system_api_token": "openapi-export-only"})
    schema: dict[str, Any] = create_app(settings).openapi()
    return schema


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.api.openapi", description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, help="write to this file instead of stdout")
    args = parser.parse_args(argv)
    text = json.dumps(openapi_schema(), indent=2, ensure_ascii=False) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
