"""ConnectWise's error body: `{"code", "message", "errors": [{code, message, resource, field}]}`."""

from __future__ import annotations

from typing import Any


class CwError(Exception):
    """An API error with ConnectWise's status, code and message."""

    def __init__(self, status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors or []

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body


def invalid(resource: str, field: str, message: str, code: str = "InvalidField") -> CwError:
    """A 400 for one bad field, naming it and the reason."""
    return CwError(
        400,
        "InvalidObject",
        f"{resource} object is invalid",
        [{"code": code, "message": message, "resource": resource, "field": field}],
    )


def missing(resource: str, field: str) -> CwError:
    return invalid(resource, field, f"{field} is required", "MissingRequiredField")


def not_found(resource: str, record_id: Any) -> CwError:
    return CwError(404, "NotFound", f"{resource} with id {record_id} not found")


def bad_request(message: str) -> CwError:
    return CwError(400, "InvalidObject", message)
