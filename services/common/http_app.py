"""The pieces every FastAPI service shares: /healthz, /metrics, bearer auth, serving."""
from __future__ import annotations

import hmac
from typing import Annotated, Callable

from fastapi import Depends, FastAPI, HTTPException, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .health import HealthChecks


def add_health_routes(app: FastAPI, checks: HealthChecks) -> None:
    @app.get("/healthz", tags=["health"], summary="Health of the service and the parts it needs")
    def healthz(response: Response) -> dict:
        report = checks.report()
        if report["status"] != "ok":
            response.status_code = 503
        return report

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics", response_class=Response)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


_bearer = HTTPBearer(auto_error=False)


def bearer_auth(token: str) -> Callable:
    """A dependency that refuses any request without `Authorization: Bearer <token>`."""

    def require(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
        if credentials is None or not hmac.compare_digest(credentials.credentials.encode(), token.encode()):
            raise HTTPException(status_code=401, detail="missing or wrong bearer token",
                                headers={"WWW-Authenticate": "Bearer"})
        return "admin"

    return require


def serve(app: FastAPI, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=5)
