"""System API authentication: the `X-API-Key` header, checked in constant time.

Two keys: `SYSTEM_API_TOKEN` may do everything; the optional `SYSTEM_API_READONLY_TOKEN` may only read.
A missing header is a 401, a wrong key a 403, the read-only key on a mutating endpoint a 403. The routers check the
key before anything else (a router-wide dependency), so an anonymous caller learns nothing of the parameters.
Logs name a key (`admin`, `read-only`), never any part of it.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader

from backend.config import Settings

logger = logging.getLogger("backend.api.security")

API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="The system API key")


class InsecureConfigurationError(RuntimeError):
    """The API must not start with this configuration (no real key outside development)."""


@dataclass(frozen=True)
class SystemKeys:
    admin: str
    readonly: str | None


@dataclass(frozen=True)
class Caller:
    role: Literal["admin", "readonly"]

    @property
    def label(self) -> str:
        """The key's name, for audit and rate-limit logs. Nothing of the key itself is ever logged: the logs are
        readable with the read-only key."""
        return "admin" if self.role == "admin" else "read-only"


def resolve_system_keys(settings: Settings) -> SystemKeys:
    """The keys the API accepts. Outside development a placeholder key refuses to start; in development a missing
    key is generated once and kept in DATA_DIR/system_api_token so it survives restarts."""
    readonly = settings.system_api_readonly_token.strip() or None
    if not settings.api_token_is_placeholder:
        return SystemKeys(admin=settings.effective_api_token.strip(), readonly=readonly)
    if settings.environment != "development":
        raise InsecureConfigurationError(
            "SYSTEM_API_TOKEN is empty or a placeholder; set a real secret (e.g. `python -c "
            "'import secrets; print(secrets.token_urlsafe(32))'`) before starting outside development"
        )
    key_file = settings.data_dir / "system_api_token"
    if key_file.exists() and key_file.read_text().strip():
        admin = key_file.read_text().strip()
    else:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        admin = secrets.token_urlsafe(32)
        key_file.write_text(admin + "\n")
        key_file.chmod(0o600)
    logger.warning("no SYSTEM_API_TOKEN set: using the development key stored in %s", key_file)
    return SystemKeys(admin=admin, readonly=readonly)


def _matches(given: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(given.encode(), expected.encode())


def _caller(request: Request, key: str | None) -> Caller:
    if not key:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing X-API-Key header: send the system API key (SYSTEM_API_TOKEN)",
            headers={"WWW-Authenticate": "APIKey"},
        )
    keys: SystemKeys = request.app.state.system_keys
    if _matches(key, keys.admin):
        return Caller(role="admin")
    if _matches(key, keys.readonly):
        return Caller(role="readonly")
    raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="invalid X-API-Key")


async def require_read_key(request: Request, key: Annotated[str | None, Depends(API_KEY_HEADER)]) -> Caller:
    """Any valid system key (admin or read-only)."""
    return _caller(request, key)


async def require_admin_key(request: Request, key: Annotated[str | None, Depends(API_KEY_HEADER)]) -> Caller:
    """The admin key: needed to scale workers or trigger the scheduler."""
    caller = _caller(request, key)
    if caller.role != "admin":
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="the read-only key cannot change the system")
    return caller


ReadCaller = Annotated[Caller, Depends(require_read_key)]
AdminCaller = Annotated[Caller, Depends(require_admin_key)]
