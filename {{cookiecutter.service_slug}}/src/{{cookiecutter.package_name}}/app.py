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
from .database.session import SessionPool, open_session_pool
from .errors import ServiceError
from .migrator.runner import pending_migrations


def create_app(settings: Settings, pool: SessionPool | None = None) -> FastAPI:
    """The app; `pool`, when given, is already open (see open_app_pool)."""
    opened_here = pool is None
    if pool is None:
        pool = new_pool(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if opened_here:
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
        return readiness(pool, timeout=settings.ready_timeout)

    return app


def new_pool(settings: Settings) -> SessionPool:
    return open_session_pool(settings.database, min_size=settings.pool_min, max_size=settings.pool_max)


def open_app_pool(settings: Settings) -> SessionPool:
    """The app's pool, opened before the web server starts: a pool that cannot
    fill is then one line from the command, not a traceback from the server's
    startup hook."""
    pool = new_pool(settings)
    pool.open(wait=settings.connect_timeout)
    return pool


def readiness(pool: SessionPool, *, timeout: float) -> JSONResponse:
    """The answer within about `timeout` seconds (READY_TIMEOUT): a probe that
    hangs on a database that is down tells the load balancer nothing."""
    try:
        with pool.session(timeout=timeout) as session:
            pending = pending_migrations(session)
    except (ServiceError, OSError) as error:
        return JSONResponse({"status": "unavailable", "reason": str(error)}, status_code=503)
    except Exception as error:  # noqa: BLE001 - any driver error means "not ready"
        reason = f"database error: {type(error).__name__}"
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
    if pending:
        return JSONResponse({"status": "migrations pending", "pending": pending}, status_code=503)
    return JSONResponse({"status": "ready"})
