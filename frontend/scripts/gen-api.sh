#!/bin/sh
# Regenerates the typed API client's types from the backend's OpenAPI schema:
#   backend (python -m backend.api.openapi) -> lib/api/openapi.json -> openapi-typescript -> lib/api/schema.d.ts
# Both outputs are committed so `npm run type-check` and `npm run build` work without Python.
set -eu
cd "$(dirname "$0")/.."
frontend_dir=$(pwd)
python_bin=${BACKEND_PYTHON:-venv/bin/python}
tmp=$(mktemp "${TMPDIR:-/tmp}/openapi.XXXXXX.json")
trap 'rm -f "$tmp"' EXIT

# Written to a temporary file first so a failing export never truncates the committed schema.
(cd ../backend && PYTHONPATH=.. "$python_bin" -m backend.api.openapi) > "$tmp"
node -e 'const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); if (!s.openapi || !s.paths) { console.error("not an OpenAPI document"); process.exit(1); }' "$tmp"
cp "$tmp" "$frontend_dir/lib/api/openapi.json"
npx --no-install openapi-typescript lib/api/openapi.json -o lib/api/schema.d.ts
node scripts/gen-vocabulary.mjs lib/api/openapi.json lib/api/vocabulary.ts
