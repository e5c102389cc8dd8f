"""The API's routers: `public` (no key), `system` and `logs` (X-API-Key). Thin: validate, call a query or service,
shape the response."""
