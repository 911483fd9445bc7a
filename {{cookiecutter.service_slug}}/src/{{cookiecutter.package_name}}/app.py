"""The web app: liveness and readiness endpoints over the service's database.

Build it with `create_app(settings)`: nothing connects at import time. The
startup runner (startup.py) has migrated before the server starts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from .config import Settings
from .db.runner import pending_migrations
from .db.session import SessionPool, open_session_pool
from .errors import ServiceError


def create_app(settings: Settings) -> FastAPI:
    pool = open_session_pool(settings.database, min_size=settings.pool_min, max_size=settings.pool_max)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool.open(wait=settings.connect_timeout)
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(title="{{ cookiecutter.service_name }}", lifespan=lifespan)

    @app.get("/health")
    def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready")
    def ready() -> JSONResponse:
        """Readiness: the database answers and no migration is pending."""
        return readiness(pool)

    return app


def readiness(pool: SessionPool) -> JSONResponse:
    try:
        with pool.session() as session:
            pending = pending_migrations(session)
    except (ServiceError, OSError) as error:
        return JSONResponse({"status": "unavailable", "reason": str(error)}, status_code=503)
    except Exception as error:  # noqa: BLE001 - any driver error means "not ready"
        reason = f"database error: {type(error).__name__}"
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
    if pending:
        return JSONResponse({"status": "migrations pending", "pending": pending}, status_code=503)
    return JSONResponse({"status": "ready"})
