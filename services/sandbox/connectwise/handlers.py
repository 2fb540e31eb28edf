"""Shared request handling: JSON out (rendered here: FastAPI's generic encoder is
far slower on 1,000-record pages and knows neither Decimal money nor
ConnectWise's datetime format), JSON in, ids, and the list/count/get routes."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response

from .conditions import lookup
from .errors import bad_request, not_found
from .query import canonical_fields, cut_page, link_header, parse_list_query, project, select
from .render import to_json
from .state import CwState
from .store import Record

JSON = "application/json; charset=utf-8"
Parent = tuple[tuple[str, ...], int]  # (path in the child, parent id)


def respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(to_json(body), status, headers=headers, media_type=JSON)


async def read_body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        raise bad_request("the request body is not valid JSON") from None


def parse_id(raw: str, resource: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise not_found(resource, raw) from None


def _children(rows: list[Record], parent: Parent | None) -> list[Record]:
    if parent is None:
        return rows
    path, value = parent
    return [row for row in rows if lookup(row, path) == value]


def list_response(request: Request, state: CwState, name: str, parent: Parent | None = None) -> Response:
    query = parse_list_query(request.query_params, request.headers)
    with state.lock:
        collection = state.c[name]
        page = cut_page(_children(select(collection, query), parent), query)
        fields = canonical_fields(collection, query.fields)
        if fields:
            body = to_json([project(row, fields) for row in page.rows])
        else:
            body = b"[" + b",".join(collection.json_of(row, to_json) for row in page.rows) + b"]"
    headers = {}
    if page.links:
        headers["Link"] = link_header(str(request.url.replace(query="")), dict(request.query_params), page.links)
    return Response(body, 200, headers=headers, media_type=JSON)


def count_response(request: Request, state: CwState, name: str, parent: Parent | None = None) -> Response:
    query = parse_list_query(request.query_params, request.headers)
    with state.lock:
        return respond({"count": len(_children(select(state.c[name], query), parent))})


def one_response(
    request: Request, state: CwState, name: str, raw_id: str, resource: str, parent: Parent | None = None
) -> Response:
    query = parse_list_query(request.query_params, request.headers)
    with state.lock:
        record = state.require(name, parse_id(raw_id, resource), resource)
        if parent is not None and lookup(record, parent[0]) != parent[1]:
            raise not_found(resource, raw_id)
        if query.fields:
            return respond(project(record, canonical_fields(state.c[name], query.fields)))
        return Response(state.c[name].json_of(record, to_json), 200, media_type=JSON)


def read_routes(router: APIRouter, state: CwState, path: str, name: str, resource: str) -> None:
    """GET list, /count and /{id} for one top-level resource."""

    async def list_all(request: Request) -> Response:
        return list_response(request, state, name)

    async def count(request: Request) -> Response:
        return count_response(request, state, name)

    async def one(request: Request, record_id: str) -> Response:
        return one_response(request, state, name, record_id, resource)

    router.add_api_route(path, list_all, methods=["GET"])
    router.add_api_route(f"{path}/count", count, methods=["GET"])
    router.add_api_route(f"{path}/{{record_id}}", one, methods=["GET"])
